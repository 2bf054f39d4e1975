"""Draft and amendment API routes (included by ``specs.api_urls``)."""

from django.urls import path

from specs import api_amendments as api

amendments = "specs/<slug:spec>/amendments/"
amendment = f"{amendments}<int:amendment_id>/"

urlpatterns: list = [
    path(amendments, api.AmendmentListView.as_view(), name="api-amendment-list"),
    path(amendment, api.AmendmentDetailView.as_view(), name="api-amendment-detail"),
    path(
        f"{amendment}changes/", api.AmendmentChangeListView.as_view(), name="api-amendment-changes"
    ),
    path(
        f"{amendment}changes/<int:change_id>/",
        api.AmendmentChangeDetailView.as_view(),
        name="api-amendment-change-detail",
    ),
    path(f"{amendment}approve/", api.AmendmentApproveView.as_view(), name="api-amendment-approve"),
    path(f"{amendment}merge/", api.AmendmentMergeView.as_view(), name="api-amendment-merge"),
    path(f"{amendment}rebase/", api.AmendmentRebaseView.as_view(), name="api-amendment-rebase"),
    path(f"{amendment}close/", api.AmendmentCloseView.as_view(), name="api-amendment-close"),
    path(
        "specs/<slug:spec>/versions/<str:label>/draft/",
        api.DraftStartView.as_view(),
        name="api-draft-start",
    ),
]
