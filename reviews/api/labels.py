"""REST API for labels: save (the one contract the labeling page posts too), read, list, update
one, import.

Every view scopes by workspace through ``WorkspaceAPIMixin``; objects are resolved through
``reviews.access`` (404 outside the workspace, 403 without the right) and read through the
selectors the page uses. Labels are written only through the signed-in user's own assignment:
reviewer, item, status and revision are never read from input (the revision sent is only
compared, never stored). Services raise; the API's one exception handler answers.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from clausebook.access import WorkspaceAPIMixin
from clausebook.api_errors import Conflict
from clausebook.models import Role
from clausebook.pagination import NewestFirstKeysetPagination
from clausebook.renderers import ORJSONRenderer
from reviews import access, presenters
from reviews.models import Label
from reviews.selectors import campaigns as campaign_selectors
from reviews.selectors import labels as label_selectors
from reviews.services.labels.core import (
    MAX_LABELS_PER_REQUEST,
    MAX_RATIONALE,
    MAX_SPAN_TEXT,
    MAX_SPANS,
    MAX_VALUE,
    LabelConflict,
    LabelInput,
)
from reviews.services.labels.imports import LabelImportRejected, LabelRow, labels_import
from reviews.services.labels.next import labels_submit_and_next
from reviews.services.labels.save import LabelsSaved, labels_save
from reviews.views import labeling as labeling_views

# --------------------------------------------------------------------------------------------------
# Serializers
# --------------------------------------------------------------------------------------------------


class JudgeRunOutput(serializers.Serializer):
    id = serializers.IntegerField()
    endpoint = serializers.CharField(source="endpoint.name")
    model = serializers.CharField(source="endpoint.model")
    prompt_version = serializers.CharField()


class LabelOutput(serializers.ModelSerializer):
    """A label. ``source`` says whose it is: a reviewer's (``reviewer`` set) or a model judge's
    (``judge_run`` set, with its endpoint and prompt version)."""

    reviewer = serializers.EmailField(source="reviewer.email", allow_null=True, default=None)
    clause_key = serializers.CharField(source="clause.key")
    transcript = serializers.IntegerField(source="item.transcript_id")
    campaign = serializers.IntegerField(source="campaign_id")
    judge_run = JudgeRunOutput(allow_null=True)

    class Meta:
        model = Label
        fields = [
            "id",
            "item",
            "transcript",
            "campaign",
            "source",
            "reviewer",
            "judge_run",
            "clause",
            "clause_key",
            "verdict",
            "severity",
            "rationale",
            "spans",
            "status",
            "revision",
            "updated_at",
        ]


class SpanInput(serializers.Serializer):
    message_index = serializers.IntegerField(min_value=0)
    start = serializers.IntegerField(min_value=0)
    end = serializers.IntegerField(min_value=1)
    text = serializers.CharField(allow_blank=True, required=False, max_length=MAX_SPAN_TEXT)


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}]})
class ClauseRefField(serializers.Field):
    """A clause of the campaign's scope, by id (a number) or by key (text)."""

    def to_internal_value(self, data: Any) -> int | str:
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        if isinstance(data, str) and data.strip() and len(data) <= 120:
            return data.strip()
        raise serializers.ValidationError("Give the clause's id (a number) or key (text).")

    def to_representation(self, value: Any) -> Any:
        return value


class LabelFieldsInput(serializers.Serializer):
    """The fields of one label. A field left out keeps its stored value."""

    verdict = serializers.CharField(allow_blank=True, required=False, max_length=MAX_VALUE)
    severity = serializers.CharField(allow_blank=True, required=False, max_length=MAX_VALUE)
    rationale = serializers.CharField(
        allow_blank=True, required=False, max_length=MAX_RATIONALE, trim_whitespace=False
    )
    spans = SpanInput(many=True, required=False, max_length=MAX_SPANS)


class LabelItemInput(LabelFieldsInput):
    clause = ClauseRefField()
    revision = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="The revision you last saw; omit (or null) only for the first save.",
    )


