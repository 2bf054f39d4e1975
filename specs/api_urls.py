"""Spec API routes under ``/api/v1/workspaces/<workspace>/``; names start with ``api-``."""

from django.urls import path

from specs import api
from specs.api_urls_amendments import urlpatterns as amendment_urls

version = "specs/<slug:spec>/versions/<str:label>/"

urlpatterns = [
    path("specs/", api.SpecListView.as_view(), name="api-spec-list"),
    path("specs/<slug:spec>/", api.SpecDetailView.as_view(), name="api-spec-detail"),
    path("specs/<slug:spec>/versions/", api.VersionListView.as_view(), name="api-version-list"),
    path("specs/<slug:spec>/diff/", api.VersionDiffView.as_view(), name="api-version-diff"),
    path("specs/<slug:spec>/aliases/", api.AliasListView.as_view(), name="api-alias-list"),
    path(version, api.VersionDetailView.as_view(), name="api-version-detail"),
    path(f"{version}publish/", api.VersionPublishView.as_view(), name="api-version-publish"),
    path(f"{version}export/", api.VersionExportView.as_view(), name="api-version-export"),
    path(f"{version}clauses/", api.ClauseListView.as_view(), name="api-clause-list"),
    path(f"{version}clauses/<str:key>/", api.ClauseDetailView.as_view(), name="api-clause-detail"),
    *amendment_urls,
]
