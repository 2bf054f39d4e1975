"""Model judge pages (included by ``reviews.urls``): ``judges.run``."""

from django.urls import path

from reviews.views import judges as views

urlpatterns = [
    path("campaigns/<int:campaign_id>/judges/", views.judge_start, name="judge-start"),
    path("judges/<int:judge_run_id>/", views.judge_run_detail, name="judge-run-detail"),
    path("judges/<int:judge_run_id>/cancel/", views.judge_run_cancel, name="judge-run-cancel"),
]
