"""Composed reads for campaigns, their scope and transcripts, seats, and the reviewer's queue.

Every function starts from a workspace (or an object already resolved inside one), and the page
selectors issue a fixed number of queries whatever the campaign, transcript or scope size. Pages
and the API read through the same functions here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, F, OuterRef, QuerySet, Subquery, Sum, TextField
from django.db.models.functions import Cast, Coalesce, Lower
from django.shortcuts import get_object_or_404

from clausebook.models import Role, User, Workspace
from reviews.models import (
    Assignment,
    Campaign,
    CampaignClause,
    CampaignReviewer,
    Item,
    OutcomeState,
)
from specs.models import Clause, SpecVersion
from transcripts.models import Transcript

# --------------------------------------------------------------------------------------------------
# Scope and transcripts: the raw choices a form or an API client makes, and what they pick
# --------------------------------------------------------------------------------------------------

#: How a campaign's clauses are chosen; the form's radio buttons are derived from this.
SCOPE_MODES = {"all": "The whole version", "subtree": "A subtree", "list": "Clauses I pick"}
#: How a campaign's transcripts are chosen; the form's menu is derived from this.
TRANSCRIPT_SOURCES = {
    "all": "Every transcript",
    "import": "From one import",
    "tag": "With a tag",
    "search": "Matching a search",
    "ids": "These transcript ids",
    "rerun": "Results of a re-run job",
}


@dataclass(frozen=True)
class ScopeChoice:
    """Which clauses of the pinned version a campaign covers, as the user chose them."""

    mode: str = "all"
    root_key: str = ""
    keys: Sequence[str] = ()


@dataclass(frozen=True)
class TranscriptChoice:
    """Which transcripts of the workspace become items, as the user chose them."""

    source: str = "all"
    import_id: int | None = None
    tag: str = ""
    search: str = ""
    ids: Sequence[int] = ()
    rerun_job_id: int | None = None
    limit: int | None = None


#: How many values an error names before it says "and N more" (it never drops one silently).
_NAMED_AT_MOST = 20


def named_list(values: Sequence[str]) -> str:
    """``a@x, b@y`` for an error message; past ``_NAMED_AT_MOST``, "… and N more"."""
    shown = ", ".join(values[:_NAMED_AT_MOST])
    rest = len(values) - _NAMED_AT_MOST
    return f"{shown} and {rest} more" if rest > 0 else shown


def spec_versions_in(workspace: Workspace) -> QuerySet[SpecVersion]:
    """The workspace's spec versions (a campaign pins a published one)."""
    return SpecVersion.objects.filter(spec__workspace=workspace).select_related("spec")


@dataclass(frozen=True)
class VersionRef:
    """A spec version as a client names it: by id, or by its spec's slug and its own label
    (what the spec API's URLs and responses carry)."""

    id: int | None = None
    spec: str = ""
    label: str = ""

    def __str__(self) -> str:
        return f"#{self.id}" if self.id is not None else f"{self.spec} {self.label}"


def spec_version_by_ref(workspace: Workspace, ref: VersionRef) -> SpecVersion:
    """The workspace's spec version ``ref`` names; ValidationError naming ``spec_version``
    otherwise (the same answer for an id of another workspace as for one that does not exist)."""
    versions = spec_versions_in(workspace)
    if ref.id is not None:
        version = versions.filter(pk=ref.id).first()
    else:
        version = versions.filter(spec__slug=ref.spec, label=ref.label).first()
    if version is None:
        raise ValidationError({"spec_version": f"No spec version {ref} in this workspace."})
    return version


def clause_outline(version: SpecVersion | None) -> list[Clause]:
    """The version's clauses in document order, with what a picker shows (key, title, level)."""
    if version is None:
        return []
    return list(version.clauses.order_by("position").only("id", "key", "title", "level"))


def scope_clauses(version: SpecVersion, choice: ScopeChoice) -> list[Clause]:
    """The clauses ``choice`` picks, in document order. Raises ValidationError naming the field
    (``scope``, ``parent_key`` or ``clause_keys``) when the choice picks nothing it could name."""
    clauses = list(version.clauses.order_by("position").only("id", "key", "parent_id"))
    if choice.mode == "all":
        return clauses
    if choice.mode == "subtree":
        root = next((c for c in clauses if c.key == choice.root_key.strip()), None)
        if root is None:
            raise ValidationError({"parent_key": "No clause with this key in the version."})
        keep = {root.pk}
        for clause in clauses:  # document order: a parent always comes before its children
            if clause.parent_id in keep:
                keep.add(clause.pk)
        return [c for c in clauses if c.pk in keep]
    if choice.mode == "list":
        keys = [key.strip() for key in choice.keys if key.strip()]
        by_key = {c.key: c for c in clauses}
        unknown = [key for key in keys if key not in by_key]
        if unknown:
            raise ValidationError({"clause_keys": f"Unknown keys: {named_list(unknown)}"})
        if not keys:
            raise ValidationError({"clause_keys": "Choose at least one clause."})
        return [by_key[key] for key in dict.fromkeys(keys)]
    raise ValidationError({"scope": f"Choose one of: {', '.join(SCOPE_MODES)}."})


