"""An amendment's panels from the reviews app (included by ``reviews.urls``), which the specs
app's amendment page loads by name (``settings.AMENDMENT_PAGE_PANELS``): the cases that
motivated it (linking and unlinking one) and its discussion (posting and editing)."""

from django.urls import path

from reviews.views import amendment_cases as case_views
from reviews.views import amendment_threads as views

_amendment = "amendments/<int:amendment_id>/discussion/"
_cases = "amendments/<int:amendment_id>/cases/"

urlpatterns = [
    path(_amendment, views.amendment_thread_panel, name="amendment-thread-panel"),
    path(_amendment + "comments/", views.amendment_comment_create, name="amendment-comment-create"),
    path(
        _amendment + "comments/<int:comment_id>/edit/",
        views.amendment_comment_edit,
        name="amendment-comment-edit",
    ),
    path(_cases, case_views.amendment_cases_panel, name="amendment-cases-panel"),
    path(_cases + "link/", case_views.amendment_case_link, name="amendment-case-link"),
    path(
        _cases + "<int:case_id>/unlink/",
        case_views.amendment_case_unlink,
        name="amendment-case-unlink",
    ),
]
