"""Composed reads for disagreements: the queue of disputed (item, clause) pairs, one pair's
thread, and a member's notifications. Pages and the API read through the same functions.

The queue lists the pairs the campaign's rule calls ``disputed`` (``Outcome.state``, written by
``reviews.outcomes``; an adjudicated pair is no longer disputed). In a blind campaign a member
below adjudicator sees only pairs of items they have submitted themselves: a dispute on an item
still to label would tell them how the others voted (``access.item_states_shown``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from clausebook.models import Membership, User
from reviews import access
from reviews.access import ThreadRef
from reviews.models import (
    Assignment,
    Campaign,
    CampaignClause,
    Comment,
    Item,
    Label,
    Notification,
    Outcome,
    OutcomeState,
)

#: Pairs per page of the queue (pages and the API).
QUEUE_PAGE_SIZE = 50
QUEUE_MAX_PAGE_SIZE = 200
#: How the queue may be sorted: the key a client sends → its words (the form's menu).
QUEUE_SORTS = {
    "oldest": "Oldest dispute first",
    "newest": "Newest dispute first",
    "severity": "Most severe first",
    "clause": "By clause",
    "item": "By item",
}
_ORDER = {
    "oldest": ("changed_at", "pk"),
    "newest": ("-changed_at", "-pk"),
    "severity": (F("severity_rank").desc(nulls_last=True), "changed_at", "pk"),
    "clause": ("clause_position", "item__position", "pk"),
    "item": ("item__position", "clause_position", "pk"),
}
#: Days a filter on age may name at most (a larger number is refused, not clamped).
MAX_AGE_DAYS = 36_500


@dataclass(frozen=True)
class QueueFilters:
    """What a client may filter and sort the queue by, as raw text (a form's or a query
    string's); :func:`queue_filters` checks them. ``severity`` keeps pairs whose highest
    severity among the labels is at least that value on the campaign's scale; ``older_than`` and
    ``newer_than`` are days since the pair's outcome last changed."""

    clause: str = ""
    severity: str = ""
    older_than: int | None = None
    newer_than: int | None = None
    sort: str = "oldest"


def _days(params: Any, name: str) -> int | None:
    raw = str(params.get(name) or "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_AGE_DAYS:
        raise ValidationError(
            {name: f"{raw[:20]!r} is not a number of days (0 to {MAX_AGE_DAYS})."}
        )
    return int(raw)


def queue_filters(campaign: Campaign, params: Any) -> QueueFilters:
    """The queue's filters from a query string (``clause``, ``severity``, ``older_than``,
    ``newer_than``, ``sort``), each checked against the campaign: a clause outside its scope, a
    severity off its scale or an unknown sort is a ValidationError naming the parameter."""
    clause = str(params.get("clause") or "").strip()
    if clause and not CampaignClause.objects.filter(campaign=campaign, clause__key=clause).exists():
        raise ValidationError({"clause": f"{clause[:120]!r} is not a clause of this campaign."})
    severity = str(params.get("severity") or "").strip()
    if severity and severity not in severity_ranks(campaign):
        raise ValidationError({"severity": f"{severity[:40]!r} is not a severity here."})
    sort = str(params.get("sort") or "oldest").strip()
    if sort not in QUEUE_SORTS:
        raise ValidationError({"sort": f"Sort by one of: {', '.join(QUEUE_SORTS)}."})
    return QueueFilters(
        clause=clause,
        severity=severity,
        older_than=_days(params, "older_than"),
        newer_than=_days(params, "newer_than"),
        sort=sort,
    )


def severity_ranks(campaign: Campaign) -> dict[str, int]:
    """Each severity of the campaign's scale → its rank (0 the mildest)."""
    return {entry["value"]: rank for rank, entry in enumerate(campaign.severity_scale)}


def _severity_rank(campaign: Campaign) -> Subquery | Value:
    """The highest severity rank among the pair's counted labels (None when none has one)."""
    ranks = severity_ranks(campaign)
    if not ranks:
        return Value(None, output_field=IntegerField())
    rank = Case(
        *[When(severity=value, then=Value(position)) for value, position in ranks.items()],
        default=None,
        output_field=IntegerField(),
    )
    highest = (
        Label.objects.counted()
        .filter(item=OuterRef("item_id"), clause=OuterRef("clause_id"))
        .order_by()
        .annotate(rank=rank)
        .values("item")
        .annotate(top=Max("rank"))
        .values("top")
    )
    return Subquery(highest, output_field=IntegerField())


def disputed_pairs(membership: Membership, campaign: Campaign) -> QuerySet[Outcome]:
    """The campaign's disputed pairs the member may see (see the module), unfiltered."""
    pairs = Outcome.objects.filter(campaign=campaign, state=OutcomeState.DISPUTED)
    if not access.item_states_shown(campaign, membership.role):
        pairs = pairs.filter(
            Exists(
                Assignment.objects.filter(
                    item=OuterRef("item_id"),
                    reviewer=membership.user_id,
                    status=Assignment.Status.SUBMITTED,
                )
            )
        )
    return pairs


def _filtered(
    pairs: QuerySet[Outcome], campaign: Campaign, filters: QueueFilters, *, with_clause: bool
) -> QuerySet[Outcome]:
    now = timezone.now()
    if with_clause and filters.clause:
        pairs = pairs.filter(clause__key=filters.clause)
    if filters.older_than is not None:
        pairs = pairs.filter(changed_at__lte=now - timedelta(days=filters.older_than))
    if filters.newer_than is not None:
        pairs = pairs.filter(changed_at__gte=now - timedelta(days=filters.newer_than))
    if filters.severity:
        pairs = pairs.annotate(severity_rank=_severity_rank(campaign)).filter(
            severity_rank__gte=severity_ranks(campaign)[filters.severity]
        )
    return pairs


@dataclass
class QueueRow:
    """One disputed pair as the queue shows it."""

    outcome: Outcome
    clause_key: str
    clause_title: str
    item_position: int
    external_id: str
    severity: str
    verdicts: dict[str, int]
    comments: int

    @property
    def item_id(self) -> int:
        return self.outcome.item_id

    @property
    def changed_at(self) -> datetime:
        return self.outcome.changed_at


@dataclass
class ClauseCount:
    key: str
    title: str
    disputed: int


@dataclass
class DisputeQueue:
    """A page of the queue, the filters it answers, and how many disputed pairs each clause
    has under the other filters (the clause filter's counts)."""

    campaign: Campaign
    filters: QueueFilters
    page: Page
    rows: list[QueueRow]
    clause_counts: list[ClauseCount]
    total: int = 0
    severities: list[dict[str, str]] = field(default_factory=list)


def dispute_queue(
    membership: Membership,
    campaign: Campaign,
    filters: QueueFilters,
    *,
    page: str | int | None = None,
    page_size: int = QUEUE_PAGE_SIZE,
) -> DisputeQueue:
    """A page of the campaign's disputed pairs the member may see, filtered and sorted, with
    counts per clause. A fixed number of queries whatever the campaign's size: the counts, the
    page's count and rows, and the page's verdicts."""
    visible = disputed_pairs(membership, campaign)
    scope = list(
        CampaignClause.objects.filter(campaign=campaign)
        .order_by("position")
        .values_list("clause_id", "clause__key", "clause__title")
    )
    per_clause = dict(
        _filtered(visible, campaign, filters, with_clause=False)
        .order_by()
        .values("clause_id")
        .annotate(n=Count("id"))
        .values_list("clause_id", "n")
    )
    counts = [ClauseCount(key, title, per_clause.get(pk, 0)) for pk, key, title in scope]
    position = Subquery(
        CampaignClause.objects.filter(campaign=campaign, clause=OuterRef("clause_id")).values(
            "position"
        )[:1]
    )
    comments = (
        Comment.objects.filter(item=OuterRef("item_id"), clause=OuterRef("clause_id"))
        .order_by()
        .values("item")
        .annotate(n=Count("id"))
        .values("n")
    )
    rows_qs = _filtered(visible, campaign, filters, with_clause=True)
    if not filters.severity:
        rows_qs = rows_qs.annotate(severity_rank=_severity_rank(campaign))
    rows_qs = (
        rows_qs.annotate(
            clause_position=position,
            comment_count=Coalesce(Subquery(comments, output_field=IntegerField()), 0),
        )
        .select_related("clause", "item__transcript")
        .only(
            "id",
            "item_id",
            "clause_id",
            "state",
            "verdict_count",
            "top_verdict",
            "changed_at",
            "clause__key",
            "clause__title",
            "item__position",
            "item__transcript__external_id",
        )
        .order_by(*_ORDER[filters.sort])
    )
    shown = Paginator(rows_qs, page_size).get_page(page)
    outcomes = list(shown.object_list)
    verdicts: dict[tuple[int, int], dict[str, int]] = defaultdict(dict)
    if outcomes:
        for item_id, clause_id, verdict, n in (
            Label.objects.counted()
            .filter(
                item_id__in={o.item_id for o in outcomes},
                clause_id__in={o.clause_id for o in outcomes},
            )
            .order_by()
            .values("item_id", "clause_id", "verdict")
            .annotate(n=Count("id"))
            .values_list("item_id", "clause_id", "verdict", "n")
        ):
            verdicts[(item_id, clause_id)][verdict] = n
    scale = [entry["value"] for entry in campaign.severity_scale]
    rows = [
        QueueRow(
            outcome=outcome,
            clause_key=outcome.clause.key,
            clause_title=outcome.clause.title,
            item_position=outcome.item.position,
            external_id=outcome.item.transcript.external_id,
            severity=scale[outcome.severity_rank] if outcome.severity_rank is not None else "",
            verdicts=dict(
                sorted(verdicts[(outcome.item_id, outcome.clause_id)].items(), key=lambda e: -e[1])
            ),
            comments=outcome.comment_count,
        )
        for outcome in outcomes
    ]
    return DisputeQueue(
        campaign=campaign,
        filters=filters,
        page=shown,
        rows=rows,
        clause_counts=counts,
        total=sum(per_clause.values()),
        severities=list(campaign.severity_scale),
    )


# --------------------------------------------------------------------------------------------------
# One thread
# --------------------------------------------------------------------------------------------------


@dataclass
class ThreadPage:
    """One (item, clause) thread: the labels on the pair the member may see (side by side),
    the comments with their edit history, the pair's outcome, and the member's own label."""

    ref: ThreadRef
    labels: list[Label]
    comments: list[Comment]
    outcome: Outcome | None
    mine: Label | None

    @property
    def state(self) -> str:
        return self.outcome.state if self.outcome is not None else OutcomeState.OPEN


def thread_comments(ref: ThreadRef) -> QuerySet[Comment]:
    """The thread's comments, oldest first, with their authors and earlier versions."""
    return _comments(Comment.objects.filter(item=ref.item, clause=ref.clause))


def item_comments(item: Item) -> QuerySet[Comment]:
    """Every thread of ``item`` at once (one per clause, ``clause_id`` tells them apart), read
    as :func:`thread_comments` reads one: for a page that shows all of an item's threads. The
    caller applies the thread's rule first (``access.thread_to_read``'s)."""
    return _comments(Comment.objects.filter(item=item))


def _comments(comments: QuerySet[Comment]) -> QuerySet[Comment]:
    from reviews.models import CommentRevision

    return (
        comments.select_related("author")
        .prefetch_related(
            Prefetch(
                "history",
                queryset=CommentRevision.objects.select_related("edited_by").order_by("revision"),
            )
        )
        .order_by("created_at", "pk")
    )


def thread_page(membership: Membership, ref: ThreadRef) -> ThreadPage:
    """The thread of a pair the member may read (``access.thread_to_read`` resolved ``ref``).
    The labels are exactly those ``Label.objects.visible_to`` shows on the pair."""
    labels = list(
        access.labels_on_item(membership, ref.item, ref.assignment)
        .filter(clause=ref.clause)
        .select_related("reviewer", "judge_run__endpoint")
        .order_by("source", "reviewer__email", "pk")
    )
    mine = next((label for label in labels if label.reviewer_id == membership.user_id), None)
    outcome = Outcome.objects.filter(item=ref.item, clause=ref.clause).first()
    return ThreadPage(
        ref=ref,
        labels=labels,
        comments=list(thread_comments(ref)),
        outcome=outcome,
        mine=mine,
    )


def comment_in_thread(ref: ThreadRef, comment_id: int) -> Comment:
    """A comment of this thread (404 for any other, whichever thread or workspace it is in)."""
    from django.http import Http404

    comment = (
        Comment.objects.filter(pk=comment_id, item=ref.item, clause=ref.clause)
        .select_related("author")
        .first()
    )
    if comment is None:
        raise Http404("No such comment in this thread")
    return comment


# --------------------------------------------------------------------------------------------------
# Notifications
# --------------------------------------------------------------------------------------------------

NOTIFICATION_PAGE_SIZE = 50


def notifications_of(membership: Membership) -> QuerySet[Notification]:
    """The member's notifications in this workspace, newest first, with the comment, its
    author, and its item and clause or its amendment (what a line of the list links to)."""
    return (
        Notification.objects.filter(recipient=membership.user_id, workspace=membership.workspace_id)
        .select_related(
            "comment__author", "comment__item", "comment__clause", "comment__amendment__spec"
        )
        .order_by("-id")
    )


def unread_count(user: User, workspace_id: int) -> int:
    """How many of the user's notifications in the workspace are unread (the header's badge)."""
    return Notification.objects.filter(
        recipient=user, workspace_id=workspace_id, read_at__isnull=True
    ).count()
