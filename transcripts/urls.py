"""Transcript, import and scenario routes (HTML), under ``/w/<workspace>/``."""

from django.urls import path

from transcripts import views

app_name = "transcripts"
urlpatterns = [
    path("transcripts/", views.transcript_list, name="transcript-list"),
    path("transcripts/<int:transcript_id>/", views.transcript_detail, name="transcript-detail"),
    path("imports/", views.import_list, name="import-list"),
    path("imports/new/", views.import_create, name="import-create"),
    path("imports/<int:import_id>/", views.import_detail, name="import-detail"),
    path("imports/<int:import_id>/retry/", views.import_retry, name="import-retry"),
    path("scenarios/", views.scenario_list, name="scenario-list"),
    path("scenarios/<int:scenario_id>/", views.scenario_detail, name="scenario-detail"),
]
