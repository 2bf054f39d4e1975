"""Pages that feed review results back into the spec (included by ``reviews.urls``): promoting
gold to a clause example, and the clause page's history panel with its re-review action."""

from django.urls import path

from reviews.views import promotion as views

_clause = "specs/<slug:spec>/v/<str:label>/c/<str:key>/"

urlpatterns = [
    path("gold/<int:decision_id>/promote/", views.gold_promote, name="gold-promote"),
    path(_clause + "history/", views.clause_history_panel, name="clause-history-panel"),
    path(_clause + "rereview/", views.clause_rereview_create, name="clause-rereview-create"),
]