def describe_scope(version: SpecVersion, choice: ScopeChoice, clauses: Sequence[Clause]) -> str:
    """A one-line description of the scope, shown under the campaign's title."""
    return {
        "all": f"All of {version.label}",
        "subtree": f"Subtree {choice.root_key.strip()}",
        "list": f"{len(clauses)} listed clauses",
    }[choice.mode]


def transcripts_matching(workspace: Workspace, choice: TranscriptChoice) -> QuerySet[Transcript]:
    """Transcripts of the workspace that ``choice`` picks (an empty choice picks none), by id.

    ``limit`` is not applied here, so a preview can count every match.
    """
    qs = Transcript.objects.in_workspace(workspace).order_by("id")
    if choice.source == "import":
        return qs.filter(import_run_id=choice.import_id) if choice.import_id else qs.none()
    if choice.source == "tag":
        return qs.filter(tags__contains=[choice.tag]) if choice.tag else qs.none()
    if choice.source == "search":
        if not choice.search:
            return qs.none()
        return qs.annotate(messages_text=Cast("messages", TextField())).filter(
            messages_text__icontains=choice.search
        )
    if choice.source == "ids":
        return qs.filter(pk__in=list(choice.ids))
    if choice.source == "rerun":
        # The transcripts the job's calls produced (in the workspace, like every other source).
        if not choice.rerun_job_id:
            return qs.none()
        return qs.filter(model_run__job_id=choice.rerun_job_id)
    if choice.source == "all":
        return qs
    raise ValidationError({"source": f"Choose one of: {', '.join(TRANSCRIPT_SOURCES)}."})


def transcript_ids_matching(workspace: Workspace, choice: TranscriptChoice) -> list[int]:
    """The ids of the transcripts ``choice`` picks, in item order, at most ``limit`` of them.

    Listed ids keep the order given; the other sources go by id. Raises ValidationError naming
    ``transcripts`` when nothing matches or a listed id is not a transcript of the workspace.
    """
    matching = transcripts_matching(workspace, choice)
    if choice.source == "ids":
        wanted = list(dict.fromkeys(choice.ids))
        found = set(matching.values_list("id", flat=True))
        foreign = [pk for pk in wanted if pk not in found]
        if foreign:
            shown = ", ".join(str(pk) for pk in foreign[:10])
            raise ValidationError({"transcripts": f"Not transcripts of this workspace: {shown}."})
        ids = wanted[: choice.limit] if choice.limit else wanted
    else:
        ids = list(matching.values_list("id", flat=True)[: choice.limit or None])
    if not ids:
        raise ValidationError({"transcripts": "No transcript matches."})
    return ids


@dataclass(frozen=True)
class ItemsAddPreview:
    """What adding ``choice`` to a campaign would do: how many transcripts it picks (the limit
    applied) and how many of those are in the campaign already."""

    picked: int
    already: int

    @property
    def new(self) -> int:
        return self.picked - self.already


def items_add_preview(campaign: Campaign, choice: TranscriptChoice) -> ItemsAddPreview:
    """Two counts for the add-transcripts page, before anything is written. Listed ids under a
    limit are counted by id order (the add itself keeps the order given)."""
    picked = transcripts_matching(campaign.workspace, choice)
    if choice.limit:
        picked = Transcript.objects.filter(pk__in=Subquery(picked.values("pk")[: choice.limit]))
    return ItemsAddPreview(
        picked=picked.count(),
        already=picked.filter(
            pk__in=Item.objects.filter(campaign=campaign).values("transcript_id")
        ).count(),
    )


def eligible_reviewers(workspace: Workspace) -> QuerySet[User]:
    """Members who may be seated on a campaign: the reviewer role or higher."""
    return User.objects.filter(
        memberships__workspace=workspace, memberships__role__gte=Role.REVIEWER
    ).order_by("email")


