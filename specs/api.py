"""REST API for specs, versions, clauses, examples, diffs, exports and rename decisions.

Every view resolves the workspace through ``WorkspaceAPIMixin`` and its objects through
``specs.access``, then reads through the selectors the pages use. Writes (create, import,
publish, alias decisions) need the editor role and go through ``specs.services``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clausebook.access import WorkspaceAPIMixin
from clausebook.api_errors import Conflict
from clausebook.parsers import JSONParser
from specs import access, presenters, selectors, services
from specs.models import (
    CLAUSE_KEY_MAX_LENGTH,
    SOURCE_FILENAME_MAX_LENGTH,
    SPEC_SLUG_MAX_LENGTH,
    SPEC_SOURCE_MAX_BYTES,
    SPEC_TITLE_MAX_LENGTH,
    VERSION_LABEL_MAX_LENGTH,
    Authority,
    Clause,
    ClauseAlias,
    Spec,
    SpecVersion,
    version_label_validator,
)
from specs.spec_markdown import SpecSyntaxError

# --------------------------------------------------------------------------------------------
# Serializers


class SpecOutput(serializers.ModelSerializer):
    class Meta:
        model = Spec
        fields = ["id", "slug", "title", "description", "created_at"]


class SpecInput(serializers.Serializer):
    slug = serializers.SlugField(max_length=SPEC_SLUG_MAX_LENGTH)
    title = serializers.CharField(max_length=SPEC_TITLE_MAX_LENGTH)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class VersionOutput(serializers.ModelSerializer):
    class Meta:
        model = SpecVersion
        fields = [
            "id",
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
    label = serializers.CharField(
        max_length=VERSION_LABEL_MAX_LENGTH, validators=[version_label_validator]
    )
    markdown = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, max_length=SPEC_SOURCE_MAX_BYTES
    )
    file = serializers.FileField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        upload = attrs.pop("file", None)
        attrs["filename"] = ""
        if upload is not None:
            if upload.size > SPEC_SOURCE_MAX_BYTES:
                raise serializers.ValidationError({"file": "File too large."})
            try:
                attrs["markdown"] = upload.read().decode("utf-8")
            except UnicodeDecodeError as error:
                raise serializers.ValidationError({"file": "The file is not UTF-8."}) from error
            attrs["filename"] = upload.name[:SOURCE_FILENAME_MAX_LENGTH]
        if not (attrs.get("markdown") or "").strip():
            raise serializers.ValidationError("Send 'markdown' text or a 'file'.")
        return attrs


class SyntaxErrorOutput(serializers.Serializer):
    """The 400 of a Markdown syntax error: the API's field shape plus the line number."""

    markdown = serializers.ListField(child=serializers.CharField())
    line = serializers.IntegerField()


class ClauseOutput(serializers.ModelSerializer):
    parent_key = serializers.CharField(source="parent.key", default=None, allow_null=True)

    class Meta:
        model = Clause
        fields = [
            "id",
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
    body_diff = SegmentField(
        required=False, help_text="Word diff of the body as a reader reads it (plain text)."
    )
    markup_only = serializers.BooleanField(
        required=False, help_text="The body's Markdown changed but it reads the same."
    )
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
    old_key = serializers.CharField(max_length=CLAUSE_KEY_MAX_LENGTH)
    new_key = serializers.CharField(max_length=CLAUSE_KEY_MAX_LENGTH)
    decision = serializers.ChoiceField(choices=["confirm", "reject"])
    similarity = serializers.FloatField(required=False, min_value=0, max_value=1, default=0)


# --------------------------------------------------------------------------------------------
# Helpers


class SpecScopedMixin(WorkspaceAPIMixin):
    """Resolves ``spec`` (and ``label``) from the URL inside the workspace, or 404."""

    kwargs: dict[str, Any]

    def get_spec(self) -> Spec:
        return access.spec_for(self.workspace, self.kwargs["spec"])

    def get_version(self) -> SpecVersion:
        return access.version_for(self.workspace, self.kwargs["spec"], self.kwargs["label"])


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
        # A ValidationError from the service becomes the API's 400 (clausebook.api_errors).
        spec = services.spec_create(
            workspace=self.workspace, actor=request.user, **data.validated_data
        )
        return Response(SpecOutput(spec).data, status=status.HTTP_201_CREATED)


class SpecDetailView(SpecScopedMixin, APIView):
    @extend_schema(responses=SpecOutput, summary="One spec")
    def get(self, request: Request, workspace: str, spec: str) -> Response:
        return Response(SpecOutput(self.get_spec()).data)


class VersionListView(SpecScopedMixin, generics.ListAPIView):
    """GET: versions, newest first. POST: import Markdown as a new draft version (editor)."""

    serializer_class = VersionOutput
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self) -> list[SpecVersion]:  # type: ignore[override]
        return selectors.versions_of(self.get_spec())

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
            # Answered here, not by the exception handler: ``line`` stays a number.
            return Response(
                {"markdown": [str(error)], "line": error.line},
                status=status.HTTP_400_BAD_REQUEST,
            )
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
        return presenters.markdown_download(version, selectors.version_export(version))


class ClauseListView(SpecScopedMixin, generics.ListAPIView):
    serializer_class = ClauseOutput

    def get_queryset(self) -> QuerySet[Clause]:
        params = self.request.query_params
        authority = params.get("authority", "")
        if authority and authority not in Authority.values:
            raise serializers.ValidationError(
                {"authority": f"Unknown authority; one of {', '.join(Authority.values)}."}
            )
        return selectors.clause_list(
            self.get_version(),
            authority=authority,
            tag=params.get("tag", ""),
            query=params.get("q", ""),
        )

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
        clause = access.clause_for(self.get_version(), key)
        return Response(ClauseDetailOutput(selectors.clause_with_content(clause)).data)


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
        labels = {name: request.query_params.get(name, "") for name in ("from", "to")}
        found = {version.label: version for version in selectors.versions_of(self.get_spec())}
        missing = [name for name, label in labels.items() if label not in found]
        if missing:
            raise serializers.ValidationError(dict.fromkeys(missing, "Unknown version label."))
        old, new = found[labels["from"]], found[labels["to"]]
        diff = selectors.version_diff(old, new).to_dict()
        return Response(DiffOutput({"from": old.label, "to": new.label, **diff}).data)


class AliasListView(SpecScopedMixin, generics.ListAPIView):
    """GET: rename decisions of the spec. POST: confirm or reject a probable rename (editor)."""

    serializer_class = AliasOutput

    def get_queryset(self) -> QuerySet[ClauseAlias]:
        return selectors.aliases_of(self.get_spec())

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
        alias = services.clause_alias_decide(
            spec=self.get_spec(),
            old_key=values["old_key"],
            new_key=values["new_key"],
            confirm=values["decision"] == "confirm",
            similarity=values["similarity"],
            actor=request.user,
        )
        return Response(AliasOutput(alias).data)
