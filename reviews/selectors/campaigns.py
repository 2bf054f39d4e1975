"""Composed reads for campaigns, the reviewer's queue and the labeling page.

Every function starts from a workspace (or an object already resolved inside one), and the page
selectors issue a fixed number of queries whatever the campaign, transcript or scope size.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

from clausebook.models import User, Workspace
from reviews.models import Assignment, Campaign, CampaignClause, CampaignReviewer, Item


def campaigns_in(workspace: Workspace) -> QuerySet[Campaign]:
    return Campaign.objects.filter(workspace=workspace)


def campaign_list(workspace: Workspace) -> QuerySet[Campaign]:
    """Campaigns with their spec version and the number of finished items (agreed or beyond)."""
    return (
        campaigns_in(workspace)
        .select_related("spec_version__spec")
        .annotate(
            finished=Count("items", filter=~Q(items__state="open")),
            reviewer_count=Count("reviewers", distinct=True),
        )
        .order_by("-created_at")
    )


def get_campaign(workspace: Workspace, campaign_id: int) -> Campaign:
    return get_object_or_404(
        campaigns_in(workspace).select_related("spec_version__spec"), pk=campaign_id
    )


def get_item(campaign: Campaign, item_id: int, *, with_messages: bool = True) -> Item:
    """An item of the campaign (404 otherwise) with its transcript; writes that only need the
    message count skip loading the messages."""
    items = Item.objects.select_related("transcript").filter(campaign=campaign)
    if not with_messages:
        items = items.defer("transcript__messages", "transcript__metadata")
    return get_object_or_404(items, pk=item_id)


@dataclass
class ReviewerProgress:
    user: User
    active: int = 0
    submitted: int = 0
    skipped: int = 0

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
    def needed(self) -> int:
        return self.campaign.item_count * self.campaign.reviewers_per_item

    @property
    def percent(self) -> int:
        return int(100 * self.submissions / self.needed) if self.needed else 0


def campaign_progress(campaign: Campaign) -> CampaignProgress:
    """Totals, item states and per-reviewer counts (five queries)."""
    seated = {
        seat.user_id: ReviewerProgress(user=seat.user)
        for seat in CampaignReviewer.objects.filter(campaign=campaign)
        .select_related("user")
        .order_by("user__email")
    }
    rows = (
        Assignment.objects.filter(item__campaign=campaign)
        .values("reviewer_id", "status")
        .annotate(n=Count("id"))
    )
    missing: dict[int, dict[str, int]] = defaultdict(dict)
    for row in rows:
        progress = seated.get(row["reviewer_id"])
        if progress is None:
            missing[row["reviewer_id"]][row["status"]] = row["n"]
            continue
        setattr(progress, row["status"], row["n"])
    if missing:  # reviewers who worked and were later unseated (or imported) still count
        for user in User.objects.filter(pk__in=missing):
            progress = ReviewerProgress(user=user)
            for status, n in missing[user.pk].items():
                setattr(progress, status, n)
            seated[user.pk] = progress
    states = dict(
        Item.objects.filter(campaign=campaign)
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    reviewers = list(seated.values())
    submissions = sum(r.submitted for r in reviewers)
    clauses = list(
        CampaignClause.objects.filter(campaign=campaign)
        .select_related("clause")
        .order_by("position")
    )
    return CampaignProgress(
        campaign=campaign,
        reviewers=reviewers,
        states={
            state: states.get(state, 0) for state in ("open", "agreed", "disputed", "adjudicated")
        },
        open_slots=0,
        submissions=submissions,
        chart_max=max([r.assigned for r in reviewers] + [1]),
        clause_count=len(clauses),
        clauses=clauses,
    )


@dataclass
class QueueEntry:
    campaign: Campaign
    active: int = 0
    submitted: int = 0
    skipped: int = 0

    @property
    def percent(self) -> int:
        total = self.campaign.item_count
        return int(100 * self.submitted / total) if total else 0


def reviewer_queue(workspace: Workspace, user: User) -> dict[str, Any]:
    """The reviewer's active campaigns with their own progress, and recent assignments.

    Three queries, whatever the number or size of campaigns: the seats, one grouped count of the
    reviewer's assignments, and the recent assignments.
    """
    entries = {
        seat.campaign_id: QueueEntry(campaign=seat.campaign)
        for seat in CampaignReviewer.objects.filter(
            user=user, campaign__workspace=workspace, campaign__status=Campaign.Status.ACTIVE
        )
        .select_related("campaign__spec_version")
        .order_by("-campaign__created_at")
    }
    if entries:
        counts = (
            Assignment.objects.filter(reviewer=user, item__campaign_id__in=list(entries))
            .values_list("item__campaign_id", "status")
            .annotate(n=Count("id"))
        )
        for campaign_id, status, n in counts:
            setattr(entries[campaign_id], status, n)
    recent = list(
        Assignment.objects.filter(reviewer=user, item__campaign__workspace=workspace)
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
        )
        .order_by("-claimed_at")[:15]
    )
    return {"entries": list(entries.values()), "recent": recent}
