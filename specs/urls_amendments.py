"""Draft and amendment pages under ``/w/<workspace>/specs/`` (included by ``specs.urls``)."""

from django.urls import path

from specs import views_amendments as views

amendment = "<slug:spec>/amendments/<int:amendment_id>/"

urlpatterns: list = [
    path("<slug:spec>/amendments/", views.amendment_list, name="amendment-list"),
    path("<slug:spec>/amendments/new/", views.amendment_propose, name="amendment-propose"),
    path(amendment, views.amendment_detail, name="amendment-detail"),
    path(f"{amendment}edit/", views.amendment_edit, name="amendment-edit"),
    path(f"{amendment}changes/", views.change_add, name="amendment-change-add"),
    path(
        f"{amendment}changes/<int:change_id>/remove/",
        views.change_remove,
        name="amendment-change-remove",
    ),
    path(f"{amendment}approve/", views.amendment_approve, name="amendment-approve"),
    path(f"{amendment}merge/", views.amendment_merge, name="amendment-merge"),
    path(f"{amendment}rebase/", views.amendment_rebase, name="amendment-rebase"),
    path(f"{amendment}close/", views.amendment_close, name="amendment-close"),
    path("<slug:spec>/v/<str:label>/draft/", views.draft_start, name="draft-start"),
]
