"""Pages for agreement (included by ``reviews.urls``)."""

from django.urls import path

from reviews.views import agreement as views

urlpatterns: list = [
    path(
        "campaigns/<int:campaign_id>/agreement/",
        views.campaign_agreement_page,
        name="campaign-agreement",
    ),
]
