"""API routes for an amendment's motivating cases, under ``/api/v1/workspaces/<workspace>/``
(included by ``reviews.api_urls``), beside the specs app's amendment routes."""

from django.urls import path

from reviews.api.amendment_cases import AmendmentCaseDetailView, AmendmentCaseListView

_cases = "specs/<slug:spec>/amendments/<int:amendment_id>/cases/"

urlpatterns = [
    path(_cases, AmendmentCaseListView.as_view(), name="api-amendment-cases"),
    path(_cases + "<int:case_id>/", AmendmentCaseDetailView.as_view(), name="api-amendment-case"),
]
