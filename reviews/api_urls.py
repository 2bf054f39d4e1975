"""Review API routes, under ``/api/v1/workspaces/<workspace>/``."""

from django.urls import path

from reviews.api.campaigns import (
    AssignmentSkipView,
    AssignmentSubmitView,
    CampaignCloseView,
    CampaignDetailView,
    CampaignListView,
    CampaignOpenView,
    CampaignPauseView,
    CampaignResumeView,
    CampaignReviewersView,
    ClaimNextView,
    ItemListView,
    MyAssignmentListView,
)
from reviews.api.labels import ItemLabelsView, LabelDetailView, LabelImportView, LabelListView
from reviews.api_urls_adjudication import urlpatterns as adjudication_urls
from reviews.api_urls_agreement import urlpatterns as agreement_urls
from reviews.api_urls_amendment_cases import urlpatterns as amendment_case_urls
from reviews.api_urls_disputes import urlpatterns as dispute_urls
from reviews.api_urls_endpoints import urlpatterns as endpoint_urls
from reviews.api_urls_gold import urlpatterns as gold_urls
from reviews.api_urls_judges import urlpatterns as judge_urls
from reviews.api_urls_promotion import urlpatterns as promotion_urls
from reviews.api_urls_reruns import urlpatterns as rerun_urls

_campaign = "campaigns/<int:campaign_id>/"

urlpatterns = [
    path("campaigns/", CampaignListView.as_view(), name="api-campaign-list"),
    path(_campaign, CampaignDetailView.as_view(), name="api-campaign-detail"),
    path(_campaign + "open/", CampaignOpenView.as_view(), name="api-campaign-open"),
    path(_campaign + "pause/", CampaignPauseView.as_view(), name="api-campaign-pause"),
    path(_campaign + "resume/", CampaignResumeView.as_view(), name="api-campaign-resume"),
    path(_campaign + "close/", CampaignCloseView.as_view(), name="api-campaign-close"),
    path(_campaign + "reviewers/", CampaignReviewersView.as_view(), name="api-campaign-reviewers"),
    path(_campaign + "items/", ItemListView.as_view(), name="api-campaign-items"),
    path(_campaign + "claim/", ClaimNextView.as_view(), name="api-claim-next"),
    path(
        _campaign + "labels/import/",
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
    path(
        _campaign + "items/<int:item_id>/labels/", ItemLabelsView.as_view(), name="api-item-labels"
    ),
    path("labels/", LabelListView.as_view(), name="api-label-list"),
    path("labels/<int:label_id>/", LabelDetailView.as_view(), name="api-label-detail"),
    *agreement_urls,
    *dispute_urls,
    *adjudication_urls,
    *gold_urls,
    *promotion_urls,
    *amendment_case_urls,
    *endpoint_urls,
    *judge_urls,
    *rerun_urls,
]
