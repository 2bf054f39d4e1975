"""API routes for disputes, under ``/api/v1/workspaces/<workspace>/`` (included by ``reviews.api_urls``)."""

from django.urls import path

from reviews.api import disputes as views

_campaign = "campaigns/<int:campaign_id>/"
_thread = _campaign + "items/<int:item_id>/clauses/<str:clause_key>/thread/"

urlpatterns = [
    path(_campaign + "disputes/", views.DisputeListView.as_view(), name="api-dispute-list"),
    path(_thread, views.ThreadDetailView.as_view(), name="api-thread-detail"),
    path(_thread + "comments/", views.ThreadCommentsView.as_view(), name="api-thread-comments"),
    path(
        _thread + "comments/<int:comment_id>/",
        views.CommentDetailView.as_view(),
        name="api-comment-detail",
    ),
    path(_thread + "revise/", views.LabelReviseView.as_view(), name="api-label-revise"),
    path("notifications/", views.NotificationListView.as_view(), name="api-notification-list"),
    path(
        "notifications/read/",
        views.NotificationsReadView.as_view(),
        name="api-notifications-read",
    ),
]
