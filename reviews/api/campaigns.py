"""REST API for campaigns: create, read, the lifecycle, seats, items, and assignments (claim next,
submit, skip).

Every view scopes by workspace through ``WorkspaceAPIMixin`` and reads through the selectors the
pages use (``reviews.selectors.campaigns``); ids from another workspace are 404. Services raise
Django's ``ValidationError`` and ``PermissionDenied``, which the API's one exception handler turns
into 400 and 403; a stale ``revision`` on a lifecycle write is a 409 with the campaign as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Exists, OuterRef, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clausebook.access import WorkspaceAPIMixin
from clausebook.api_errors import Conflict
from reviews import access, campaign_presenters
from reviews.models import Assignment, Campaign, CampaignReviewer, Item
from reviews.selectors import campaigns as selectors
from reviews.services import campaign_lifecycle as lifecycle
from reviews.services import campaigns as services
from reviews.services.labels.submit import assignment_submit

# --------------------------------------------------------------------------------------------------
# Serializers
# --------------------------------------------------------------------------------------------------


class ScaleEntry(serializers.Serializer):
    value = serializers.CharField(max_length=40)
    label = serializers.CharField(max_length=60, required=False)


class SpecVersionRefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    spec = serializers.CharField(source="spec.slug", help_text="The spec's slug.")
    label = serializers.CharField()


class CampaignClauseOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="The clause's id: what label writes may name.")
    key = serializers.CharField()
    title = serializers.CharField()


class CampaignOutput(serializers.ModelSerializer):
    """A campaign as the API shows it. ``revision`` is what lifecycle writes send back;
    ``short_of_reviewers`` and ``warnings`` say when fewer than k reviewers are seated. The spec
    version and each clause in scope carry their ids (what label writes and further campaigns
    may name) next to their slug, label and key."""

    spec_version = SpecVersionRefOutput(read_only=True)
    clauses = serializers.SerializerMethodField()
    seated_reviewers = serializers.IntegerField(source="seated_count", read_only=True)
    short_of_reviewers = serializers.BooleanField(read_only=True)
    warnings = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "title",
            "spec_version",
            "scope_description",
            "reviewers_per_item",
            "blind",
            "gold_from_agreement",
            "adjudicator_may_have_labeled",
            "instructions",
            "verdict_scale",
            "severity_scale",
            "status",
            "revision",
            "item_count",
            "seated_reviewers",
            "short_of_reviewers",
            "warnings",
            "created_at",
            "opened_at",
            "closed_at",
            "clauses",
        ]

    @extend_schema_field(CampaignClauseOutput(many=True))
    def get_clauses(self, campaign: Campaign) -> list[dict[str, Any]]:
        clauses = self.context.get("clauses")
        return clauses.get(campaign.pk, []) if clauses is not None else []

    def get_warnings(self, campaign: Campaign) -> list[str]:
        return campaign_presenters.campaign_warnings(campaign)


def campaign_output(campaign: Campaign) -> dict[str, Any]:
    """One campaign's output (it must carry ``seated_reviewers``: read it through a selector)."""
    clauses = selectors.clauses_of([campaign.pk])
    return CampaignOutput(campaign, context={"clauses": clauses}).data


_VERSION_REF_SCHEMA = {
    "oneOf": [
        {"type": "integer", "description": "The spec version's id.", "example": 12},
        {
            "type": "object",
            "description": "The spec's slug and the version's label, as the spec API names them.",
            "properties": {
                "spec": {"type": "string", "example": "model-spec"},
                "label": {"type": "string", "example": "2025-12-18"},
            },
            "required": ["spec", "label"],
            "additionalProperties": False,
        },
    ]
}


