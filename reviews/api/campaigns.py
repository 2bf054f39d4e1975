"""REST API for campaigns, items, assignments (claim next) and labels.

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
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clausebook.access import WorkspaceAPIMixin
from clausebook.api_errors import Conflict
from clausebook.models import Role, User
from clausebook.pagination import CreatedCursorPagination
from reviews.models import Assignment, Campaign, Item, Label, Transcript
from reviews.selectors import campaigns as selectors
from reviews.services import campaigns as services
from reviews.services.labels import (
    LabelConflict,
    LabelImportRejected,
    LabelInput,
    LabelRow,
    assignment_submit,
    label_save,
    label_state,
    labels_import,
)
from specs.models import SpecVersion

# --------------------------------------------------------------------------------------------------
# Serializers
# --------------------------------------------------------------------------------------------------


class ScaleEntry(serializers.Serializer):
    value = serializers.CharField(max_length=40)
    label = serializers.CharField(max_length=60, required=False)


class CampaignOutput(serializers.ModelSerializer):
    spec_version = serializers.PrimaryKeyRelatedField(read_only=True)
    spec_version_label = serializers.CharField(source="spec_version.label", read_only=True)
    clauses = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "title",
            "spec_version",
            "spec_version_label",
            "scope_description",
            "reviewers_per_item",
            "blind",
            "instructions",
            "verdict_scale",
            "severity_scale",
            "status",
            "item_count",
            "created_at",
            "clauses",
        ]

    def get_clauses(self, campaign: Campaign) -> list[str]:
        keys = self.context.get("clause_keys")
        return keys.get(campaign.pk, []) if keys is not None else []


class CampaignInput(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    spec_version = serializers.IntegerField()
    clause_keys = serializers.ListField(
        child=serializers.CharField(max_length=120),
        required=False,
        help_text="Clause keys in scope; omit for the whole version.",
    )
    transcript_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    transcript_tag = serializers.CharField(required=False, max_length=60)
    reviewers = serializers.ListField(
        child=serializers.EmailField(), required=False, help_text="Reviewer emails (members)."
    )
    reviewers_per_item = serializers.IntegerField(min_value=1, max_value=20, default=2)
    blind = serializers.BooleanField(default=True)
    instructions = serializers.CharField(required=False, allow_blank=True, default="")
    verdict_scale = ScaleEntry(many=True, required=False)
    severity_scale = ScaleEntry(many=True, required=False)


class ItemOutput(serializers.ModelSerializer):
    transcript_external_id = serializers.CharField(source="transcript.external_id")

    class Meta:
        model = Item
        fields = [
            "id",
            "transcript",
            "transcript_external_id",
            "position",
            "state",
            "open_slots",
            "submitted_count",
        ]


class AssignmentOutput(serializers.ModelSerializer):
    campaign = serializers.IntegerField(source="item.campaign_id")

    class Meta:
        model = Assignment
        fields = ["id", "item", "campaign", "status", "skip_reason", "claimed_at", "submitted_at"]


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


class SkipInput(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


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


def _django_errors(error: ValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(
        error.message_dict if hasattr(error, "error_dict") else error.messages
    )


# --------------------------------------------------------------------------------------------------
# Campaigns and items
# --------------------------------------------------------------------------------------------------


def _clause_keys(campaign_ids: list[int]) -> dict[int, list[str]]:
    from reviews.models import CampaignClause

    keys: dict[int, list[str]] = {}
    for campaign_id, key in (
        CampaignClause.objects.filter(campaign_id__in=campaign_ids)
        .order_by("campaign_id", "position")
        .values_list("campaign_id", "clause__key")
    ):
        keys.setdefault(campaign_id, []).append(key)
    return keys


class CampaignListView(WorkspaceAPIMixin, generics.ListAPIView):
    """Campaigns of the workspace (viewer); open one (adjudicator or above)."""

    serializer_class = CampaignOutput
    write_role = Role.ADJUDICATOR

    def get_queryset(self) -> QuerySet[Campaign]:
        return (
            selectors.campaigns_in(self.workspace)
            .select_related("spec_version")
            .order_by("-created_at")
        )

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        page = getattr(self, "_page_ids", None)
        context["clause_keys"] = _clause_keys(page) if page else None
        return context

    def paginate_queryset(self, queryset: Any) -> Any:
        page = super().paginate_queryset(queryset)
        self._page_ids = [campaign.pk for campaign in page or []]
        return page

    @extend_schema(
        request=CampaignInput, responses={201: CampaignOutput}, summary="Open a campaign"
    )
    def post(self, request: Request, workspace: str) -> Response:
        data = CampaignInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        version = get_object_or_404(
            SpecVersion.objects.filter(spec__workspace=self.workspace).select_related("spec"),
            pk=values["spec_version"],
        )
        clauses = list(version.clauses.order_by("position"))
        if values.get("clause_keys"):
            wanted = set(values["clause_keys"])
            clauses = [c for c in clauses if c.key in wanted]
            if len(clauses) != len(wanted):
                raise serializers.ValidationError({"clause_keys": "Unknown clause keys."})
        transcripts = Transcript.objects.in_workspace(self.workspace)
        if values.get("transcript_tag"):
            transcripts = transcripts.filter(tags__contains=[values["transcript_tag"]])
        if values.get("transcript_ids") is not None:
            transcript_ids = values["transcript_ids"]
        else:
            transcript_ids = list(transcripts.order_by("id").values_list("id", flat=True))
        reviewers = list(User.objects.filter(email__in=values.get("reviewers", [])))
        try:
            campaign = services.campaign_create(
                workspace=self.workspace,
                actor=request.user,
                title=values["title"],
                spec_version=version,
                clauses=clauses,
                transcript_ids=transcript_ids,
                reviewers=reviewers,
                reviewers_per_item=values["reviewers_per_item"],
                blind=values["blind"],
                instructions=values["instructions"],
                verdict_scale=values.get("verdict_scale"),
                severity_scale=values.get("severity_scale"),
            )
        except ValidationError as error:
            raise _django_errors(error) from error
        output = CampaignOutput(campaign, context={"clause_keys": _clause_keys([campaign.pk])})
        return Response(output.data, status=status.HTTP_201_CREATED)


class CampaignDetailView(WorkspaceAPIMixin, APIView):
    @extend_schema(responses=CampaignOutput, summary="One campaign")
    def get(self, request: Request, workspace: str, campaign_id: int) -> Response:
        campaign = selectors.get_campaign(self.workspace, campaign_id)
        return Response(
            CampaignOutput(campaign, context={"clause_keys": _clause_keys([campaign.pk])}).data
        )


class ItemListView(WorkspaceAPIMixin, generics.ListAPIView):
    """A campaign's items in order, with their state and open slots."""

    serializer_class = ItemOutput

    def get_queryset(self) -> QuerySet[Item]:
        campaign = selectors.get_campaign(self.workspace, self.kwargs["campaign_id"])
        return (
            Item.objects.filter(campaign=campaign)
            .select_related("transcript")
            .only(
                "id",
                "transcript_id",
                "transcript__external_id",
                "position",
                "state",
                "open_slots",
                "submitted_count",
            )
            .order_by("position")
        )


