"""REST API for transcripts, imports and scenarios.

Every view resolves the workspace through ``WorkspaceAPIMixin`` and reads through
:mod:`transcripts.access` (the same access and selectors as the pages): ids from another workspace
are 404. Reviewers and above read transcripts and imports, every member reads scenarios; editors
and above import and retry. Filters are an allow-list (``q``, ``tag``, ``source``, ``import``);
other parameters are ignored (T10). Errors take the project's one
shape (``clausebook.api_errors``): a service's ``ValidationError`` is a 400 naming the option.
"""

from __future__ import annotations

import io
from typing import Any

import orjson
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import generics, parsers, serializers, status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from clausebook import parsers as clausebook_parsers
from clausebook.access import WorkspaceAPIMixin
from clausebook.api_errors import Conflict
from clausebook.pagination import NewestFirstKeysetPagination
from clausebook.renderers import ORJSONRenderer
from transcripts import access, selectors, services
from transcripts.formats import FORMATS, ROLE_NAMES
from transcripts.formats.limits import (
    MAX_ID_PREFIX,
    MAX_IMPORT_TAGS,
    MAX_SOURCE,
    MAX_TAG,
)
from transcripts.importing.uploads import ImportUploadHandler, UploadTooLarge
from transcripts.models import Scenario, Transcript, TranscriptImport

#: Records per JSON request (larger sets go as a file).
MAX_RECORDS = 10_000

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
            "origin",
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
    role = serializers.ChoiceField(choices=ROLE_NAMES)
    content = serializers.CharField(allow_blank=True)
    name = serializers.CharField(required=False)
    tool_calls = ToolCall(many=True, required=False)
    tool_call_id = serializers.CharField(required=False)


@extend_schema_field(MessageOutput(many=True))
class MessagesField(serializers.JSONField):
    """The stored messages as they are: the import validated them, so a list of 100 transcripts
    does not pay a nested serializer per message (the schema is :class:`MessageOutput`'s)."""


class TranscriptWithMessagesOutput(TranscriptSummaryOutput):
    messages = MessagesField(read_only=True)

    class Meta(TranscriptSummaryOutput.Meta):
        fields = [*TranscriptSummaryOutput.Meta.fields, "messages"]


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
            "origin",
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
    can_retry = serializers.SerializerMethodField(
        help_text="Whether POST …/retry/ can run it again from the kept upload (for an import "
        "whose rows were rejected: with mode=valid_rows)."
    )
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
            "failure",
            "attempts",
            "can_retry",
            "errors",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_can_retry(self, run: TranscriptImport) -> bool:
        return run.can_retry or run.can_retry_valid_rows


class ImportListOutput(ImportOutput):
    class Meta(ImportOutput.Meta):
        fields = [f for f in ImportOutput.Meta.fields if f != "errors"]


class ImportInput(serializers.Serializer):
    """Either ``file`` (multipart) or ``records`` (JSON: OpenAI-style objects with ``messages``)."""

    file = serializers.FileField(required=False)
    records = serializers.ListField(
        child=serializers.DictField(), required=False, max_length=MAX_RECORDS, allow_empty=False
    )
    format = serializers.ChoiceField(choices=list(FORMATS), required=False, allow_blank=True)
    source = serializers.CharField(max_length=MAX_SOURCE, required=False, allow_blank=True)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=MAX_TAG), required=False, max_length=MAX_IMPORT_TAGS
    )
    id_prefix = serializers.CharField(max_length=MAX_ID_PREFIX, required=False, allow_blank=True)
    mode = serializers.ChoiceField(
        choices=TranscriptImport.Mode.choices, default=TranscriptImport.Mode.ALL_OR_NOTHING
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("file")) == bool(attrs.get("records")):
            raise serializers.ValidationError("Send exactly one of 'file' or 'records'.")
        return attrs


class ImportRetryInput(serializers.Serializer):
    mode = serializers.ChoiceField(
        choices=TranscriptImport.Mode.choices,
        required=False,
        help_text="valid_rows: import the valid rows of an import refused all-or-nothing.",
    )