def members_by_email(
    workspace: Workspace, emails: Sequence[str], *, field: str = "reviewers"
) -> list[User]:
    """The workspace's members with these emails (case-insensitive), in the order given.

    Raises ValidationError under ``field`` naming every address that is not a member. Whether an
    address has an account elsewhere makes no difference to the answer: membership is all that is
    looked up, so the message cannot tell anyone which addresses have accounts, and nothing is
    created or dropped.
    """
    wanted = list(dict.fromkeys(email.strip().lower() for email in emails if email.strip()))
    users = {
        user.email_lower: user
        for user in User.objects.annotate(email_lower=Lower("email")).filter(
            memberships__workspace=workspace, email_lower__in=wanted
        )
    }
    unknown = [email for email in wanted if email not in users]
    if unknown:
        raise ValidationError({field: f"Not members of this workspace: {named_list(unknown)}."})
    return [users[email] for email in wanted]


# --------------------------------------------------------------------------------------------------
# Campaigns
# --------------------------------------------------------------------------------------------------


def campaigns_in(workspace: Workspace) -> QuerySet[Campaign]:
    return Campaign.objects.filter(workspace=workspace)


def _count_of(model: Any, **filters: Any) -> Coalesce:
    """A correlated COUNT per campaign (joins would multiply one count by the other)."""
    counted = (
        model.objects.filter(campaign=OuterRef("pk"), **filters)
        .order_by()
        .values("campaign")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(counted), 0)


def campaign_list(workspace: Workspace) -> QuerySet[Campaign]:
    """Campaigns, newest first, with their spec version, seated reviewers and finished items
    (agreed or beyond). One query for the page or an API page."""
    return (
        campaigns_in(workspace)
        .with_seat_count()
        .select_related("spec_version__spec")
        .annotate(finished=_count_of(Item, state__in=_FINISHED))
        .order_by("-created_at", "-id")
    )


_FINISHED = [OutcomeState.AGREED, OutcomeState.DISPUTED, OutcomeState.ADJUDICATED]


def get_campaign(workspace: Workspace, campaign_id: int) -> Campaign:
    """The workspace's campaign (404 otherwise) with its spec version and seated-reviewer count."""
    return get_object_or_404(
        campaigns_in(workspace).with_seat_count().select_related("spec_version__spec"),
        pk=campaign_id,
    )


def clauses_of(campaign_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Each campaign's clauses in scope order as ``{"id", "key", "title"}``: what a script needs
    to label by clause id (one query for a page of campaigns)."""
    clauses: dict[int, list[dict[str, Any]]] = {pk: [] for pk in campaign_ids}
    for campaign_id, clause_id, key, title in (
        CampaignClause.objects.filter(campaign_id__in=list(campaign_ids))
        .order_by("campaign_id", "position")
        .values_list("campaign_id", "clause_id", "clause__key", "clause__title")
    ):
        clauses[campaign_id].append({"id": clause_id, "key": key, "title": title})
    return clauses


def get_item(campaign: Campaign, item_id: int, *, with_messages: bool = True) -> Item:
    """An item of the campaign (404 otherwise) with its transcript; writes that only need the
    message count skip loading the messages."""
    items = Item.objects.select_related("transcript").filter(campaign=campaign)
    if not with_messages:
        items = items.defer("transcript__messages", "transcript__metadata")
    return get_object_or_404(items, pk=item_id)


def campaign_items(campaign: Campaign) -> QuerySet[Item]:
    """The campaign's items in order, with the transcript's external id only."""
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


#: Items per page of a campaign page's item list.
ITEM_PAGE_SIZE = 50


class _KnownCountPaginator(Paginator):
    """A paginator told its total: the campaign page already counted the items (by state), and
    a COUNT(*) over a million-item campaign would be the slowest query of the page."""

    def __init__(self, object_list: Any, per_page: int, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self._known_count = count

    @cached_property
    def count(self) -> int:
        return self._known_count


@dataclass
class ItemPage:
    """One page of a campaign's items, and the viewer's own assignments on those items."""

    page: Page
    state: str
    mine: dict[int, Assignment]


def campaign_item_page(
    campaign: Campaign,
    user: User,
    *,
    states: dict[str, int],
    page: str | int | None = None,
    state: str = "",
) -> ItemPage:
    """A page of the campaign's items in order (only those in ``state`` when it is an item
    state), with the user's assignments on them. ``states`` are the per-state item counts the
    page already has (``CampaignProgress.states``). Two queries."""
    items = campaign_items(campaign)
    if state in OutcomeState.values:
        items = items.filter(state=state)
        total = states.get(state, 0)
    else:
        state, total = "", campaign.item_count
    shown = _KnownCountPaginator(items, ITEM_PAGE_SIZE, count=total).get_page(page)
    mine = {
        assignment.item_id: assignment
        for assignment in Assignment.objects.filter(
            campaign=campaign, reviewer=user, item_id__in=[item.pk for item in shown]
        ).only("id", "item_id", "status")
    }
    return ItemPage(page=shown, state=state, mine=mine)


def campaign_seats(campaign: Campaign) -> QuerySet[CampaignReviewer]:
    """Every seat of the campaign, seated first, then removed ones, by email."""
    return (
        CampaignReviewer.objects.filter(campaign=campaign)
        .select_related("user")
        .order_by(F("removed_at").asc(nulls_first=True), "user__email")
    )


def seated_user(campaign: Campaign, email: str) -> User:
    """The user seated on the campaign with this email (a member or not: people leave, seats
    stay until removed); ValidationError naming ``reviewer`` otherwise."""
    seat = (
        campaign_seats(campaign)
        .filter(removed_at__isnull=True, user__email__iexact=email.strip())
        .first()
    )
    if seat is None:
        raise ValidationError({"reviewer": f"{email} is not seated on this campaign."})
    return seat.user


def reviewer_assignments(
    workspace: Workspace, user: User, *, status: str = "", campaign_id: int | None = None
) -> QuerySet[Assignment]:
    """The user's own assignments in the workspace, newest first, optionally filtered."""
    qs = Assignment.objects.filter(reviewer=user, campaign__workspace=workspace).order_by(
        "-claimed_at", "-id"
    )
    if status:
        qs = qs.filter(status=status)
    if campaign_id is not None:
        qs = qs.filter(campaign_id=campaign_id)
    return qs


