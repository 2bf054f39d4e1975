"""Re-run job pages (included by ``reviews.urls``): adjudicators and admins; and flagging an
item's transcript as a scenario to re-run (reviewers and above)."""

from django.urls import path

from reviews.views import flags
from reviews.views import reruns as views

urlpatterns = [
    path("reruns/", views.rerun_list, name="rerun-list"),
    path("reruns/new/", views.rerun_create, name="rerun-create"),
    path("reruns/compare/", views.rerun_compare, name="rerun-compare"),
    path("reruns/<int:job_id>/", views.rerun_detail, name="rerun-detail"),
    path("reruns/<int:job_id>/cancel/", views.rerun_cancel, name="rerun-cancel"),
    path(
        "campaigns/<int:campaign_id>/items/<int:item_id>/flag/",
        flags.scenario_flag,
        name="scenario-flag",
    ),
]