class ScenarioSummaryOutput(serializers.ModelSerializer):
    import_id = serializers.IntegerField(source="import_run_id", allow_null=True)
    message_count = serializers.IntegerField()

    class Meta:
        model = Scenario
        fields = [
            "id",
            "source",
            "title",
            "external_id",
            "message_count",
            "content_hash",
            "import_id",
            "created_at",
        ]


class ScenarioFlagOutput(serializers.Serializer):
    id = serializers.IntegerField()
    flagged_by = serializers.CharField(source="flagged_by.short_name")
    reason = serializers.CharField()
    clause_id = serializers.IntegerField(allow_null=True, help_text="None: the whole transcript.")
    clause_key = serializers.CharField(source="clause.key", allow_null=True, default=None)
    transcript_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)


class ScenarioOutput(serializers.ModelSerializer):
    flags = serializers.SerializerMethodField(help_text="Who flagged it, about what, and why.")
    import_id = serializers.IntegerField(source="import_run_id", allow_null=True)
    eval_prompt_id = serializers.IntegerField(allow_null=True)
    example_id = serializers.IntegerField(allow_null=True)
    origin_transcript_id = serializers.IntegerField(allow_null=True)
    messages = MessageOutput(many=True)
    metadata = serializers.JSONField()

    class Meta:
        model = Scenario
        fields = [
            "id",
            "source",
            "title",
            "external_id",
            "messages",
            "metadata",
            "content_hash",
            "import_id",
            "eval_prompt_id",
            "example_id",
            "origin_transcript_id",
            "cut_before_turn",
            "flags",
            "created_at",
        ]

    @extend_schema_field(ScenarioFlagOutput(many=True))
    def get_flags(self, scenario: Scenario) -> list[dict[str, Any]]:
        return ScenarioFlagOutput(selectors.scenario_flags(scenario), many=True).data  # type: ignore[return-value]


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


class JSONLinesUploadParser(parsers.FileUploadParser):
    """A raw JSON-lines body (``Content-Type: application/x-ndjson``) is the import's file.

    Streamed to the upload folder by the request's upload handler; the options travel in the
    query string. The file name comes from ``Content-Disposition`` if the client sends one.
    """

    media_type = "application/x-ndjson"

    def get_filename(self, stream: Any, media_type: Any, parser_context: Any) -> str:
        return super().get_filename(stream, media_type, parser_context) or "upload.jsonl"


class JSONLUploadParser(JSONLinesUploadParser):
    """The same body under the other name clients use for it."""

    media_type = "application/jsonl"


#: Content types of a raw-body upload, for the schema.
RAW_UPLOAD_TYPES = (JSONLinesUploadParser.media_type, JSONLUploadParser.media_type)


# --------------------------------------------------------------------------------------------------
# Views
# --------------------------------------------------------------------------------------------------

#: What ``?include=`` may add to each row of the transcript list.
TRANSCRIPT_INCLUDES = ("messages",)


def _includes(params: Any) -> set[str]:
    """``include=messages`` (comma-separated); an unknown name is a 400 naming it."""
    names = {n.strip() for n in (params.get("include") or "").split(",") if n.strip()}
    unknown = sorted(names - set(TRANSCRIPT_INCLUDES))
    if unknown:
        raise serializers.ValidationError(
            {
                "include": [
                    f"Unknown '{unknown[0][:40]}': send one of {', '.join(TRANSCRIPT_INCLUDES)}."
                ]
            }
        )
    return names


_FILTERS = [
    OpenApiParameter("q", str, description="Substring of the message text or external id."),
    OpenApiParameter("tag", str, description="Only transcripts with this tag."),
    OpenApiParameter("source", str, description="Only transcripts from this source."),
    OpenApiParameter("import", int, description="Only transcripts created by this import."),
]