@extend_schema_field(_VERSION_REF_SCHEMA)
class SpecVersionRefField(serializers.Field):
    """A spec version by id (``12``) or by spec slug and version label
    (``{"spec": "model-spec", "label": "2025-12-18"}``)."""

    default_error_messages = {
        # DRF formats this message: the doubled braces are literal ones.
        "invalid": 'Give the version\'s id (a number) or {{"spec": "<slug>", "label": "<label>"}}.',
    }

    def to_internal_value(self, data: Any) -> selectors.VersionRef:
        if isinstance(data, int) and not isinstance(data, bool) and data > 0:
            return selectors.VersionRef(id=data)
        if isinstance(data, str) and data.isdigit():  # a form-encoded body sends text
            return selectors.VersionRef(id=int(data))
        if (
            isinstance(data, dict)
            and set(data) == {"spec", "label"}
            and all(isinstance(data[name], str) and data[name].strip() for name in data)
            and len(data["spec"]) <= 100
            and len(data["label"]) <= 100
        ):
            return selectors.VersionRef(spec=data["spec"].strip(), label=data["label"].strip())
        self.fail("invalid")

    def to_representation(self, value: Any) -> Any:
        return value


class TranscriptChoiceInput(serializers.Serializer):
    """How transcripts are chosen, for a new campaign and for adding to one: resolved by the
    one resolver (``reviews.selectors.campaigns.transcript_ids_matching``) in both cases.

    ``transcript_source`` defaults to ``ids``, ``import``, ``tag``, ``search`` or ``rerun``
    after the first of those fields given, else ``all``."""

    transcript_source = serializers.ChoiceField(
        choices=list(selectors.TRANSCRIPT_SOURCES), required=False
    )
    transcript_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=1_000_000
    )
    transcript_import = serializers.IntegerField(required=False, min_value=1)
    transcript_tag = serializers.CharField(required=False, max_length=60)
    transcript_search = serializers.CharField(required=False, max_length=200)
    rerun_job = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="A re-run job's id: the transcripts its calls produced.",
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1_000_000)

    _SOURCE_FIELDS = (
        ("transcript_ids", "ids"),
        ("transcript_import", "import"),
        ("transcript_tag", "tag"),
        ("transcript_search", "search"),
        ("rerun_job", "rerun"),
    )

    def transcript_choice(self, data: dict[str, Any]) -> selectors.TranscriptChoice:
        source = data.get("transcript_source") or next(
            (source for name, source in self._SOURCE_FIELDS if name in data), "all"
        )
        return selectors.TranscriptChoice(
            source=source,
            import_id=data.get("transcript_import"),
            tag=data.get("transcript_tag", ""),
            search=data.get("transcript_search", ""),
            ids=data.get("transcript_ids", []),
            rerun_job_id=data.get("rerun_job"),
            limit=data.get("limit"),
        )


