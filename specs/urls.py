"""Spec pages under ``/w/<workspace>/specs/``; route names read noun-verb."""

from django.urls import path

from specs import views
from specs.urls_amendments import urlpatterns as amendment_urls

app_name = "specs"

urlpatterns = [
    path("", views.spec_list, name="spec-list"),
    path("<slug:spec>/", views.spec_detail, name="spec-detail"),
    path("<slug:spec>/import/", views.version_import, name="version-import"),
    path("<slug:spec>/diff/", views.version_diff, name="version-diff"),
    path("<slug:spec>/aliases/", views.alias_decide, name="alias-decide"),
    path("<slug:spec>/v/<str:label>/", views.version_detail, name="version-detail"),
    path("<slug:spec>/v/<str:label>/search/", views.version_search, name="version-search"),
    path("<slug:spec>/v/<str:label>/publish/", views.version_publish, name="version-publish"),
    path("<slug:spec>/v/<str:label>/discard/", views.version_discard, name="version-discard"),
    path("<slug:spec>/v/<str:label>/export/", views.version_export, name="version-export"),
    path("<slug:spec>/v/<str:label>/c/<str:key>/", views.clause_detail, name="clause-detail"),
    *amendment_urls,
]
