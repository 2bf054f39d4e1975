"""Pages for adjudication (included by ``reviews.urls``), under ``/w/<workspace>/``."""

from django.urls import path

from reviews.views import adjudication as views

_campaign = "campaigns/<int:campaign_id>/"
_item = _campaign + "items/<int:item_id>/adjudicate/"

urlpatterns = [
    path(_campaign + "adjudicate/", views.adjudication_queue, name="adjudication-queue"),
    path(_item, views.adjudication_item, name="adjudication-item"),
    path(_item + "record/", views.adjudication_record, name="adjudication-record"),
    path(_item + "reopen/", views.adjudication_reopen, name="adjudication-reopen"),
]
