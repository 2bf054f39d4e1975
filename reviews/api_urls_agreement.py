"""API routes for agreement, under ``/api/v1/workspaces/<workspace>/`` (included by ``reviews.api_urls``)."""

from django.urls import path

from reviews.api.agreement import CampaignAgreementView

urlpatterns: list = [
    path(
        "campaigns/<int:campaign_id>/agreement/",
        CampaignAgreementView.as_view(),
        name="api-campaign-agreement",
    ),
]
