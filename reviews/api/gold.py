"""REST API for gold: the gold list (filters as on the page, keyset pages) and exports.

An export is a job: ``POST gold/exports/`` queues it (202), ``GET gold/exports/<id>/`` shows its
progress and, once ready, a signed download link that expires (the same link the page shows; it
works for a signed-in member of the workspace with the export right).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clausebook.access import WorkspaceAPIMixin
from clausebook.pagination import NewestFirstKeysetPagination
from reviews import access
from reviews.models import ExportFormat, GoldDecision, GoldExport
from reviews.selectors import gold as selectors
from reviews.services import gold_export as services


class GoldDecisionOutput(serializers.ModelSerializer):
    clause = serializers.CharField(source="clause.key")
    spec = serializers.CharField(source="spec_version.spec.slug")
    spec_version = serializers.CharField(source="spec_version.label")
    spec_version_id = serializers.IntegerField()
    campaign_title = serializers.CharField(source="campaign.title")
    decided_how = serializers.CharField(source="kind")
    decided_by = serializers.EmailField(source="decided_by.email", allow_null=True, default=None)

    class Meta:
        model = GoldDecision
        fields = [
            "id",
            "clause",
            "spec",
            "spec_version",
            "spec_version_id",
            "verdict",
            "severity",
            "rationale",
            "decided_how",
            "decided_by",
            "rule",
            "campaign",
            "campaign_title",
            "item",
            "transcript",
            "decided_at",
        ]


_FILTER_PARAMETERS = [
    OpenApiParameter("spec_version", int, description="Spec version id."),
    OpenApiParameter("clause", str, description="Clause key."),
    OpenApiParameter("verdict", str),
    OpenApiParameter("campaign", int, description="Campaign id."),
    OpenApiParameter("adjudicator", int, description="The adjudicator's user id."),
    OpenApiParameter("from", str, description="Decided on or after this day (YYYY-MM-DD)."),
    OpenApiParameter("to", str, description="Decided on or before this day (YYYY-MM-DD)."),
    OpenApiParameter("q", str, description="Text in the rationale (case-insensitive)."),
    OpenApiParameter("how", str, enum=["adjudicated", "agreed"]),
]


class GoldListView(WorkspaceAPIMixin, generics.ListAPIView):
    """Current gold of the workspace, newest first."""

    read_permission = "gold.read"
    serializer_class = GoldDecisionOutput
    pagination_class = NewestFirstKeysetPagination

    @extend_schema(
        parameters=_FILTER_PARAMETERS,
        summary="List gold decisions (newest first, keyset pages by id)",
        description="The current adjudicated and agreed decisions, filtered as on the gold "
        "page. A bad filter value is a 400 naming the parameter.",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[GoldDecision]:
        filters = selectors.GoldFilters.from_params(self.request.query_params)
        return selectors.gold_list(self.workspace, filters)


class GoldExportInput(serializers.Serializer):
    format = serializers.ChoiceField(choices=ExportFormat.choices, default=ExportFormat.JSONL)
    include_emails = serializers.BooleanField(
        default=False, help_text="Reviewers by email instead of pseudonyms (admins only)."
    )
    filters = serializers.DictField(
        default=dict, help_text="The gold list's filters, by query parameter name."
    )


class GoldExportOutput(serializers.ModelSerializer):
    percent = serializers.IntegerField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = GoldExport
        fields = [
            "id",
            "format",
            "filters",
            "include_emails",
            "status",
            "percent",
            "total_rows",
            "rows_written",
            "size_bytes",
            "error_message",
            "created_at",
            "started_at",
            "finished_at",
            "download_url",
        ]

    def get_download_url(self, export: GoldExport) -> str | None:
        if export.status != GoldExport.Status.SUCCEEDED:
            return None
        path = reverse(
            "reviews:gold-export-download", args=[self.context["workspace"].slug, export.pk]
        )
        url = f"{path}?token={services.gold_export_link(export)}"
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url


class GoldExportCreateView(WorkspaceAPIMixin, APIView):
    write_permission = services.EXPORT_PERMISSION

    @extend_schema(
        request=GoldExportInput,
        responses={202: GoldExportOutput},
        summary="Queue a gold export (JSONL, CSV, Parquet or preference pairs)",
    )
    def post(self, request: Request, workspace: str) -> Response:
        data = GoldExportInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        export = services.gold_export_create(
            workspace=self.workspace,
            actor=request.user,
            format=values["format"],
            filters=selectors.GoldFilters.from_params(values["filters"]),
            include_emails=values["include_emails"],
        )
        context = {"request": request, "workspace": self.workspace}
        return Response(GoldExportOutput(export, context=context).data, status.HTTP_202_ACCEPTED)


class GoldExportDetailView(WorkspaceAPIMixin, APIView):
    read_permission = services.EXPORT_PERMISSION

    @extend_schema(responses=GoldExportOutput, summary="A gold export's progress and link")
    def get(self, request: Request, workspace: str, export_id: int) -> Response:
        export = access.gold_export_of_member(self.membership, export_id)
        context = {"request": request, "workspace": self.workspace}
        return Response(GoldExportOutput(export, context=context).data)
