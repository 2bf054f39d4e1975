"""REST API for specs, versions, clauses, examples, diffs, exports and rename decisions.

Every view resolves the workspace through ``WorkspaceAPIMixin`` and builds its queries from it.
Writes (create, import, publish, alias decisions) need the editor role and go through
``specs.services``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clausebook.access import WorkspaceAPIMixin
from clausebook.api_errors import Conflict
from specs import presenters, selectors, services
from specs.forms import MAX_SPEC_BYTES, label_validator
from specs.models import Authority, Clause, ClauseAlias, Spec, SpecVersion
from specs.spec_markdown import SpecSyntaxError

# --------------------------------------------------------------------------------------------
# Serializers


class SpecOutput(serializers.ModelSerializer):
    class Meta:
        model = Spec
        fields = ["slug", "title", "description", "created_at"]


class SpecInput(serializers.Serializer):
    slug = serializers.SlugField(max_length=80)
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class VersionOutput(serializers.ModelSerializer):
    class Meta:
        model = SpecVersion
        fields = [
            "label",
            "status",
            "dialect",
            "source_filename",
            "source_sha256",
            "clause_count",
            "example_count",
            "eval_prompt_count",
            "warnings",
            "created_at",
            "published_at",
        ]


class VersionImportInput(serializers.Serializer):
    label = serializers.CharField(max_length=60, validators=[label_validator])
    markdown = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, max_length=MAX_SPEC_BYTES
    )
    file = serializers.FileField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        upload = attrs.pop("file", None)
        attrs["filename"] = ""
        if upload is not None:
            if upload.size > MAX_SPEC_BYTES:
                raise serializers.ValidationError({"file": "File too large."})
            try:
                attrs["markdown"] = upload.read().decode("utf-8")
            except UnicodeDecodeError as error:
                raise serializers.ValidationError({"file": "The file is not UTF-8."}) from error
            attrs["filename"] = upload.name[:255]
        if not (attrs.get("markdown") or "").strip():
            raise serializers.ValidationError("Send 'markdown' text or a 'file'.")
        return attrs


class SyntaxErrorOutput(serializers.Serializer):
    detail = serializers.CharField()
    line = serializers.IntegerField()


class ClauseOutput(serializers.ModelSerializer):
    parent_key = serializers.CharField(source="parent.key", default=None, allow_null=True)

    class Meta:
        model = Clause
        fields = [
            "key",
            "title",
            "level",
            "position",
            "parent_key",
            "authority",
            "authority_source",
            "tags",
            "references",
            "footnotes",
        ]


class ExampleOutput(serializers.Serializer):
    position = serializers.IntegerField()
    title = serializers.CharField()
    turns = serializers.JSONField()
    between_turns = serializers.JSONField()
    fingerprint = serializers.CharField()
    origin = serializers.CharField()


class EvalPromptOutput(serializers.Serializer):
    id = serializers.IntegerField()
    footnote_id = serializers.CharField()
    position = serializers.IntegerField()
    title = serializers.CharField()
    messages = serializers.JSONField()


class ClauseDetailOutput(ClauseOutput):
    body = serializers.CharField()
    examples = ExampleOutput(many=True)
    eval_prompts = EvalPromptOutput(many=True)

    class Meta(ClauseOutput.Meta):
        fields = [*ClauseOutput.Meta.fields, "body", "examples", "eval_prompts"]


class SegmentField(serializers.ListField):
    child = serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2)


class ClauseChangeOutput(serializers.Serializer):
    """Identity fields always; the diff payload only when there is something to show."""

    status = serializers.CharField()
    key = serializers.CharField()
    old_key = serializers.CharField(allow_null=True)
    title = serializers.CharField()
    changed = serializers.BooleanField()
    moved = serializers.BooleanField()
    renamed_from = serializers.CharField(allow_null=True)
    title_diff = SegmentField(required=False)
    body_diff = SegmentField(required=False)
    authority_change = serializers.ListField(
        child=serializers.CharField(allow_null=True), required=False
    )
    tags_change = serializers.DictField(required=False)
    examples_added = serializers.ListField(child=serializers.CharField(), required=False)
    examples_removed = serializers.ListField(child=serializers.CharField(), required=False)
    parent_change = serializers.ListField(
        child=serializers.CharField(allow_null=True), required=False
    )


class ProbableRenameOutput(serializers.Serializer):
    old_key = serializers.CharField()
    new_key = serializers.CharField()
    similarity = serializers.FloatField()
    old_title = serializers.CharField()
    new_title = serializers.CharField()


class DiffOutput(serializers.Serializer):
    from_label = serializers.CharField(source="from")
    to_label = serializers.CharField(source="to")
    summary = serializers.DictField(child=serializers.IntegerField())
    clauses = ClauseChangeOutput(many=True)
    probable_renames = ProbableRenameOutput(many=True)


class AliasOutput(serializers.ModelSerializer):
    class Meta:
        model = ClauseAlias
        fields = ["old_key", "new_key", "status", "similarity", "decided_at"]


class AliasInput(serializers.Serializer):
    old_key = serializers.CharField(max_length=120)
    new_key = serializers.CharField(max_length=120)
    decision = serializers.ChoiceField(choices=["confirm", "reject"])
    similarity = serializers.FloatField(required=False, min_value=0, max_value=1, default=0)


# --------------------------------------------------------------------------------------------
# Helpers


class SpecScopedMixin(WorkspaceAPIMixin):
    """Resolves ``spec`` (and ``label``) from the URL inside the workspace, or 404."""

    kwargs: dict[str, Any]

    def get_spec(self) -> Spec:
        return selectors.spec_get(self.workspace, self.kwargs["spec"])

    def get_version(self) -> SpecVersion:
        return selectors.version_get(self.workspace, self.kwargs["spec"], self.kwargs["label"])


def _bad_request(error: ValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(
        error.message_dict if hasattr(error, "error_dict") else {"detail": error.messages}
    )


# --------------------------------------------------------------------------------------------
# Views


class SpecListView(WorkspaceAPIMixin, generics.ListAPIView):
    serializer_class = SpecOutput

    def get_queryset(self) -> QuerySet[Spec]:
        return selectors.specs_in(self.workspace)

    @extend_schema(summary="Specs of the workspace")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=SpecInput, responses={201: SpecOutput}, summary="Create a spec (editor)")
    def post(self, request: Request, workspace: str) -> Response:
        data = SpecInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            spec = services.spec_create(
                workspace=self.workspace, actor=request.user, **data.validated_data
            )
        except ValidationError as error:
            raise _bad_request(error) from error
        return Response(SpecOutput(spec).data, status=status.HTTP_201_CREATED)


class SpecDetailView(SpecScopedMixin, APIView):
    @extend_schema(responses=SpecOutput, summary="One spec")
    def get(self, request: Request, workspace: str, spec: str) -> Response:
        return Response(SpecOutput(self.get_spec()).data)


class VersionListView(SpecScopedMixin, generics.ListAPIView):
    """GET: versions, newest first. POST: import Markdown as a new draft version (editor)."""

    serializer_class = VersionOutput
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[SpecVersion]:
        return SpecVersion.objects.filter(spec=self.get_spec()).order_by("-label")

    @extend_schema(summary="Versions of a spec, newest first")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request={"application/json": VersionImportInput, "multipart/form-data": VersionImportInput},
        responses={
            201: VersionOutput,
            400: OpenApiResponse(SyntaxErrorOutput, description="Markdown syntax error"),
        },
        summary="Import a version from Markdown (editor); stored as a draft",
    )
    def post(self, request: Request, workspace: str, spec: str) -> Response:
        spec_obj = self.get_spec()
        data = VersionImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            version = services.spec_version_import(
                spec=spec_obj, actor=request.user, **data.validated_data
            )
        except SpecSyntaxError as error:
            return Response(
                {"detail": f"line {error.line}: {error.message}", "line": error.line},
                status=status.HTTP_400_BAD_REQUEST,
            )
        except ValidationError as error:
            raise _bad_request(error) from error
        return Response(VersionOutput(version).data, status=status.HTTP_201_CREATED)


class VersionDetailView(SpecScopedMixin, APIView):
    @extend_schema(responses=VersionOutput, summary="One version")
    def get(self, request: Request, workspace: str, spec: str, label: str) -> Response:
        return Response(VersionOutput(self.get_version()).data)


class VersionPublishView(SpecScopedMixin, APIView):
    @extend_schema(
        request=None,
        responses={200: VersionOutput, 409: OpenApiResponse(description="Already published")},
        summary="Publish a draft version (editor); it can never change afterwards",
    )
    def post(self, request: Request, workspace: str, spec: str, label: str) -> Response:
        version = self.get_version()
        try:
            version = services.spec_version_publish(version=version, actor=request.user)
        except services.VersionNotDraft as error:
            raise Conflict(" ".join(error.messages), current=VersionOutput(version).data) from error
        return Response(VersionOutput(version).data)


class VersionExportView(SpecScopedMixin, APIView):
    @extend_schema(
        responses={(200, "text/markdown"): OpenApiTypes.STR},
        summary="The version as Markdown in its dialect (attachment)",
    )
    def get(self, request: Request, workspace: str, spec: str, label: str) -> HttpResponse:
        version = self.get_version()
        response = HttpResponse(
            selectors.version_export(version), content_type="text/markdown; charset=utf-8"
        )
        response["Content-Disposition"] = content_disposition_header(
            True, presenters.export_filename(version)
        )
        return response


class ClauseListView(SpecScopedMixin, generics.ListAPIView):
    serializer_class = ClauseOutput

    def get_queryset(self) -> QuerySet[Clause]:
        version = self.get_version()
        clauses = (
            Clause.objects.filter(version=version).select_related("parent").order_by("position")
        )
        params = self.request.query_params
        if params.get("authority"):
            clauses = clauses.filter(authority=params["authority"])
        if params.get("tag"):
            clauses = clauses.filter(tags__contains=[params["tag"]])
        if params.get("q"):
            from django.contrib.postgres.search import SearchQuery

            clauses = clauses.filter(
                search_vector=SearchQuery(params["q"], search_type="websearch", config="english")
            )
        return clauses

    @extend_schema(
        parameters=[
            OpenApiParameter("authority", str, enum=[a.value for a in Authority]),
            OpenApiParameter("tag", str),
            OpenApiParameter("q", str, description="Full-text search (web search syntax)"),
        ],
        summary="Clauses of a version in document order",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class ClauseDetailView(SpecScopedMixin, APIView):
    @extend_schema(responses=ClauseDetailOutput, summary="One clause with examples and prompts")
    def get(self, request: Request, workspace: str, spec: str, label: str, key: str) -> Response:
        version = self.get_version()
        clause = (
            Clause.objects.filter(version=version, key=key)
            .select_related("parent")
            .prefetch_related("examples", "eval_prompts")
            .first()
        )
        if clause is None:
            raise Http404("No such clause")
        return Response(ClauseDetailOutput(clause).data)


class VersionDiffView(SpecScopedMixin, APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, required=True, description="Old version label"),
            OpenApiParameter("to", str, required=True, description="New version label"),
        ],
        responses=DiffOutput,
        summary="Diff two versions: summary, per-clause word diffs, probable renames",
    )
    def get(self, request: Request, workspace: str, spec: str) -> Response:
        spec_obj = self.get_spec()
        labels = {name: request.query_params.get(name, "") for name in ("from", "to")}
        found = {
            v.label: v for v in SpecVersion.objects.filter(spec=spec_obj, label__in=labels.values())
        }
        missing = [name for name, label in labels.items() if label not in found]
        if missing:
            raise serializers.ValidationError(dict.fromkeys(missing, "Unknown version label."))
        old, new = found[labels["from"]], found[labels["to"]]
        old.spec = new.spec = spec_obj
        diff = selectors.version_diff(old, new).to_dict()
        return Response(DiffOutput({"from": old.label, "to": new.label, **diff}).data)


class AliasListView(SpecScopedMixin, generics.ListAPIView):
    """GET: rename decisions of the spec. POST: confirm or reject a probable rename (editor)."""

    serializer_class = AliasOutput

    def get_queryset(self) -> QuerySet[ClauseAlias]:
        return ClauseAlias.objects.filter(spec=self.get_spec()).order_by("old_key", "new_key")

    @extend_schema(summary="Rename decisions (confirmed aliases and rejected proposals)")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=AliasInput, responses=AliasOutput, summary="Confirm or reject a rename (editor)"
    )
    def post(self, request: Request, workspace: str, spec: str) -> Response:
        data = AliasInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            alias = services.clause_alias_decide(
                spec=self.get_spec(),
                old_key=values["old_key"],
                new_key=values["new_key"],
                confirm=values["decision"] == "confirm",
                similarity=values["similarity"],
                actor=request.user,
            )
        except ValidationError as error:
            raise _bad_request(error) from error
        return Response(AliasOutput(alias).data)
