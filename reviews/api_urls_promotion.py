"""API routes for promotion and clause history, under ``/api/v1/workspaces/<workspace>/``
(included by ``reviews.api_urls``)."""

from django.urls import path

from reviews.api.promotion import ClauseHistoryView, ClauseRereviewView, GoldPromoteView

_clause = "specs/<slug:spec>/versions/<str:label>/clauses/<str:key>/"

urlpatterns = [
    path("gold/<int:decision_id>/promote/", GoldPromoteView.as_view(), name="api-gold-promote"),
    path(_clause + "history/", ClauseHistoryView.as_view(), name="api-clause-history"),
    path(_clause + "rereview/", ClauseRereviewView.as_view(), name="api-clause-rereview"),
]
