"""Re-run job API: start a job, read its progress, cancel it, and compare two jobs' labeled
results (adjudicators and admins)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clausebook.access import WorkspaceAPIMixin
from clausebook.pagination import DefaultPagination
from reviews.selectors import reruns as selectors
from reviews.selectors.reruns import JobComparison, JobProgress
from reviews.services import reruns as services


class RerunInput(serializers.Serializer):
    scenario_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1)
    endpoint_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1)
    samples = serializers.IntegerField(min_value=1, max_value=services.MAX_SAMPLES, default=1)
    parameters = serializers.DictField(required=False, default=dict)
    campaign_id = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    deadline_seconds = serializers.IntegerField(
        required=False, default=services.DEFAULT_DEADLINE_SECONDS
    )


def _output(progress: JobProgress) -> dict:
    job = progress.job
    return {
        "id": job.pk,
        "status": job.status,
        "samples": job.samples,
        "parameters": job.parameters,
        "campaign_id": job.campaign_id,
        "error": job.error,
        "calls": progress.total,
        "done": progress.done,
        "succeeded": progress.succeeded,
        "failed": progress.failed,
        "prompt_tokens": progress.prompt_tokens,
        "completion_tokens": progress.completion_tokens,
        "endpoints": [
            {
                "endpoint_id": e.endpoint_id,
                "name": e.name,
                "counts": e.counts,
                "prompt_tokens": e.prompt_tokens,
                "completion_tokens": e.completion_tokens,
                "errors": [{"error": message, "count": n} for message, n in e.errors],
            }
            for e in progress.endpoints
        ],
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


class RerunListView(WorkspaceAPIMixin, APIView):
    read_permission = services.RUN_PERMISSION
    write_permission = services.RUN_PERMISSION
    pagination_class = DefaultPagination

    @extend_schema(
        responses={200: dict},
        summary="The workspace's latest re-run jobs",
        operation_id="workspaces_reruns_list",
    )
    def get(self, request: Request, workspace: str) -> Response:
        paginator = self.pagination_class()
        jobs = paginator.paginate_queryset(
            selectors.rerun_jobs_queryset(self.workspace), request, view=self
        )
        return paginator.get_paginated_response(
            [{"id": j.pk, "status": j.status, "calls": j.run_count} for j in jobs]
        )

    @extend_schema(request=RerunInput, responses={201: dict}, summary="Queue a re-run job")
    def post(self, request: Request, workspace: str) -> Response:
        data = RerunInput(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.rerun_job_create(
            workspace=self.workspace, actor=request.user, **data.validated_data
        )
        progress = selectors.rerun_job_progress(job=job)
        return Response(_output(progress), status.HTTP_201_CREATED)


class RerunDetailView(WorkspaceAPIMixin, APIView):
    read_permission = services.RUN_PERMISSION
    write_permission = services.RUN_PERMISSION

    @extend_schema(responses={200: dict}, summary="A re-run job's progress and token totals")
    def get(self, request: Request, workspace: str, job_id: int) -> Response:
        job = selectors.rerun_job_in_workspace(self.workspace, job_id)
        return Response(_output(selectors.rerun_job_progress(job=job)))


class RerunCancelView(WorkspaceAPIMixin, APIView):
    read_permission = services.RUN_PERMISSION
    write_permission = services.RUN_PERMISSION

    @extend_schema(request=None, responses={200: dict}, summary="Cancel a re-run job")
    def post(self, request: Request, workspace: str, job_id: int) -> Response:
        job = selectors.rerun_job_in_workspace(self.workspace, job_id)
        services.rerun_job_cancel(job=job, actor=request.user)
        job.refresh_from_db()
        return Response(_output(selectors.rerun_job_progress(job=job)))


class CompareQuery(serializers.Serializer):
    before = serializers.IntegerField(min_value=1, help_text="The earlier job's id.")
    after = serializers.IntegerField(min_value=1, help_text="The later job's id.")

    def validate(self, attrs: dict) -> dict:
        if attrs["before"] == attrs["after"]:
            raise serializers.ValidationError(
                {"after": ["Choose a different job from the one before."]}
            )
        return attrs


class ClauseComparisonOutput(serializers.Serializer):
    clause_key = serializers.CharField()
    before = serializers.DictField(child=serializers.IntegerField(), help_text="verdict → labels")
    after = serializers.DictField(child=serializers.IntegerField(), help_text="verdict → labels")


class ChangedVerdictOutput(serializers.Serializer):
    scenario_id = serializers.IntegerField()
    scenario_title = serializers.CharField()
    clause_key = serializers.CharField()
    before = serializers.CharField(help_text="Majority verdict; a tie joins them with ' / '.")
    after = serializers.CharField()


class CompareSideOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    results = serializers.IntegerField(help_text="Answered calls.")
    labeled = serializers.IntegerField(help_text="Answers with at least one submitted label.")


class CompareOutput(serializers.Serializer):
    before = CompareSideOutput()
    after = CompareSideOutput()
    verdicts = serializers.ListField(child=serializers.CharField())
    clauses = ClauseComparisonOutput(many=True)
    changed = ChangedVerdictOutput(many=True)


class RerunCompareView(WorkspaceAPIMixin, APIView):
    read_permission = services.RUN_PERMISSION

    @extend_schema(
        parameters=[
            OpenApiParameter("before", int, required=True, description="The earlier job's id."),
            OpenApiParameter("after", int, required=True, description="The later job's id."),
        ],
        responses={
            200: CompareOutput,
            400: OpenApiResponse(description="A missing, malformed or repeated job id"),
            404: OpenApiResponse(description="No such job in this workspace"),
        },
        summary="Compare two re-run jobs' labeled results",
        description=(
            "Per clause (by key), the submitted reviewer verdicts on each job's results side by "
            "side, and the (scenario, clause) pairs whose majority verdict differs. Judge labels "
            "and drafts never count."
        ),
        operation_id="workspaces_reruns_compare",
    )
    def get(self, request: Request, workspace: str) -> Response:
        query = CompareQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        comparison = selectors.rerun_jobs_compare(
            before=selectors.rerun_job_in_workspace(self.workspace, query.validated_data["before"]),
            after=selectors.rerun_job_in_workspace(self.workspace, query.validated_data["after"]),
        )
        return Response(CompareOutput(_comparison_output(comparison)).data)


def _comparison_output(comparison: JobComparison) -> dict:
    return {
        "before": {
            "id": comparison.before.pk,
            "status": comparison.before.status,
            "results": comparison.before_results,
            "labeled": comparison.before_labeled,
        },
        "after": {
            "id": comparison.after.pk,
            "status": comparison.after.status,
            "results": comparison.after_results,
            "labeled": comparison.after_labeled,
        },
        "verdicts": comparison.verdicts,
        "clauses": comparison.clauses,
        "changed": comparison.changed,
    }