class LabelsSaveInput(serializers.Serializer):
    """The one save contract: the labels to save and whether to submit the item after."""

    labels = LabelItemInput(many=True, required=False, max_length=MAX_LABELS_PER_REQUEST)
    submit = serializers.BooleanField(default=False)
    next = serializers.BooleanField(
        default=False,
        help_text='With "submit": true, also claim your next item in this campaign and answer '
        "with it: label an item in one request.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("next") and not attrs.get("submit"):
            raise serializers.ValidationError(
                {"next": 'Ask for the next item only with "submit": true.'}
            )
        return attrs


class LabelUpdateInput(LabelFieldsInput):
    revision = serializers.IntegerField(min_value=1, help_text="The revision you last saw.")


class SavedLabelOutput(serializers.Serializer):
    """A label as a save answers it: every id and key a script needs to go on from it."""

    id = serializers.IntegerField()
    clause = serializers.IntegerField(help_text="The clause's id.")
    clause_key = serializers.CharField(help_text="The clause's key (labels may name it so).")
    item = serializers.IntegerField()
    transcript = serializers.IntegerField()
    campaign = serializers.IntegerField()
    source = serializers.CharField()
    reviewer = serializers.EmailField(allow_null=True)
    verdict = serializers.CharField()
    severity = serializers.CharField()
    rationale = serializers.CharField()
    spans = serializers.ListField(child=serializers.DictField())
    status = serializers.CharField()
    revision = serializers.IntegerField()
    updated_at = serializers.DateTimeField()


class SavedAssignmentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()


class SavedItemOutput(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField()
    transcript = serializers.IntegerField()
    campaign = serializers.IntegerField()


class LabelsSavedOutput(serializers.Serializer):
    labels = SavedLabelOutput(many=True)
    assignment = SavedAssignmentOutput()
    item = SavedItemOutput()


class NextAssignmentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()


class NextItemOutput(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    state = serializers.CharField()
    campaign = serializers.IntegerField()
    transcript = serializers.IntegerField()
    url = serializers.CharField(help_text="The item's labeling page.")


class NextTranscriptOutput(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    messages = serializers.ListField(child=serializers.DictField())


class NextClauseOutput(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    title = serializers.CharField()
    position = serializers.IntegerField()


class NextOutput(serializers.Serializer):
    """The item handed out next, with what labeling it needs."""

    assignment = NextAssignmentOutput()
    item = NextItemOutput()
    transcript = NextTranscriptOutput()
    clauses = NextClauseOutput(many=True)
    labels = SavedLabelOutput(many=True, help_text="Your labels on it (usually none yet).")


class LabelsSavedNextOutput(LabelsSavedOutput):
    next = NextOutput(
        allow_null=True, help_text='With "next": true; null when nothing is left for you.'
    )
    next_refused = serializers.CharField(
        required=False,
        help_text="Why no next item was handed out (the campaign was paused or closed, your "
        "seat removed) although the submit succeeded.",
    )


class ConflictOutput(serializers.Serializer):
    detail = serializers.CharField()
    current = serializers.JSONField(
        help_text="Each stale label as it is now: a list of {clause, label} for a save, the "
        "label itself for an update."
    )


class LabelImportRowInput(serializers.Serializer):
    external_id = serializers.CharField(max_length=200)
    clause_key = serializers.CharField(max_length=120)
    reviewer = serializers.CharField(
        max_length=254,
        help_text="Email of a member of the workspace (reviewer role or above): an import adds "
        "no members and creates no accounts.",
    )
    verdict = serializers.CharField(max_length=MAX_VALUE)
    rationale = serializers.CharField(
        allow_blank=True, required=False, default="", max_length=MAX_RATIONALE
    )
    severity = serializers.CharField(
        allow_blank=True, required=False, default="", max_length=MAX_VALUE
    )


class LabelImportInput(serializers.Serializer):
    rows = LabelImportRowInput(many=True)
    valid_rows = serializers.BooleanField(
        default=False, help_text="Import the valid rows and report the rest."
    )


class LabelImportOutput(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.DictField())
    items_created = serializers.IntegerField()
    applied = serializers.BooleanField()


def _label_input(values: dict[str, Any], clause: int | str, revision: int | None) -> LabelInput:
    return LabelInput(
        clause=clause,
        verdict=values.get("verdict"),
        severity=values.get("severity"),
        rationale=values.get("rationale"),
        spans=[dict(span) for span in values["spans"]] if "spans" in values else None,
        revision=revision,
    )


# The save body read without the serializer's per-field machinery, whose cost grows with every
# label (about 5 ms for 80 labels with spans, a third of the whole request). Only a body the
# serializer would accept exactly as it is (no value to trim, coerce or refuse) is read here;
# anything else goes through ``LabelsSaveInput``, so every error keeps its one wording and shape.
# A test holds the two readings equal.
_REFUSED_TEXT = re.compile("[\x00\ud800-\udfff]")  # what DRF's CharField refuses outright


def _is_int(value: Any, minimum: int) -> bool:
    return type(value) is int and value >= minimum


def _is_text(value: Any, max_length: int, *, trimmed: bool = True) -> bool:
    return (
        type(value) is str
        and len(value) <= max_length
        and (not trimmed or value == value.strip())
        and _REFUSED_TEXT.search(value) is None
    )


_SPAN_FIELDS = ("message_index", "start", "end", "text")


def _plain_spans(spans: Any) -> list[dict[str, Any]] | None:
    if type(spans) is not list or len(spans) > MAX_SPANS:
        return None
    clean = []
    for span in spans:
        if not (
            type(span) is dict
            and _is_int(span.get("message_index"), 0)
            and _is_int(span.get("start"), 0)
            and _is_int(span.get("end"), 1)
            and ("text" not in span or _is_text(span["text"], MAX_SPAN_TEXT))
        ):
            return None
        clean.append({name: span[name] for name in _SPAN_FIELDS if name in span})
    return clean


def _plain_label(values: Any) -> LabelInput | None:
    if type(values) is not dict:
        return None
    clause = values.get("clause")
    if not (_is_int(clause, -(2**63)) or (_is_text(clause, 120) and clause)):
        return None
    revision = values.get("revision")
    if revision is not None and not _is_int(revision, 1):
        return None
    text: dict[str, str | None] = {}
    for name, limit, trimmed in (
        ("verdict", MAX_VALUE, True),
        ("severity", MAX_VALUE, True),
        ("rationale", MAX_RATIONALE, False),
    ):
        value = values.get(name)
        if name in values and not _is_text(value, limit, trimmed=trimmed):
            return None
        text[name] = value
    spans = None
    if "spans" in values:
        spans = _plain_spans(values["spans"])
        if spans is None:
            return None
    return LabelInput(clause=clause, spans=spans, revision=revision, **text)


def plain_save_body(data: Any) -> tuple[list[LabelInput], bool, bool] | None:
    """The labels, ``submit`` and ``next`` of a save body that ``LabelsSaveInput`` would accept
    unchanged, or None: then the serializer reads it (and words what is wrong)."""
    if type(data) is not dict:
        return None
    submit, following = data.get("submit", False), data.get("next", False)
    if type(submit) is not bool or type(following) is not bool or (following and not submit):
        return None
    labels = data.get("labels", [])
    if type(labels) is not list or len(labels) > MAX_LABELS_PER_REQUEST:
        return None
    inputs = []
    for values in labels:
        label = _plain_label(values)
        if label is None:
            return None
        inputs.append(label)
    return inputs, submit, following


def serialized_save_body(data: Any) -> tuple[list[LabelInput], bool, bool]:
    """The save body through ``LabelsSaveInput``: a 400 naming what is wrong and where."""
    body = LabelsSaveInput(data=data)
    body.is_valid(raise_exception=True)
    inputs = [
        _label_input(values, values["clause"], values.get("revision"))
        for values in body.validated_data.get("labels", [])
    ]
    return inputs, body.validated_data["submit"], body.validated_data["next"]


def _wants_page(request: Request) -> bool:
    """The labeling page asks for HTML (htmx, or a fetch that accepts text/html first); scripts
    get JSON."""
    if request.headers.get("HX-Request") == "true":
        return True
    accept = request.headers.get("Accept", "")
    return accept.split(",", 1)[0].strip().startswith("text/html")


def _saved_output(result: LabelsSaved, reviewer: str) -> dict[str, Any]:
    # Shaped so a later "next item" can join it: {"labels", "assignment", "item"[, "next"]}.
    item = result.assignment.item
    return {
        "labels": [
            presenters.label_output(
                label, clause_key=label.clause.key, item=item, reviewer=reviewer
            )
            for label in result.labels
        ],
        "assignment": {"id": result.assignment.pk, "status": result.assignment.status},
        "item": {
            "id": item.pk,
            "state": result.item_state,
            "transcript": item.transcript_id,
            "campaign": item.campaign_id,
        },
    }


# --------------------------------------------------------------------------------------------------
# Views
# --------------------------------------------------------------------------------------------------


class ItemLabelsView(WorkspaceAPIMixin, APIView):
    """Save my labels on an item, and optionally submit it: the labeling page posts here too."""

    write_role = Role.REVIEWER
    # Every answer carries the next item's transcript: orjson encodes it several times faster.
    renderer_classes = [
        ORJSONRenderer,
        *(r for r in api_settings.DEFAULT_RENDERER_CLASSES if r.format != "json"),
    ]

    @extend_schema(
        request=LabelsSaveInput,
        responses={200: LabelsSavedNextOutput, 409: ConflictOutput},
        summary="Save my labels on an item (and submit it, and get the next one)",
        description="Each label names its clause (id or key) and the revision you last saw "
        "(none for a first save). Fields left out keep their values. A stale revision on any "
        "label: 409 with the current state of each stale label, and nothing is saved. With "
        '"submit": true the item is submitted after saving, in the same transaction. With '
        '"next": true as well, your next item in the campaign is claimed once the submit has '
        'committed and comes back under "next" (null when nothing is left): one request per '
        "labeled item. The labeling page sends the same with `Accept: text/html` and gets the "
        "next item's page instead.",
    )
    def post(
        self, request: Request, workspace: str, campaign_id: int, item_id: int
    ) -> Response | HttpResponse:
        _item, assignment = access.item_to_label(self.membership, item_id, campaign_id=campaign_id)
        inputs, submit, following = plain_save_body(request.data) or serialized_save_body(
            request.data
        )
        try:
            if following:
                step = labels_submit_and_next(
                    assignment=assignment, reviewer=request.user, labels=inputs
                )
                result = step.saved
            else:
                step = None
                result = labels_save(
                    assignment=assignment,
                    reviewer=request.user,
                    labels=inputs,
                    submit=submit,
                )
        except LabelConflict as conflict:
            raise Conflict(
                current=presenters.conflict_state(
                    conflict.conflicts,
                    keys=conflict.keys,
                    item=assignment.item,
                    reviewer=request.user.email,
                )
            ) from conflict
        if step is None:
            return Response(_saved_output(result, request.user.email))
        if _wants_page(request):
            # The labeling page: the next item's page part, to swap in (one request per item).
            request._request.workspace = self.workspace
            request._request.membership = self.membership
            return labeling_views.next_item_page(request._request, step)
        answer = _saved_output(result, request.user.email)
        answer["next"] = None
        if step.next is not None:
            page = label_selectors.labeling_page_of(
                self.membership, item_id=step.next.item_id, campaign_id=campaign_id
            )
            answer["next"] = presenters.next_item_output(
                page, self.workspace.slug, reviewer=request.user.email
            )
        elif step.next_refused:
            answer["next_refused"] = step.next_refused
        return Response(answer)


class LabelListView(WorkspaceAPIMixin, generics.ListAPIView):
    """Labels you may read: your own; others' (and model judges') where blind labeling allows."""

    serializer_class = LabelOutput
    pagination_class = NewestFirstKeysetPagination

    def keyset_prefix(self) -> dict[str, int]:
        """One campaign's labels page along the (campaign, id) index (see KeysetPagination)."""
        campaign = self.request.query_params.get("campaign", "")
        usable = campaign.isascii() and campaign.isdigit() and len(campaign) < 19
        return {"campaign_id": int(campaign)} if usable else {}

    @extend_schema(
        parameters=[
            OpenApiParameter("campaign", int),
            OpenApiParameter("item", int),
            OpenApiParameter("transcript", int),
            OpenApiParameter("clause", str, description="The clause's id or key."),
        ],
        summary="List visible labels (newest first, keyset pages by id)",
        description="Newest first (descending id), in keyset pages: follow next/previous or "
        "start anywhere with after=<id> / before=<id>; total on the first page or with "
        "count=true. Filtered by campaign, a page is one range of the campaign's labels by id.",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Label]:
        qs = label_selectors.visible_labels(self.membership)
        params = self.request.query_params
        for name, lookup in (
            ("campaign", "campaign_id"),
            ("item", "item_id"),
            ("transcript", "item__transcript_id"),
        ):
            value = params.get(name, "")
            if value.isdigit():
                qs = qs.filter(**{lookup: int(value)})
        clause = params.get("clause", "").strip()
        if clause:
            qs = (
                qs.filter(clause_id=int(clause))
                if clause.isdigit()
                else qs.filter(clause__key=clause)
            )
        return qs


class LabelDetailView(WorkspaceAPIMixin, APIView):
    write_role = Role.REVIEWER

    @extend_schema(responses=LabelOutput, summary="One label")
    def get(self, request: Request, workspace: str, label_id: int) -> Response:
        label = generics.get_object_or_404(
            label_selectors.visible_labels(self.membership), pk=label_id
        )
        return Response(LabelOutput(label).data)

    @extend_schema(
        request=LabelUpdateInput,
        responses={200: LabelOutput, 409: ConflictOutput},
        summary="Update my label: only the fields sent change; 409 if the revision is stale",
    )
    def patch(self, request: Request, workspace: str, label_id: int) -> Response:
        label = access.own_label(self.membership, label_id)
        data = LabelUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            result = labels_save(
                assignment=label.assignment,
                reviewer=request.user,
                labels=[_label_input(values, label.clause_id, values["revision"])],
            )
        except LabelConflict as conflict:
            current = presenters.label_output(
                conflict.current,
                clause_key=label.clause.key,
                item=label.assignment.item,
                reviewer=request.user.email,
            )
            raise Conflict(current=current or {}) from conflict
        saved = result.labels[0]
        saved.reviewer = request.user
        saved.item = label.assignment.item
        saved.judge_run = None
        return Response(LabelOutput(saved).data)


class LabelImportView(WorkspaceAPIMixin, APIView):
    write_role = Role.EDITOR

    @extend_schema(
        request=LabelImportInput,
        responses={200: LabelImportOutput, 400: LabelImportOutput},
        summary="Import existing labels into a campaign (editor)",
        description="Every reviewer must already be a member of the workspace: a row naming "
        "anyone else is rejected (400, by line), with the same message whether or not the "
        "address has an account.",
    )
    def post(self, request: Request, workspace: str, campaign_id: int) -> Response:
        campaign = campaign_selectors.get_campaign(self.workspace, campaign_id)
        campaign.workspace = self.workspace
        data = LabelImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        rows = [
            LabelRow(
                line=index,
                external_id=row["external_id"],
                clause_key=row["clause_key"],
                reviewer_email=row["reviewer"],
                verdict=row["verdict"],
                rationale=row["rationale"],
                severity=row["severity"],
            )
            for index, row in enumerate(data.validated_data["rows"], start=1)
        ]
        try:
            summary = labels_import(
                campaign=campaign,
                rows=rows,
                actor=request.user,
                valid_rows=data.validated_data["valid_rows"],
            )
        except LabelImportRejected as rejected:
            return Response(rejected.summary.as_dict(), status=status.HTTP_400_BAD_REQUEST)
        return Response(summary.as_dict())
