"""Pages for disputes (included by ``reviews.urls``): a campaign's dispute queue, one
(item, clause) thread, its comments, revising one's own label there, and notifications."""

from django.urls import path

from reviews.views import disputes as views

_campaign = "campaigns/<int:campaign_id>/"
_thread = _campaign + "items/<int:item_id>/clauses/<str:clause_key>/thread/"

urlpatterns = [
    path(_campaign + "disputes/", views.dispute_list, name="dispute-list"),
    path(_thread, views.thread_detail, name="thread-detail"),
    path(_thread + "comments/", views.comment_create, name="comment-create"),
    path(_thread + "comments/<int:comment_id>/edit/", views.comment_edit, name="comment-edit"),
    path(_thread + "revise/", views.label_revise_view, name="label-revise"),
    path("notifications/", views.notification_list, name="notification-list"),
    path("notifications/read/", views.notifications_read, name="notifications-read"),
]