# --------------------------------------------------------------------------------------------------
# The campaign page and the reviewer's queue
# --------------------------------------------------------------------------------------------------


@dataclass
class ReviewerProgress:
    user: User
    seat: CampaignReviewer | None = None
    active: int = 0
    submitted: int = 0
    skipped: int = 0
    released: int = 0

    @property
    def seated(self) -> bool:
        return self.seat is not None and self.seat.removed_at is None

    @property
    def assigned(self) -> int:
        return self.active + self.submitted + self.skipped


@dataclass
class CampaignProgress:
    campaign: Campaign
    reviewers: list[ReviewerProgress]
    states: dict[str, int]
    open_slots: int
    submissions: int
    chart_max: int = 1
    clause_count: int = 0
    clauses: list[Any] = field(default_factory=list)

    @property
    def seated(self) -> list[ReviewerProgress]:
        return [r for r in self.reviewers if r.seated]

    def has_seated(self, user: User) -> bool:
        """Whether ``user`` holds a seat now (no query: the seats are loaded)."""
        return any(r.user.pk == user.pk for r in self.seated)

    @property
    def needed(self) -> int:
        return self.campaign.item_count * self.campaign.reviewers_per_item

    @property
    def percent(self) -> int:
        return int(100 * self.submissions / self.needed) if self.needed else 0


def campaign_progress(campaign: Campaign) -> CampaignProgress:
    """Totals, item states, open slots and per-reviewer counts (four queries, five when someone
    who holds no seat has worked on the campaign, e.g. through a label import)."""
    by_user = {
        seat.user_id: ReviewerProgress(user=seat.user, seat=seat)
        for seat in campaign_seats(campaign)
    }
    rows = (
        Assignment.objects.filter(campaign=campaign)
        .order_by()
        .values("reviewer_id", "status")
        .annotate(n=Count("id"))
    )
    unseated: dict[int, dict[str, int]] = defaultdict(dict)
    for row in rows:
        progress = by_user.get(row["reviewer_id"])
        if progress is None:
            unseated[row["reviewer_id"]][row["status"]] = row["n"]
        else:
            setattr(progress, row["status"], row["n"])
    if unseated:
        for user in User.objects.filter(pk__in=list(unseated)):
            progress = by_user[user.pk] = ReviewerProgress(user=user)
            for status, n in unseated[user.pk].items():
                setattr(progress, status, n)
    states: dict[str, int] = dict.fromkeys(OutcomeState.values, 0)
    open_slots = 0
    for state, n, slots in (
        Item.objects.filter(campaign=campaign)
        .order_by()
        .values("state")
        .annotate(n=Count("id"), slots=Sum("open_slots"))
        .values_list("state", "n", "slots")
    ):
        states[state] = n
        open_slots += slots or 0
    reviewers = list(by_user.values())
    clauses = list(
        CampaignClause.objects.filter(campaign=campaign)
        .select_related("clause")
        .order_by("position")
    )
    return CampaignProgress(
        campaign=campaign,
        reviewers=reviewers,
        states=states,
        open_slots=open_slots,
        submissions=sum(r.submitted for r in reviewers),
        chart_max=max([r.assigned for r in reviewers] + [1]),
        clause_count=len(clauses),
        clauses=clauses,
    )


