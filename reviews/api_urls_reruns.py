"""Re-run job API routes, under ``/api/v1/workspaces/<workspace>/`` (included by
``reviews.api_urls``)."""

from django.urls import path

from reviews.api.reruns import (
    RerunCancelView,
    RerunCompareView,
    RerunDetailView,
    RerunListView,
)

urlpatterns = [
    path("reruns/", RerunListView.as_view(), name="api-rerun-list"),
    path("reruns/compare/", RerunCompareView.as_view(), name="api-rerun-compare"),
    path("reruns/<int:job_id>/", RerunDetailView.as_view(), name="api-rerun-detail"),
    path("reruns/<int:job_id>/cancel/", RerunCancelView.as_view(), name="api-rerun-cancel"),
]
