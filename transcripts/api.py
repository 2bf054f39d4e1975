"""REST API for transcripts and imports.

Every view scopes by workspace through ``WorkspaceAPIMixin`` and builds its querysets from
``self.workspace``: ids from another workspace are 404. Reviewers and above read; editors and above
import. Filters are an allow-list (``q``, ``tag``, ``source``, ``import``); other parameters are
ignored (T10).
"""

from __future__ import annotations

import io
from typing import Any

import orjson
from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clausebook.access import WorkspaceAPIMixin
from clausebook.models import Role
from clausebook.pagination import CreatedCursorPagination
from transcripts import selectors, services
from transcripts.formats import FORMATS
from transcripts.models import Transcript, TranscriptImport

# --------------------------------------------------------------------------------------------------
# Serializers
# --------------------------------------------------------------------------------------------------


class TranscriptSummaryOutput(serializers.ModelSerializer):
    import_id = serializers.IntegerField(source="import_run_id", allow_null=True)
    preview = serializers.CharField(allow_null=True, help_text="First user message, cut short.")

    class Meta:
        model = Transcript
        fields = [
            "id",
            "external_id",
            "source",
            "model",
            "tags",
            "message_count",
            "content_hash",
            "pair_key",
            "variant",
            "import_id",
            "preview",
            "created_at",
        ]


class ToolCallFunction(serializers.Serializer):
    name = serializers.CharField()
    arguments = serializers.CharField()


class ToolCall(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField()
    function = ToolCallFunction()


class MessageOutput(serializers.Serializer):
    role = serializers.ChoiceField(choices=["system", "developer", "user", "assistant", "tool"])
    content = serializers.CharField(allow_blank=True)
    name = serializers.CharField(required=False)
    tool_calls = ToolCall(many=True, required=False)
    tool_call_id = serializers.CharField(required=False)


class TranscriptOutput(serializers.ModelSerializer):
    import_id = serializers.IntegerField(source="import_run_id", allow_null=True)
    messages = MessageOutput(many=True)
    metadata = serializers.JSONField()
    origin_scenario_id = serializers.IntegerField(allow_null=True)
    origin_transcript_id = serializers.IntegerField(allow_null=True)

    class Meta:
        model = Transcript
        fields = [
            "id",
            "external_id",
            "source",
            "model",
            "tags",
            "messages",
            "message_count",
            "metadata",
            "content_hash",
            "pair_key",
            "variant",
            "import_id",
            "origin_scenario_id",
            "origin_transcript_id",
            "created_at",
        ]


class RowErrorOutput(serializers.Serializer):
    line = serializers.IntegerField()
    field = serializers.CharField(allow_blank=True)
    message = serializers.CharField()


class ImportOutput(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)
    errors = RowErrorOutput(many=True, help_text="Rejected rows (the first 1,000).")
    created_by = serializers.EmailField(source="created_by.email", allow_null=True, default=None)

    class Meta:
        model = TranscriptImport
        fields = [
            "id",
            "status",
            "mode",
            "format",
            "filename",
            "size_bytes",
            "source",
            "tags",
            "id_prefix",
            "bytes_read",
            "percent",
            "rows_seen",
            "created_count",
            "duplicate_count",
            "rejected_count",
            "skipped_count",
            "scenario_count",
            "error_message",
            "errors",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]


class ImportListOutput(ImportOutput):
    class Meta(ImportOutput.Meta):
        fields = [f for f in ImportOutput.Meta.fields if f != "errors"]


class ImportInput(serializers.Serializer):
    """Either ``file`` (multipart) or ``records`` (JSON: OpenAI-style objects with ``messages``)."""

    file = serializers.FileField(required=False)
    records = serializers.ListField(
        child=serializers.DictField(), required=False, max_length=10_000, allow_empty=False
    )
    format = serializers.ChoiceField(choices=list(FORMATS), required=False, allow_blank=True)
    source = serializers.CharField(max_length=120, required=False, allow_blank=True)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, max_length=50
    )
    id_prefix = serializers.CharField(max_length=60, required=False, allow_blank=True)
    mode = serializers.ChoiceField(
        choices=TranscriptImport.Mode.values, default=TranscriptImport.Mode.ALL_OR_NOTHING
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("file")) == bool(attrs.get("records")):
            raise serializers.ValidationError("Send exactly one of 'file' or 'records'.")
        return attrs


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


