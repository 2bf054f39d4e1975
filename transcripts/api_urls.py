"""Transcript, import and scenario API routes, under ``/api/v1/workspaces/<workspace>/``."""

from django.urls import path

from transcripts.api import (
    ImportDetailView,
    ImportListView,
    ImportRetryView,
    ScenarioDetailView,
    ScenarioListView,
    TranscriptDetailView,
    TranscriptListView,
)

urlpatterns = [
    path("transcripts/", TranscriptListView.as_view(), name="api-transcript-list"),
    path(
        "transcripts/<int:transcript_id>/",
        TranscriptDetailView.as_view(),
        name="api-transcript-detail",
    ),
    path("imports/", ImportListView.as_view(), name="api-import-list"),
    path("imports/<int:import_id>/", ImportDetailView.as_view(), name="api-import-detail"),
    path("imports/<int:import_id>/retry/", ImportRetryView.as_view(), name="api-import-retry"),
    path("scenarios/", ScenarioListView.as_view(), name="api-scenario-list"),
    path("scenarios/<int:scenario_id>/", ScenarioDetailView.as_view(), name="api-scenario-detail"),
]
