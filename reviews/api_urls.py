"""Review API routes, under ``/api/v1/workspaces/<workspace>/``."""

from django.urls import path

from reviews.api.campaigns import (
    AssignmentSkipView,
    AssignmentSubmitView,
    CampaignDetailView,
    CampaignListView,
    ClaimNextView,
    ItemListView,
    MyAssignmentListView,
)
from reviews.api.labels import LabelDetailView, LabelImportView, LabelListView

urlpatterns = [
    path("campaigns/", CampaignListView.as_view(), name="api-campaign-list"),
    path("campaigns/<int:campaign_id>/", CampaignDetailView.as_view(), name="api-campaign-detail"),
    path("campaigns/<int:campaign_id>/items/", ItemListView.as_view(), name="api-campaign-items"),
    path("campaigns/<int:campaign_id>/claim/", ClaimNextView.as_view(), name="api-claim-next"),
    path(
        "campaigns/<int:campaign_id>/labels/import/",
        LabelImportView.as_view(),
        name="api-labels-import",
    ),
    path("assignments/", MyAssignmentListView.as_view(), name="api-my-assignments"),
    path(
        "assignments/<int:assignment_id>/submit/",
        AssignmentSubmitView.as_view(),
        name="api-assignment-submit",
    ),
    path(
        "assignments/<int:assignment_id>/skip/",
        AssignmentSkipView.as_view(),
        name="api-assignment-skip",
    ),
    path("labels/", LabelListView.as_view(), name="api-label-list"),
    path("labels/<int:label_id>/", LabelDetailView.as_view(), name="api-label-detail"),
]
