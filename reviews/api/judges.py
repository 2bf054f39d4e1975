"""REST API for model judges: a campaign's judge runs (list, start one), one run's progress,
and cancelling a run (409 once it finished). A broker that is down when a run is started is a
503 (``clausebook.celery.QueueUnavailable``).

``GET`` on a campaign's runs also says how many calls a new run would make per mode, so a
client can show the cost before starting. ``judges.run`` for everything; another workspace's
campaign, endpoint or run is 404. The same services as the pages.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clausebook.access import WorkspaceAPIMixin
from clausebook.api_errors import Conflict
from clausebook.pagination import DefaultPagination
from reviews.models.runs import JudgeMode
from reviews.selectors import campaigns as campaign_selectors
from reviews.services import endpoints as endpoint_services
from reviews.services import judges as services


class JudgeRunInput(serializers.Serializer):
    endpoint = serializers.IntegerField(min_value=1)
    mode = serializers.ChoiceField(choices=JudgeMode.choices, default=JudgeMode.PER_PAIR)


class JudgeRunProgressOutput(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    campaign = serializers.IntegerField(source="campaign_id")
    endpoint = serializers.IntegerField(source="endpoint_id")
    endpoint_name = serializers.CharField(source="endpoint.name")
    prompt_version = serializers.CharField()
    mode = serializers.CharField()
    status = serializers.CharField()
    calls_total = serializers.IntegerField()
    calls_done = serializers.IntegerField()
    invalid_count = serializers.IntegerField()
    invalid_sample = serializers.ListField(child=serializers.DictField())
    failed_count = serializers.IntegerField()
    #: Tokens the endpoint reported for the run's answered calls so far.
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class JudgeRunListOutput(serializers.Serializer):
    calls_per_mode = serializers.DictField(child=serializers.IntegerField())
    results = JudgeRunProgressOutput(many=True)


class JudgeRunCreatedOutput(serializers.Serializer):
    run = JudgeRunProgressOutput()
    calls = serializers.IntegerField()


class JudgeRunListView(WorkspaceAPIMixin, APIView):
    read_permission = services.PERMISSION
    write_permission = services.PERMISSION
    pagination_class = DefaultPagination

    @extend_schema(responses=JudgeRunListOutput, summary="A campaign's judge runs")
    def get(self, request: Request, workspace: str, campaign_id: int) -> Response:
        campaign = campaign_selectors.get_campaign(self.workspace, campaign_id)
        data = {
            "calls_per_mode": {
                mode.value: services.judge_call_count(campaign, mode) for mode in JudgeMode
            },
        }
        paginator = self.pagination_class()
        data["results"] = paginator.paginate_queryset(
            services.judge_runs_of(campaign), request, view=self
        )
        body = JudgeRunListOutput(data).data
        body.update(count=paginator.page.paginator.count, next=paginator.get_next_link())
        return Response(body)

    @extend_schema(
        request=JudgeRunInput,
        responses={201: JudgeRunCreatedOutput},
        summary="Start a judge run (queued; the answer says how many calls it will make)",
    )
    def post(self, request: Request, workspace: str, campaign_id: int) -> Response:
        campaign = campaign_selectors.get_campaign(self.workspace, campaign_id)
        data = JudgeRunInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = endpoint_services.endpoint_in_workspace(
            self.workspace, data.validated_data["endpoint"]
        )
        run, calls = services.judge_run_create(
            campaign=campaign,
            endpoint=endpoint,
            actor=request.user,
            mode=data.validated_data["mode"],
        )
        return Response(
            JudgeRunCreatedOutput({"run": run, "calls": calls}).data, status.HTTP_201_CREATED
        )


class JudgeRunDetailView(WorkspaceAPIMixin, APIView):
    read_permission = services.PERMISSION

    @extend_schema(responses=JudgeRunProgressOutput, summary="One judge run's progress")
    def get(self, request: Request, workspace: str, judge_run_id: int) -> Response:
        run = services.judge_run_in_workspace(self.workspace.pk, judge_run_id)
        return Response(JudgeRunProgressOutput(run).data)


class JudgeRunCancelView(WorkspaceAPIMixin, APIView):
    read_permission = services.PERMISSION
    write_permission = services.PERMISSION

    @extend_schema(
        request=None,
        responses={200: JudgeRunProgressOutput, 409: dict},
        summary="Cancel a queued or running judge run (calls in flight finish)",
    )
    def post(self, request: Request, workspace: str, judge_run_id: int) -> Response:
        run = services.judge_run_in_workspace(self.workspace.pk, judge_run_id)
        if not services.judge_run_cancel(run=run, actor=request.user):
            run.refresh_from_db()
            raise Conflict(
                f"This judge run already finished ({run.status}); nothing was cancelled.",
                current=JudgeRunProgressOutput(run).data,
            )
        run.refresh_from_db()
        return Response(JudgeRunProgressOutput(run).data)
