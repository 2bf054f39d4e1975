"""Composed reads for the workspace dashboard: the specs with their current published version,
the open campaigns, and what the signed-in member can claim.

A fixed number of queries whatever the number of specs, versions or campaigns.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, OuterRef, Q, Subquery

from clausebook.models import User, Workspace
from reviews.models import Assignment, Campaign, CampaignReviewer
from reviews.selectors.campaigns import (
    CLAIMABLE_COUNT_CAP,
    campaigns_in,
    claimable_counts,
    reviewer_assignments,
)
from specs.models import Spec, SpecVersion, VersionStatus
from transcripts.models import Transcript

#: Open campaigns listed on the dashboard (newest first); the campaign list has them all.
DASHBOARD_CAMPAIGNS = 10


@dataclass
class SpecRow:
    """A spec on the dashboard. ``current`` is the label of its newest *published* version (a
    draft is never shown as current); ``drafts`` counts versions not yet published."""

    spec: Spec
    versions: int
    current: str | None
    drafts: int


def dashboard_specs(workspace: Workspace) -> list[SpecRow]:
    """The workspace's specs by title, each with its current published version. One query."""
    current = (
        SpecVersion.objects.filter(spec=OuterRef("pk"), status=VersionStatus.PUBLISHED)
        .order_by("-label", "-published_at")  # labels are dates in the reference spec
        .values("label")[:1]
    )
    specs = (
        Spec.objects.filter(workspace=workspace)
        .annotate(
            version_total=Count("versions"),
            draft_total=Count("versions", filter=~Q(versions__status=VersionStatus.PUBLISHED)),
            current_label=Subquery(current),
        )
        .order_by("title", "slug")
    )
    return [
        SpecRow(
            spec=spec,
            versions=spec.version_total,
            current=spec.current_label,
            drafts=spec.draft_total,
        )
        for spec in specs
    ]


@dataclass
class OpenCampaign:
    campaign: Campaign
    #: Items this member could claim now; None when they hold no seat on the campaign.
    to_claim: int | None = None


@dataclass
class DashboardSummary:
    transcripts: int
    campaigns: list[OpenCampaign]
    #: Items the member could claim, over every open campaign they are seated on (not only the
    #: ones listed), each counted up to ``CLAIMABLE_COUNT_CAP``.
    to_claim: int
    #: True when some campaign's count reached the cap: the page says "at least".
    to_claim_capped: bool
    in_progress: int
    seated_open: int


def dashboard_summary(workspace: Workspace, user: User) -> DashboardSummary:
    """The dashboard's review figures. Five queries at most: transcripts, open campaigns, the
    member's seats on open campaigns, their claimable counts (the claim query's own predicate),
    and their items in progress."""
    campaigns = [
        OpenCampaign(campaign=campaign)
        for campaign in campaigns_in(workspace)
        .filter(status=Campaign.Status.OPEN)
        .only("id", "title", "item_count", "reviewers_per_item")
        .order_by("-created_at", "-id")[:DASHBOARD_CAMPAIGNS]
    ]
    seated = list(
        CampaignReviewer.objects.seated()
        .filter(user=user, campaign__workspace=workspace, campaign__status=Campaign.Status.OPEN)
        .values_list("campaign_id", flat=True)
    )
    counts = claimable_counts(user, seated)
    for row in campaigns:
        row.to_claim = counts.get(row.campaign.pk)
    return DashboardSummary(
        transcripts=Transcript.objects.in_workspace(workspace).count(),
        campaigns=campaigns,
        to_claim=sum(counts.values()),
        to_claim_capped=any(n >= CLAIMABLE_COUNT_CAP for n in counts.values()),
        in_progress=reviewer_assignments(workspace, user, status=Assignment.Status.ACTIVE).count(),
        seated_open=len(seated),
    )
