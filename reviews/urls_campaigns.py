"""Campaign, queue and labeling routes (HTML), under ``/w/<workspace>/``."""

from django.urls import path

from reviews.views import campaigns as views
from reviews.views import labeling

_campaign = "campaigns/<int:campaign_id>/"
_item = _campaign + "items/<int:item_id>/"

urlpatterns = [
    path("campaigns/", views.campaign_list, name="campaign-list"),
    path("campaigns/new/", views.campaign_create, name="campaign-create"),
    path(_campaign, views.campaign_detail, name="campaign-detail"),
    path(_campaign + "open/", views.campaign_open, name="campaign-open"),
    path(_campaign + "pause/", views.campaign_pause, name="campaign-pause"),
    path(_campaign + "resume/", views.campaign_resume, name="campaign-resume"),
    path(_campaign + "close/", views.campaign_close, name="campaign-close"),
    path(_campaign + "reviewers/", views.campaign_reviewers_add, name="campaign-reviewers-add"),
    path(
        _campaign + "reviewers/remove/",
        views.campaign_reviewer_remove,
        name="campaign-reviewer-remove",
    ),
    path(_campaign + "items/add/", views.campaign_items_add, name="campaign-items-add"),
    path(_campaign + "claim/", views.claim_next, name="claim-next"),
    path("queue/", views.queue, name="queue"),
    path(_item, labeling.label_item, name="label-item"),
    path(_item + "submit/", labeling.submit, name="assignment-submit"),
    path(_item + "skip/", labeling.skip, name="assignment-skip"),
]
