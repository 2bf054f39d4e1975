"""Campaign, queue and labeling routes (HTML), under ``/w/<workspace>/``."""

from django.urls import path

from reviews.views import campaigns as views
from reviews.views import labeling

_item = "campaigns/<int:campaign_id>/items/<int:item_id>/"

urlpatterns = [
    path("campaigns/", views.campaign_list, name="campaign-list"),
    path("campaigns/new/", views.campaign_create, name="campaign-create"),
    path("campaigns/<int:campaign_id>/", views.campaign_detail, name="campaign-detail"),
    path("campaigns/<int:campaign_id>/claim/", views.claim_next, name="claim-next"),
    path("queue/", views.queue, name="queue"),
    path(_item, labeling.label_item, name="label-item"),
    path(_item + "labels/", labeling.label_save_view, name="label-save"),
    path(_item + "submit/", labeling.submit, name="assignment-submit"),
    path(_item + "skip/", labeling.skip, name="assignment-skip"),
]