# --------------------------------------------------------------------------------------------------
# Views
# --------------------------------------------------------------------------------------------------

_FILTERS = [
    OpenApiParameter("q", str, description="Substring of the message text or external id."),
    OpenApiParameter("tag", str, description="Only transcripts with this tag."),
    OpenApiParameter("source", str, description="Only transcripts from this source."),
    OpenApiParameter("import", int, description="Only transcripts created by this import."),
]


class TranscriptListView(WorkspaceAPIMixin, generics.ListAPIView):
    read_role = Role.REVIEWER
    serializer_class = TranscriptSummaryOutput
    pagination_class = CreatedCursorPagination

    def get_queryset(self):  # type: ignore[no-untyped-def]
        filters = selectors.TranscriptFilters.from_params(self.request.query_params)
        return selectors.transcript_list(self.workspace, filters)

    @extend_schema(parameters=_FILTERS, summary="Transcripts (newest first, cursor pages)")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class TranscriptDetailView(WorkspaceAPIMixin, APIView):
    read_role = Role.REVIEWER

    @extend_schema(responses=TranscriptOutput, summary="One transcript with its messages")
    def get(self, request: Request, workspace: str, transcript_id: int) -> Response:
        transcript = selectors.transcript_get(self.workspace, transcript_id)
        return Response(TranscriptOutput(transcript).data)


class ImportListView(WorkspaceAPIMixin, generics.ListAPIView):
    read_role = Role.REVIEWER
    write_role = Role.EDITOR
    serializer_class = ImportListOutput
    pagination_class = CreatedCursorPagination

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.import_list(self.workspace)

    @extend_schema(summary="Imports (newest first)")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": ImportInput, "application/json": ImportInput},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                location=OpenApiParameter.HEADER,
                description="Retrying with the same key returns the original import (200).",
            )
        ],
        responses={
            201: ImportOutput,
            200: OpenApiResponse(ImportOutput, description="Idempotent replay"),
            413: OpenApiResponse(description="Over the upload limit"),
        },
        summary="Start an import (runs in the background; poll the import for progress)",
    )
    def post(self, request: Request, workspace: str) -> Response:
        key = request.headers.get("Idempotency-Key", "").strip()[:128]
        if key:
            existing = TranscriptImport.objects.filter(
                workspace=self.workspace, idempotency_key=key
            ).first()
            if existing is not None:
                return Response(ImportOutput(existing).data, status=status.HTTP_200_OK)
        data = ImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        upload = values.get("file")
        if upload is not None:
            if upload.size > services.max_upload_bytes():
                raise PayloadTooLarge(
                    f"The file is larger than the limit of {services.max_upload_bytes()} bytes."
                )
            filename = upload.name
        else:
            upload = io.BytesIO(b"".join(orjson.dumps(r) + b"\n" for r in values["records"]))
            filename = "records.jsonl"
        try:
            run, created = services.transcript_import_create(
                workspace=self.workspace,
                actor=request.user,
                upload=upload,
                filename=filename,
                format=values.get("format") or ("openai_jsonl" if "records" in values else ""),
                source=values.get("source", ""),
                tags=values.get("tags", []),
                id_prefix=values.get("id_prefix", ""),
                mode=values["mode"],
                idempotency_key=key,
            )
        except services.ImportTooLarge as error:
            raise PayloadTooLarge(error.messages[0]) from error
        except ValidationError as error:
            raise serializers.ValidationError(error.messages) from error
        return Response(
            ImportOutput(run).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ImportDetailView(WorkspaceAPIMixin, APIView):
    read_role = Role.REVIEWER

    @extend_schema(responses=ImportOutput, summary="One import: status, counters, error report")
    def get(self, request: Request, workspace: str, import_id: int) -> Response:
        return Response(ImportOutput(selectors.import_get(self.workspace, import_id)).data)
