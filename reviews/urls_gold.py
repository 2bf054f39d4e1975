"""Pages for gold (included by ``reviews.urls``): the gold list and its exports."""

from django.urls import path

from reviews.views import gold as views

_export = "gold/exports/<int:export_id>/"

urlpatterns = [
    path("gold/", views.gold_list, name="gold-list"),
    path("gold/exports/", views.gold_export_create, name="gold-export-create"),
    path("gold/exports/all/", views.gold_export_list, name="gold-export-list"),
    path(_export, views.gold_export_detail, name="gold-export-detail"),
    path(_export + "download/", views.gold_export_download, name="gold-export-download"),
]
