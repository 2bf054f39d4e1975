"""REST API for campaigns, items and assignments (claim next, submit, skip).

Every view scopes by workspace through ``WorkspaceAPIMixin`` and builds its querysets from
``self.workspace``; ids from another workspace are 404. Labels are written only through the
signed-in user's own assignment: reviewer, item, status and revision are never read from input
(the revision sent is only compared, never stored).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clausebook.access import WorkspaceAPIMixin
from clausebook.models import Role, User
from reviews.models import Assignment, Campaign, Item
from reviews.selectors import campaigns as selectors
from reviews.services import campaigns as services
from reviews.services.labels import (
    assignment_submit,
)
from specs.models import SpecVersion
from transcripts.models import Transcript

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


class SkipInput(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


def _django_errors(error: ValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(
        error.message_dict if hasattr(error, "error_dict") else error.messages
    )


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
