"""The discussion of an amendment (included by ``reviews.urls``): the panel the specs app's
amendment page loads by name (``settings.AMENDMENT_PAGE_PANELS``), posting and editing."""

from django.urls import path

from reviews.views import amendment_threads as views

_amendment = "amendments/<int:amendment_id>/discussion/"

urlpatterns = [
    path(_amendment, views.amendment_thread_panel, name="amendment-thread-panel"),
    path(_amendment + "comments/", views.amendment_comment_create, name="amendment-comment-create"),
    path(
        _amendment + "comments/<int:comment_id>/edit/",
        views.amendment_comment_edit,
        name="amendment-comment-edit",
    ),
]
