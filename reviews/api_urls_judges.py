"""Model judge API routes, under ``/api/v1/workspaces/<workspace>/`` (included by
``reviews.api_urls``): ``judges.run``."""

from django.urls import path

from reviews.api.judges import JudgeRunCancelView, JudgeRunDetailView, JudgeRunListView

urlpatterns = [
    path(
        "campaigns/<int:campaign_id>/judge-runs/",
        JudgeRunListView.as_view(),
        name="api-judge-run-list",
    ),
    path(
        "judge-runs/<int:judge_run_id>/", JudgeRunDetailView.as_view(), name="api-judge-run-detail"
    ),
    path(
        "judge-runs/<int:judge_run_id>/cancel/",
        JudgeRunCancelView.as_view(),
        name="api-judge-run-cancel",
    ),
]
