"""Re-run job pages (included by ``reviews.urls``): adjudicators and admins."""

from django.urls import path

from reviews.views import reruns as views

urlpatterns = [
    path("reruns/", views.rerun_list, name="rerun-list"),
    path("reruns/new/", views.rerun_create, name="rerun-create"),
    path("reruns/compare/", views.rerun_compare, name="rerun-compare"),
    path("reruns/<int:job_id>/", views.rerun_detail, name="rerun-detail"),
    path("reruns/<int:job_id>/cancel/", views.rerun_cancel, name="rerun-cancel"),
]