class TranscriptListView(WorkspaceAPIMixin, generics.ListAPIView):
    """Rows as PostgreSQL builds them (:func:`selectors.transcript_rows_json`), sent verbatim:
    the serializers below describe them for the schema, and a test holds the two the same."""

    read_role = access.READ_ROLE
    serializer_class = TranscriptSummaryOutput
    pagination_class = NewestFirstKeysetPagination
    renderer_classes = [
        ORJSONRenderer,
        *(r for r in api_settings.DEFAULT_RENDERER_CLASSES if r.format != "json"),
    ]

    def keyset_prefix(self) -> dict[str, int]:
        """Pages are ranges of the ``(workspace, id)`` index (see KeysetPagination)."""
        return {"workspace_id": self.workspace.pk}

    def keyset_counts(self) -> dict[str, int | None] | None:
        """The unfiltered list's total is kept, not counted; a filtered one is counted."""
        if selectors.TranscriptFilters.from_params(self.request.query_params).active:
            return None
        return selectors.transcript_list_totals(self.workspace)

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        if "messages" in _includes(self.request.query_params):
            return TranscriptWithMessagesOutput
        return TranscriptSummaryOutput

    def get_queryset(self):  # type: ignore[no-untyped-def]
        params = self.request.query_params
        with_messages = "messages" in _includes(params)
        transcripts = access.transcripts_for_user(
            self.membership,
            selectors.TranscriptFilters.from_params(params),
            with_messages=with_messages,
        )
        return selectors.transcript_rows_json(transcripts, with_messages=with_messages)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rows = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(
            orjson.Fragment(b"[" + ",".join(row.row_json for row in rows).encode() + b"]")
        )

    @extend_schema(
        parameters=[
            *_FILTERS,
            OpenApiParameter(
                "include",
                str,
                enum=TRANSCRIPT_INCLUDES,
                description="messages: each row carries the transcript's messages (as the "
                "detail does), so a page of 100 needs no further request. Same access as the "
                "list: your workspace's transcripts, every member.",
            ),
        ],
        responses=TranscriptWithMessagesOutput(many=True),
        summary="Transcripts (newest first, keyset pages by id; optionally with their messages)",
        description="Newest first (descending id). Keyset pages: follow next/previous, or start "
        "anywhere with after=<id> (the page that follows that id: smaller ids) or before=<id>. A "
        "page costs the same at any depth. total (with min_id and max_id, to aim a jump) is "
        "given on the first page only, or on any page with count=true: without filters it is "
        "a count kept per workspace (exact, and as cheap at 100k rows as at 10), with filters "
        "it is counted. Rows are "
        "TranscriptSummary; with include=messages they also carry messages.",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class TranscriptDetailView(WorkspaceAPIMixin, APIView):
    read_role = access.READ_ROLE

    @extend_schema(responses=TranscriptOutput, summary="One transcript with its messages")
    def get(self, request: Request, workspace: str, transcript_id: int) -> Response:
        transcript = access.transcript_for_user(self.membership, transcript_id)
        return Response(TranscriptOutput(transcript).data)


class ImportListView(WorkspaceAPIMixin, generics.ListAPIView):
    read_role = access.READ_ROLE
    write_role = access.IMPORT_ROLE
    serializer_class = ImportListOutput
    pagination_class = NewestFirstKeysetPagination

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return access.imports_for_user(self.membership)

    @extend_schema(summary="Imports (newest first, keyset pages by id)")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    parser_classes = [
        clausebook_parsers.JSONParser,
        parsers.MultiPartParser,
        parsers.FormParser,
        JSONLinesUploadParser,
        JSONLUploadParser,
    ]
    upload: ImportUploadHandler | None = None

    def initialize_request(self, request: Any, *args: Any, **kwargs: Any) -> Request:
        if request.method == "POST":
            # Before anything reads the body: the file goes once, straight to the upload folder.
            self.upload = ImportUploadHandler(
                request, directory=services.upload_dir(), limit=services.max_upload_bytes()
            )
            request.upload_handlers = [self.upload]
        return super().initialize_request(request, *args, **kwargs)

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            # A refused request or an idempotent replay: the stored body belongs to no import.
            if self.upload is not None:
                self.upload.discard()

    @extend_schema(
        request={
            "multipart/form-data": ImportInput,
            "application/json": ImportInput,
            **dict.fromkeys(RAW_UPLOAD_TYPES, OpenApiTypes.BINARY),
        },
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                location=OpenApiParameter.HEADER,
                description="Retrying with the same key returns the original import (200), "
                "also when the first request is still in flight.",
            ),
            *[
                OpenApiParameter(
                    name,
                    kind,
                    many=name == "tags",
                    description=f"With a raw {' or '.join(RAW_UPLOAD_TYPES)} body (the file "
                    f"itself, streamed; the fastest way to send a large file): {help_text}",
                )
                for name, kind, help_text in (
                    ("format", str, "the file's format (default: detected)."),
                    ("source", str, "where the transcripts came from."),
                    ("tags", str, "tags for every transcript (repeat the parameter)."),
                    ("id_prefix", str, "prefix for every external id."),
                    ("mode", str, "all_or_nothing (default) or valid_rows."),
                )
            ],
        ],
        responses={
            201: ImportOutput,
            200: OpenApiResponse(ImportOutput, description="Idempotent replay"),
            413: OpenApiResponse(description="Over the upload limit (CLAUSEBOOK_MAX_UPLOAD_BYTES)"),
        },
        summary="Start an import (runs in the background; poll the import for progress)",
    )
    def post(self, request: Request, workspace: str) -> Response:
        access.require_import_right(self.membership)
        try:
            payload = request.data
        except UploadTooLarge as error:
            raise PayloadTooLarge(str(error)) from error
        if request.content_type.split(";")[0].strip() in RAW_UPLOAD_TYPES:
            # The body is the file; the options come from the query string.
            payload, file = request.query_params.copy(), payload.get("file")
            payload.setlist("file", [file] if file is not None else [])
        data = ImportInput(data=payload)
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
                # Checked by the service, the one place for it (the CLI's --idempotency-key too).
                idempotency_key=request.headers.get("Idempotency-Key", ""),
            )
        except services.ImportTooLarge as error:
            raise PayloadTooLarge(error.messages[0]) from error
        return Response(
            ImportOutput(run).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ImportDetailView(WorkspaceAPIMixin, APIView):
    read_role = access.READ_ROLE

    @extend_schema(responses=ImportOutput, summary="One import: status, counters, error report")
    def get(self, request: Request, workspace: str, import_id: int) -> Response:
        return Response(ImportOutput(access.import_for_user(self.membership, import_id)).data)


class ImportRetryView(WorkspaceAPIMixin, APIView):
    read_role = access.IMPORT_ROLE
    write_role = access.IMPORT_ROLE

    @extend_schema(
        request=ImportRetryInput,
        responses={
            202: ImportOutput,
            409: OpenApiResponse(description="Not failed in a retryable way, or upload gone"),
        },
        summary="Retry a failed import from its kept upload (no new upload)",
    )
    def post(self, request: Request, workspace: str, import_id: int) -> Response:
        run = access.import_for_user(self.membership, import_id)
        data = ImportRetryInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            run = services.transcript_import_retry(
                import_run=run, actor=request.user, mode=data.validated_data.get("mode", "")
            )
        except services.ImportNotRetryable as error:
            # 409 with the import as it stands: the client's idea of it was stale.
            raise Conflict(str(error), current=ImportOutput(error.import_run).data) from error
        return Response(ImportOutput(run).data, status=status.HTTP_202_ACCEPTED)


_SCENARIO_FILTERS = [
    OpenApiParameter(
        "source", str, enum=Scenario.Source.values, description="Only scenarios of this source."
    ),
    OpenApiParameter("import", int, description="Only scenarios created by this import."),
    OpenApiParameter("q", str, description="Substring of the title or external id."),
]


class ScenarioListView(WorkspaceAPIMixin, generics.ListAPIView):
    read_role = access.SCENARIO_READ_ROLE
    serializer_class = ScenarioSummaryOutput
    pagination_class = NewestFirstKeysetPagination

    def get_queryset(self):  # type: ignore[no-untyped-def]
        filters = selectors.ScenarioFilters.from_params(self.request.query_params)
        return access.scenarios_for_user(self.membership, filters)

    @extend_schema(
        parameters=_SCENARIO_FILTERS, summary="Scenarios (newest first, keyset pages by id)"
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class ScenarioDetailView(WorkspaceAPIMixin, APIView):
    read_role = access.SCENARIO_READ_ROLE

    @extend_schema(responses=ScenarioOutput, summary="One scenario with its messages")
    def get(self, request: Request, workspace: str, scenario_id: int) -> Response:
        scenario = access.scenario_for_user(self.membership, scenario_id)
        return Response(ScenarioOutput(scenario).data)