class ClaimNextView(WorkspaceAPIMixin, APIView):
    write_role = Role.REVIEWER

    @extend_schema(
        request=None,
        responses={
            200: AssignmentOutput,
            204: OpenApiResponse(description="Nothing left for you in this campaign."),
        },
        summary="Claim the next item (or resume the one in progress)",
    )
    def post(self, request: Request, workspace: str, campaign_id: int) -> Response:
        campaign = selectors.get_campaign(self.workspace, campaign_id)
        campaign.workspace = self.workspace
        try:
            assignment = services.item_claim_next(campaign=campaign, reviewer=request.user)
        except ValidationError as error:
            raise _django_errors(error) from error
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(AssignmentOutput(assignment).data)


# --------------------------------------------------------------------------------------------------
# Assignments
# --------------------------------------------------------------------------------------------------


def _my_assignments(view: WorkspaceAPIMixin, user: User) -> QuerySet[Assignment]:
    return Assignment.objects.filter(
        reviewer=user, item__campaign__workspace=view.workspace
    ).select_related("item")


class MyAssignmentListView(WorkspaceAPIMixin, generics.ListAPIView):
    """The signed-in user's assignments in this workspace, newest first."""

    serializer_class = AssignmentOutput
    read_role = Role.REVIEWER

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=[s.value for s in Assignment.Status]),
            OpenApiParameter("campaign", int),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Assignment]:
        qs = _my_assignments(self, self.request.user).order_by("-claimed_at", "-id")
        wanted = self.request.query_params.get("status")
        if wanted in Assignment.Status.values:  # allow-listed filters only
            qs = qs.filter(status=wanted)
        campaign = self.request.query_params.get("campaign", "")
        if campaign.isdigit():
            qs = qs.filter(item__campaign_id=int(campaign))
        return qs


