"""API routes for adjudication, under ``/api/v1/workspaces/<workspace>/`` (included by
``reviews.api_urls``)."""

from django.urls import path

from reviews.api.adjudication import (
    AdjudicationItemView,
    AdjudicationQueueView,
    DecisionRecordView,
    DecisionReopenView,
)

_campaign = "campaigns/<int:campaign_id>/"
_item = _campaign + "items/<int:item_id>/adjudication/"

urlpatterns = [
    path(
        _campaign + "adjudication/",
        AdjudicationQueueView.as_view(),
        name="api-adjudication-queue",
    ),
    path(_item, AdjudicationItemView.as_view(), name="api-adjudication-item"),
    path(_item + "decisions/", DecisionRecordView.as_view(), name="api-adjudication-record"),
    path(_item + "reopen/", DecisionReopenView.as_view(), name="api-adjudication-reopen"),
]
