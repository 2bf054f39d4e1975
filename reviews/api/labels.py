"""REST API for labels: list, read, create and update (through your own assignment), import.

Every view scopes by workspace through ``WorkspaceAPIMixin`` and builds its querysets from
``self.workspace``; ids from another workspace are 404. Labels are written only through the
signed-in user's own assignment: reviewer, item, status and revision are never read from input
(the revision sent is only compared, never stored).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clausebook.access import WorkspaceAPIMixin
from clausebook.api_errors import Conflict
from clausebook.models import Role
from clausebook.pagination import CreatedCursorPagination
from reviews.api.campaigns import _django_errors
from reviews.models import Assignment, Item, Label
from reviews.selectors import campaigns as selectors
from reviews.selectors import labels as label_selectors
from reviews.services.labels import (
    LabelConflict,
    LabelImportRejected,
    LabelInput,
    LabelRow,
    label_save,
    label_state,
    labels_import,
)

# --------------------------------------------------------------------------------------------------
# Serializers
# --------------------------------------------------------------------------------------------------


class LabelOutput(serializers.ModelSerializer):
    reviewer = serializers.EmailField(source="reviewer.email")
    clause_key = serializers.CharField(source="clause.key")

    class Meta:
        model = Label
        fields = [
            "id",
            "item",
            "reviewer",
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
    text = serializers.CharField(allow_blank=True, required=False, max_length=4000)


class LabelFieldsInput(serializers.Serializer):
    verdict = serializers.CharField(allow_blank=True, required=False, default="", max_length=40)
    severity = serializers.CharField(allow_blank=True, required=False, default="", max_length=40)
    rationale = serializers.CharField(
        allow_blank=True, required=False, default="", max_length=20000
    )
    spans = SpanInput(many=True, required=False, default=list)
    revision = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The revision you last saw; omit only for the first save.",
    )


class LabelCreateInput(LabelFieldsInput):
    item = serializers.IntegerField()
    clause = serializers.IntegerField()


class LabelUpdateInput(LabelFieldsInput):
    revision = serializers.IntegerField(help_text="The revision you last saw.")


class LabelImportRowInput(serializers.Serializer):
    external_id = serializers.CharField(max_length=200)
    clause_key = serializers.CharField(max_length=120)
    reviewer = serializers.CharField(max_length=254, help_text="Reviewer email.")
    verdict = serializers.CharField(max_length=40)
    rationale = serializers.CharField(allow_blank=True, required=False, default="")
    severity = serializers.CharField(allow_blank=True, required=False, default="", max_length=40)


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
    users_created = serializers.ListField(child=serializers.EmailField())
    memberships_created = serializers.ListField(child=serializers.EmailField())
    items_created = serializers.IntegerField()
    applied = serializers.BooleanField()


class ConflictOutput(serializers.Serializer):
    detail = serializers.CharField()
    current = serializers.DictField(allow_null=True)


def _save(
    view: WorkspaceAPIMixin, request: Request, item_id: int, clause_id: int, values: dict
) -> Label:
    # One query for the usual case: the caller's own assignment with its item and campaign.
    assignment = (
        Assignment.objects.filter(
            item_id=item_id, reviewer=request.user, item__campaign__workspace=view.workspace
        )
        .select_related("item__campaign", "item__transcript")
        .defer("item__transcript__messages", "item__transcript__metadata")
        .first()
    )
    if assignment is None:
        get_object_or_404(Item.objects.filter(campaign__workspace=view.workspace), pk=item_id)
        raise PermissionDenied("This item is not assigned to you.")
    assignment.item.campaign.workspace = view.workspace
    try:
        return label_save(
            assignment=assignment,
            reviewer=request.user,
            data=LabelInput(
                clause_id=clause_id,
                verdict=values["verdict"],
                severity=values["severity"],
                rationale=values["rationale"],
                spans=[dict(span) for span in values["spans"]],
            ),
            revision=values.get("revision"),
        )
    except LabelConflict as conflict:
        raise Conflict(current=label_state(conflict.current) or {}) from conflict
    except ValidationError as error:
        raise _django_errors(error) from error


class LabelListView(WorkspaceAPIMixin, generics.ListAPIView):
    """Labels you may read: your own; others' only where blind labeling allows (see docs)."""

    serializer_class = LabelOutput
    pagination_class = CreatedCursorPagination
    write_role = Role.REVIEWER

    @extend_schema(
        parameters=[OpenApiParameter("campaign", int), OpenApiParameter("item", int)],
        summary="List visible labels",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Label]:
        qs = label_selectors.visible_labels(self.workspace, self.request.user, self.membership)
        for name, lookup in (("campaign", "item__campaign_id"), ("item", "item_id")):
            value = self.request.query_params.get(name, "")
            if value.isdigit():
                qs = qs.filter(**{lookup: int(value)})
        return qs.select_related("reviewer", "clause")

    @extend_schema(
        request=LabelCreateInput,
        responses={200: LabelOutput, 409: ConflictOutput},
        summary="Save a label (create, or update with the revision you saw)",
    )
    def post(self, request: Request, workspace: str) -> Response:
        data = LabelCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        label = _save(self, request, values["item"], values["clause"], values)
        label.reviewer = request.user
        return Response(LabelOutput(label).data)


class LabelDetailView(WorkspaceAPIMixin, APIView):
    write_role = Role.REVIEWER

    def _get(self, request: Request, label_id: int) -> Label:
        visible = label_selectors.visible_labels(self.workspace, request.user, self.membership)
        return get_object_or_404(visible.select_related("reviewer", "clause"), pk=label_id)

    @extend_schema(responses=LabelOutput, summary="One label")
    def get(self, request: Request, workspace: str, label_id: int) -> Response:
        return Response(LabelOutput(self._get(request, label_id)).data)

    @extend_schema(
        request=LabelUpdateInput,
        responses={200: LabelOutput, 409: ConflictOutput},
        summary="Update my label; 409 with the current state if the revision is stale",
    )
    def patch(self, request: Request, workspace: str, label_id: int) -> Response:
        own = Label.objects.filter(item__campaign__workspace=self.workspace, reviewer=request.user)
        label = get_object_or_404(own, pk=label_id)
        data = LabelUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        saved = _save(self, request, label.item_id, label.clause_id, data.validated_data)
        saved.reviewer = request.user
        return Response(LabelOutput(saved).data)


class LabelImportView(WorkspaceAPIMixin, APIView):
    write_role = Role.EDITOR

    @extend_schema(
        request=LabelImportInput,
        responses={200: LabelImportOutput, 400: LabelImportOutput},
        summary="Import existing labels into a campaign (editor)",
    )
    def post(self, request: Request, workspace: str, campaign_id: int) -> Response:
        campaign = selectors.get_campaign(self.workspace, campaign_id)
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