class CampaignInput(TranscriptChoiceInput):
    """The raw choices, resolved by ``campaign_create`` exactly as the form's are.

    A script needs nothing but what the spec API shows: name the version by spec slug and label
    and the clauses by key, e.g. ``{"title": "Sample", "spec_version": {"spec": "model-spec",
    "label": "2025-12-18"}, "clause_keys": ["be_honest"], "transcript_tag": "xstest",
    "reviewers": ["ada@example.org"], "open": true}``. The response carries the ids.

    ``scope`` defaults to ``list`` when ``clause_keys`` are given, ``subtree`` when
    ``parent_key`` is, else ``all``; ``transcript_source`` as in ``TranscriptChoiceInput``.
    """

    title = serializers.CharField(max_length=200)
    spec_version = SpecVersionRefField(
        help_text='The published spec version to pin: its id, or {"spec": "<spec slug>", '
        '"label": "<version label>"} as the spec API lists them.'
    )
    scope = serializers.ChoiceField(choices=list(selectors.SCOPE_MODES), required=False)
    parent_key = serializers.CharField(
        max_length=120,
        required=False,
        default="",
        help_text="With scope subtree: the key of the clause whose subtree is in scope.",
    )
    clause_keys = serializers.ListField(
        child=serializers.CharField(max_length=120),
        required=False,
        default=list,
        help_text="With scope list: the keys of the clauses in scope, in the order to show.",
    )
    reviewers = serializers.ListField(
        child=serializers.EmailField(),
        required=False,
        default=list,
        help_text="Reviewer emails: members of this workspace with the reviewer role or higher."
        " Any other address is refused (400, naming it); no account or membership is created.",
    )
    reviewers_per_item = serializers.IntegerField(min_value=1, max_value=20, default=2)
    blind = serializers.BooleanField(default=True)
    gold_from_agreement = serializers.BooleanField(
        default=True,
        help_text="Agreed (item, clause) pairs become gold on their own; false: an adjudicator"
        " settles every pair.",
    )
    adjudicator_may_have_labeled = serializers.BooleanField(
        default=False, help_text="An adjudicator may settle an item they labeled."
    )
    instructions = serializers.CharField(required=False, allow_blank=True, default="")
    verdict_scale = ScaleEntry(many=True, required=False)
    severity_scale = ScaleEntry(many=True, required=False)
    open = serializers.BooleanField(
        default=False,
        help_text="Open the campaign at once (needs at least k reviewers); else it is a draft.",
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        scope = data.get("scope") or (
            "list" if data["clause_keys"] else "subtree" if data["parent_key"] else "all"
        )
        data["scope_choice"] = selectors.ScopeChoice(
            mode=scope, root_key=data["parent_key"], keys=data["clause_keys"]
        )
        data["transcript_choice"] = self.transcript_choice(data)
        return data


class RevisionInput(serializers.Serializer):
    revision = serializers.IntegerField(
        min_value=1, help_text="The campaign's revision as you last read it."
    )


class ReviewersAddInput(RevisionInput):
    reviewers = serializers.ListField(child=serializers.EmailField(), min_length=1)


class ReviewerRemoveInput(RevisionInput):
    reviewer = serializers.EmailField()


class SeatOutput(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.short_name")
    seated = serializers.SerializerMethodField()

    class Meta:
        model = CampaignReviewer
        fields = ["email", "name", "seated", "added_at", "removed_at"]

    def get_seated(self, seat: CampaignReviewer) -> bool:
        return seat.removed_at is None


class ItemOutput(serializers.ModelSerializer):
    transcript_external_id = serializers.CharField(source="transcript.external_id")
    state = serializers.SerializerMethodField(
        help_text="The item's state; null in a blind campaign for a member below adjudicator "
        "who has not submitted this item (it would tell them how others voted)."
    )

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

    def get_state(self, item: Item) -> str | None:
        return item.state if getattr(item, "state_shown", True) else None


class AssignmentOutput(serializers.ModelSerializer):
    campaign = serializers.IntegerField(source="campaign_id")

    class Meta:
        model = Assignment
        fields = ["id", "item", "campaign", "status", "skip_reason", "claimed_at", "submitted_at"]


class SkipInput(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class ItemsAddInput(TranscriptChoiceInput):
    """Transcripts to add to a campaign, chosen as for a new one, e.g.
    ``{"transcript_ids": [4, 5]}``, ``{"transcript_tag": "xstest"}`` or ``{"rerun_job": 3}``.
    Sending the same choice again adds nothing more."""

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        data["transcript_choice"] = self.transcript_choice(data)
        return data


class ItemsAddOutput(serializers.Serializer):
    added = serializers.IntegerField(help_text="Items created by this request.")
    already_in_campaign = serializers.IntegerField(
        source="already", help_text="Chosen transcripts the campaign had already (skipped)."
    )
    item_count = serializers.IntegerField(help_text="The campaign's items, afterwards.")


# --------------------------------------------------------------------------------------------------
# Campaigns
# --------------------------------------------------------------------------------------------------


class CampaignListView(WorkspaceAPIMixin, generics.ListAPIView):
    """Campaigns of the workspace (viewer); create one (adjudicator or above)."""

    serializer_class = CampaignOutput
    write_permission = "campaigns.create"

    def get_queryset(self) -> QuerySet[Campaign]:
        return selectors.campaign_list(self.workspace)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        page = getattr(self, "_page_ids", None)
        context["clauses"] = selectors.clauses_of(page) if page else None
        return context

    def paginate_queryset(self, queryset: Any) -> Any:
        page = super().paginate_queryset(queryset)
        self._page_ids = [campaign.pk for campaign in page or []]
        return page

    @extend_schema(
        request=CampaignInput,
        responses={201: CampaignOutput},
        summary="Create a campaign (a draft, or open with at least k reviewers)",
    )
    def post(self, request: Request, workspace: str) -> Response:
        data = CampaignInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        campaign = services.campaign_create(
            workspace=self.workspace,
            actor=request.user,
            title=values["title"],
            spec_version=selectors.spec_version_by_ref(self.workspace, values["spec_version"]),
            scope=values["scope_choice"],
            transcripts=values["transcript_choice"],
            reviewers=selectors.members_by_email(self.workspace, values["reviewers"]),
            reviewers_per_item=values["reviewers_per_item"],
            blind=values["blind"],
            gold_from_agreement=values["gold_from_agreement"],
            adjudicator_may_have_labeled=values["adjudicator_may_have_labeled"],
            instructions=values["instructions"],
            verdict_scale=values.get("verdict_scale"),
            severity_scale=values.get("severity_scale"),
            open_now=values["open"],
        )
        campaign = selectors.get_campaign(self.workspace, campaign.pk)
        return Response(campaign_output(campaign), status=status.HTTP_201_CREATED)


class CampaignDetailView(WorkspaceAPIMixin, APIView):
    @extend_schema(responses=CampaignOutput, summary="One campaign")
    def get(self, request: Request, workspace: str, campaign_id: int) -> Response:
        return Response(campaign_output(selectors.get_campaign(self.workspace, campaign_id)))


def _lifecycle_write(
    view: WorkspaceAPIMixin, campaign_id: int, write: Callable[[Campaign], Campaign]
) -> Response:
    """Run a lifecycle service; a stale revision is a 409 carrying the campaign as it is now."""
    campaign = selectors.get_campaign(view.workspace, campaign_id)
    campaign.workspace = view.workspace
    try:
        write(campaign)
    except lifecycle.CampaignConflict as conflict:
        current = selectors.get_campaign(view.workspace, campaign_id)
        raise Conflict(str(conflict), current=campaign_output(current)) from conflict
    return Response(campaign_output(selectors.get_campaign(view.workspace, campaign_id)))


_LIFECYCLE_RESPONSES = {
    200: CampaignOutput,
    400: OpenApiResponse(description="Not allowed from the current status, or short of k"),
    409: OpenApiResponse(description="Stale revision: the body carries the current campaign"),
}


class _TransitionView(WorkspaceAPIMixin, APIView):
    """POST ``{"revision": n}``: one lifecycle action (see ``Campaign.TRANSITIONS``)."""

    write_permission = "campaigns.create"
    service: Callable[..., Campaign]

    def post(self, request: Request, workspace: str, campaign_id: int) -> Response:
        data = RevisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        service = type(self).service
        return _lifecycle_write(
            self,
            campaign_id,
            lambda campaign: service(
                campaign=campaign, actor=request.user, revision=data.validated_data["revision"]
            ),
        )


@extend_schema(
    request=RevisionInput, responses=_LIFECYCLE_RESPONSES, summary="Open a draft campaign"
)
class CampaignOpenView(_TransitionView):
    service = lifecycle.campaign_open


@extend_schema(
    request=RevisionInput, responses=_LIFECYCLE_RESPONSES, summary="Pause an open campaign"
)
class CampaignPauseView(_TransitionView):
    service = lifecycle.campaign_pause


@extend_schema(
    request=RevisionInput, responses=_LIFECYCLE_RESPONSES, summary="Resume a paused campaign"
)
class CampaignResumeView(_TransitionView):
    service = lifecycle.campaign_resume


@extend_schema(
    request=RevisionInput, responses=_LIFECYCLE_RESPONSES, summary="Close a campaign for good"
)
class CampaignCloseView(_TransitionView):
    service = lifecycle.campaign_close


class CampaignReviewersView(WorkspaceAPIMixin, APIView):
    """A campaign's seats: list them (viewer), seat reviewers or remove one (adjudicator)."""

    write_permission = "campaigns.create"

    @extend_schema(responses=SeatOutput(many=True), summary="Seats, current and ended")
    def get(self, request: Request, workspace: str, campaign_id: int) -> Response:
        campaign = selectors.get_campaign(self.workspace, campaign_id)
        return Response(SeatOutput(selectors.campaign_seats(campaign), many=True).data)

    @extend_schema(
        request=ReviewersAddInput, responses=_LIFECYCLE_RESPONSES, summary="Seat reviewers"
    )
    def post(self, request: Request, workspace: str, campaign_id: int) -> Response:
        data = ReviewersAddInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        # The addresses are resolved once the campaign is found: another workspace's campaign
        # is a 404, never a 400 about the body.
        return _lifecycle_write(
            self,
            campaign_id,
            lambda campaign: lifecycle.campaign_reviewers_add(
                campaign=campaign,
                actor=request.user,
                reviewers=selectors.members_by_email(self.workspace, values["reviewers"]),
                revision=values["revision"],
            ),
        )

    @extend_schema(
        request=ReviewerRemoveInput,
        responses=_LIFECYCLE_RESPONSES,
        summary="Remove a reviewer (their item in progress is released; their work stays)",
    )
    def delete(self, request: Request, workspace: str, campaign_id: int) -> Response:
        data = ReviewerRemoveInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        return _lifecycle_write(
            self,
            campaign_id,
            lambda campaign: lifecycle.campaign_reviewer_remove(
                campaign=campaign,
                actor=request.user,
                reviewer=selectors.seated_user(campaign, values["reviewer"]),
                revision=values["revision"],
            ),
        )


def _on_source_field(error: DjangoValidationError, data: dict[str, Any]) -> DjangoValidationError:
    """The resolver names ``transcripts``; the client named a field of this input: say that one
    (``transcript_ids`` for an id of another workspace, ``rerun_job`` for an empty job...)."""
    if not hasattr(error, "error_dict") or "transcripts" not in error.error_dict:
        return error
    source = data["transcript_choice"].source
    field = next(
        (name for name, named in TranscriptChoiceInput._SOURCE_FIELDS if named == source),
        "transcript_source",
    )
    return DjangoValidationError({field: error.error_dict["transcripts"]})


class ItemListView(WorkspaceAPIMixin, generics.ListAPIView):
    """A campaign's items in order, with their state and open slots (viewer); add transcripts
    to it (``campaigns.create``)."""

    serializer_class = ItemOutput
    write_permission = "campaigns.create"

    @extend_schema(
        request=ItemsAddInput,
        responses={
            201: ItemsAddOutput,
            200: OpenApiResponse(
                ItemsAddOutput, description="Nothing added: every transcript was there already."
            ),
            400: OpenApiResponse(
                description="The choice picks nothing, or names transcripts of another workspace"
                " (the body names the field)."
            ),
            409: OpenApiResponse(
                description="The campaign is closed: the body carries the campaign as it is."
            ),
        },
        summary="Add transcripts to a campaign that is not closed",
    )
    def post(self, request: Request, workspace: str, campaign_id: int) -> Response:
        # The campaign first: another workspace's is a 404 whatever the body says.
        campaign = selectors.get_campaign(self.workspace, campaign_id)
        campaign.workspace = self.workspace
        data = ItemsAddInput(data=request.data)
        data.is_valid(raise_exception=True)
        choice = data.validated_data["transcript_choice"]
        try:
            done = services.campaign_transcripts_add(
                campaign=campaign, actor=request.user, transcripts=choice
            )
        except services.CampaignClosed as closed:
            current = selectors.get_campaign(self.workspace, campaign_id)
            raise Conflict(str(closed), current=campaign_output(current)) from closed
        except DjangoValidationError as error:
            raise _on_source_field(error, data.validated_data) from error
        code = status.HTTP_201_CREATED if done.added else status.HTTP_200_OK
        return Response(ItemsAddOutput(done).data, status=code)

    def get_queryset(self) -> QuerySet[Item]:
        campaign = selectors.get_campaign(self.workspace, self.kwargs["campaign_id"])
        items = selectors.campaign_items(campaign)
        if access.item_states_shown(campaign, self.membership.role):
            return items
        # Blind labeling, below adjudicator: a state is shown only on items you submitted.
        return items.annotate(
            state_shown=Exists(
                Assignment.objects.filter(
                    item=OuterRef("pk"),
                    reviewer=self.request.user,
                    status=Assignment.Status.SUBMITTED,
                )
            )
        )


# --------------------------------------------------------------------------------------------------
# Assignments
# --------------------------------------------------------------------------------------------------


class ClaimNextView(WorkspaceAPIMixin, APIView):
    write_permission = "queue.view"

    @extend_schema(
        request=None,
        responses={
            200: AssignmentOutput,
            204: OpenApiResponse(description="Nothing left for you in this campaign."),
            400: OpenApiResponse(description="The campaign is not open."),
        },
        summary="Claim the next item (or resume the one in progress)",
    )
    def post(self, request: Request, workspace: str, campaign_id: int) -> Response:
        campaign = selectors.get_campaign(self.workspace, campaign_id)
        campaign.workspace = self.workspace
        assignment = services.item_claim_next(campaign=campaign, reviewer=request.user)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(AssignmentOutput(assignment).data)


class MyAssignmentListView(WorkspaceAPIMixin, generics.ListAPIView):
    """The signed-in user's assignments in this workspace, newest first."""

    serializer_class = AssignmentOutput
    read_permission = "queue.view"

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=[s.value for s in Assignment.Status]),
            OpenApiParameter("campaign", int),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Assignment]:
        wanted = self.request.query_params.get("status", "")
        campaign = self.request.query_params.get("campaign", "")
        return selectors.reviewer_assignments(
            self.workspace,
            self.request.user,
            status=wanted if wanted in Assignment.Status.values else "",  # allow-listed only
            campaign_id=int(campaign) if campaign.isdigit() else None,
        )


def _my_assignment(view: WorkspaceAPIMixin, user: Any, assignment_id: int) -> Assignment:
    return get_object_or_404(
        selectors.reviewer_assignments(view.workspace, user).select_related("item"),
        pk=assignment_id,
    )


class AssignmentSubmitView(WorkspaceAPIMixin, APIView):
    write_permission = "queue.view"

    @extend_schema(request=None, responses=AssignmentOutput, summary="Submit my labels on an item")
    def post(self, request: Request, workspace: str, assignment_id: int) -> Response:
        assignment = _my_assignment(self, request.user, assignment_id)
        assignment = assignment_submit(assignment=assignment, reviewer=request.user)
        return Response(AssignmentOutput(assignment).data)


class AssignmentSkipView(WorkspaceAPIMixin, APIView):
    write_permission = "queue.view"

    @extend_schema(
        request=SkipInput, responses=AssignmentOutput, summary="Skip an item, with a reason"
    )
    def post(self, request: Request, workspace: str, assignment_id: int) -> Response:
        assignment = _my_assignment(self, request.user, assignment_id)
        data = SkipInput(data=request.data)
        data.is_valid(raise_exception=True)
        assignment = services.assignment_skip(
            assignment=assignment, reviewer=request.user, reason=data.validated_data["reason"]
        )
        return Response(AssignmentOutput(assignment).data)