class AssignmentSubmitView(WorkspaceAPIMixin, APIView):
    write_role = Role.REVIEWER

    @extend_schema(request=None, responses=AssignmentOutput, summary="Submit my labels on an item")
    def post(self, request: Request, workspace: str, assignment_id: int) -> Response:
        assignment = get_object_or_404(_my_assignments(self, request.user), pk=assignment_id)
        try:
            assignment = assignment_submit(assignment=assignment, reviewer=request.user)
        except ValidationError as error:
            raise _django_errors(error) from error
        return Response(AssignmentOutput(assignment).data)


class AssignmentSkipView(WorkspaceAPIMixin, APIView):
    write_role = Role.REVIEWER

    @extend_schema(
        request=SkipInput, responses=AssignmentOutput, summary="Skip an item, with a reason"
    )
    def post(self, request: Request, workspace: str, assignment_id: int) -> Response:
        assignment = get_object_or_404(_my_assignments(self, request.user), pk=assignment_id)
        data = SkipInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            assignment = services.assignment_skip(
                assignment=assignment, reviewer=request.user, reason=data.validated_data["reason"]
            )
        except ValidationError as error:
            raise _django_errors(error) from error
        return Response(AssignmentOutput(assignment).data)


# --------------------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------------------


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
        qs = selectors.visible_labels(self.workspace, self.request.user, self.membership)
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
        visible = selectors.visible_labels(self.workspace, request.user, self.membership)
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


urlpatterns = [
    path("campaigns/", CampaignListView.as_view(), name="api-campaign-list"),
    path("campaigns/<int:campaign_id>/", CampaignDetailView.as_view(), name="api-campaign-detail"),
    path("campaigns/<int:campaign_id>/items/", ItemListView.as_view(), name="api-campaign-items"),
    path("campaigns/<int:campaign_id>/claim/", ClaimNextView.as_view(), name="api-claim-next"),
    path(
        "campaigns/<int:campaign_id>/labels/import/",
        LabelImportView.as_view(),
        name="api-labels-import",
    ),
    path("assignments/", MyAssignmentListView.as_view(), name="api-my-assignments"),
    path(
        "assignments/<int:assignment_id>/submit/",
        AssignmentSubmitView.as_view(),
        name="api-assignment-submit",
    ),
    path(
        "assignments/<int:assignment_id>/skip/",
        AssignmentSkipView.as_view(),
        name="api-assignment-skip",
    ),
    path("labels/", LabelListView.as_view(), name="api-label-list"),
    path("labels/<int:label_id>/", LabelDetailView.as_view(), name="api-label-detail"),
]
