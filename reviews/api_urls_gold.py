"""API routes for gold, under ``/api/v1/workspaces/<workspace>/`` (included by ``reviews.api_urls``)."""

from django.urls import path

from reviews.api.gold import GoldExportCreateView, GoldExportDetailView, GoldListView

urlpatterns = [
    path("gold/", GoldListView.as_view(), name="api-gold-list"),
    path("gold/exports/", GoldExportCreateView.as_view(), name="api-gold-export-create"),
    path(
        "gold/exports/<int:export_id>/",
        GoldExportDetailView.as_view(),
        name="api-gold-export-detail",
    ),
]