# The one claimable predicate, over ``reviews_item``: a free slot, and never held by this reviewer
# before (in any status: an item they skipped or submitted is not offered to them again). The
# claim query in ``reviews.services.campaigns`` and the counts reviewers are shown both use it,
# so "you can claim N" and what claiming hands out cannot drift apart.
CLAIMABLE_BY_REVIEWER_SQL = """
    reviews_item.open_slots > 0
    AND NOT EXISTS (
        SELECT 1 FROM reviews_assignment a
        WHERE a.item_id = reviews_item.id AND a.reviewer_id = %(reviewer)s
    )
"""
#: Counting stops here per campaign ("1,000+"): the count walks the partial index of items with open
#: slots, so a cap keeps a million-item campaign's dashboard as fast as a small one's.
CLAIMABLE_COUNT_CAP = 1_000
_CLAIMABLE_COUNTS_SQL = f"""
    SELECT c.id, (
        SELECT count(*) FROM (
            SELECT 1 FROM reviews_item
            WHERE reviews_item.campaign_id = c.id AND {CLAIMABLE_BY_REVIEWER_SQL}
            -- In the claim's own order, so the plan walks the partial index item_claimable and
            -- stops at the cap (0.8 ms at 100k open items), where it would otherwise scan the
            -- campaign's items or collect all of them in a bitmap first (6-9 ms).
            ORDER BY reviews_item.position
            LIMIT %(cap)s
        ) AS claimable
    )
    FROM unnest(%(campaigns)s::bigint[]) AS c(id)
"""  # noqa: S608 - only module constants are interpolated; values go as parameters


def claimable_counts(reviewer: User, campaign_ids: Sequence[int]) -> dict[int, int]:
    """How many items of each campaign the reviewer could still claim, counted up to
    ``CLAIMABLE_COUNT_CAP``. Says nothing about seats or status: pass the campaigns the reviewer
    is seated on and that are open. One query (none for no campaign)."""
    if not campaign_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIMABLE_COUNTS_SQL,
            {"reviewer": reviewer.pk, "campaigns": list(campaign_ids), "cap": CLAIMABLE_COUNT_CAP},
        )
        return dict(cursor.fetchall())


@dataclass
class QueueEntry:
    campaign: Campaign
    active: int = 0
    submitted: int = 0
    skipped: int = 0
    released: int = 0
    #: Items the reviewer could still claim (``claimable_counts``; 0 unless the campaign is open).
    to_claim: int = 0

    @property
    def to_claim_capped(self) -> bool:
        return self.to_claim >= CLAIMABLE_COUNT_CAP

    @property
    def claimable(self) -> bool:
        return self.campaign.status == Campaign.Status.OPEN

    @property
    def percent(self) -> int:
        total = self.campaign.item_count
        return int(100 * self.submitted / total) if total else 0


#: Campaigns a seated reviewer sees in their queue (a paused one shows, without a Start button).
QUEUE_STATUSES = [Campaign.Status.OPEN, Campaign.Status.PAUSED]


def reviewer_queue(workspace: Workspace, user: User) -> dict[str, Any]:
    """The reviewer's open and paused campaigns with their own progress and what is left for
    them to claim, and recent assignments.

    Four queries, whatever the number or size of campaigns: the seats, one grouped count of the
    reviewer's assignments, the claimable counts, and the recent assignments.
    """
    entries = {
        seat.campaign_id: QueueEntry(campaign=seat.campaign)
        for seat in CampaignReviewer.objects.seated()
        .filter(user=user, campaign__workspace=workspace, campaign__status__in=QUEUE_STATUSES)
        .select_related("campaign__spec_version")
        .order_by("-campaign__created_at")
    }
    if entries:
        counts = (
            Assignment.objects.filter(reviewer=user, campaign_id__in=list(entries))
            .order_by()
            .values_list("campaign_id", "status")
            .annotate(n=Count("id"))
        )
        for campaign_id, status, n in counts:
            setattr(entries[campaign_id], status, n)
        open_ids = [pk for pk, entry in entries.items() if entry.claimable]
        for campaign_id, n in claimable_counts(user, open_ids).items():
            entries[campaign_id].to_claim = n
    recent = list(
        reviewer_assignments(workspace, user)
        .select_related("item__campaign")
        .only(
            "id",
            "status",
            "claimed_at",
            "submitted_at",
            "skip_reason",
            "item__id",
            "item__position",
            "item__state",
            "item__campaign__id",
            "item__campaign__title",
        )[:15]
    )
    return {"entries": list(entries.values()), "recent": recent}
