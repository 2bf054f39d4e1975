"""Composed reads for the labeling page and for who may see which labels.

Every function starts from a workspace (or an object already resolved inside one), and the page
selectors issue a fixed number of queries whatever the campaign, transcript or scope size.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet

from clausebook.models import Membership, Role, User, Workspace
from reviews.models import Assignment, Campaign, CampaignClause, Item, Label
from specs.models import Example


def can_see_others_labels(
    campaign: Campaign, membership: Membership, assignment: Assignment | None
) -> bool:
    """Blind labeling: others' labels stay hidden until the viewer submitted their own.

    Adjudicators and above who hold no assignment on the item may always look; reviewers with no
    assignment on the item see nothing of others on a blind campaign.
    """
    if not campaign.blind:
        return True
    if assignment is not None:
        return assignment.status == Assignment.Status.SUBMITTED
    return membership.role >= Role.ADJUDICATOR


@dataclass
class LabelingPage:
    campaign: Campaign
    item: Item
    assignment: Assignment | None
    clauses: list[CampaignClause]
    labels: dict[int, Label]
    others: dict[int, list[Label]]
    show_others: bool
    editable: bool


def labeling_page(
    campaign: Campaign, item: Item, user: User, membership: Membership
) -> LabelingPage:
    """Everything the labeling page shows, in a fixed number of queries (see the pinned test)."""
    assignment = Assignment.objects.filter(item=item, reviewer=user).first()
    clauses = list(
        CampaignClause.objects.filter(campaign=campaign)
        .select_related("clause")
        .order_by("position")
    )
    labels = {label.clause_id: label for label in Label.objects.filter(item=item, reviewer=user)}
    show_others = can_see_others_labels(campaign, membership, assignment)
    others: dict[int, list[Label]] = defaultdict(list)
    if show_others:
        for label in (
            Label.objects.filter(item=item, status=Label.Status.SUBMITTED)
            .exclude(reviewer=user)
            .select_related("reviewer")
            .order_by("reviewer__email")
        ):
            others[label.clause_id].append(label)
    return LabelingPage(
        campaign=campaign,
        item=item,
        assignment=assignment,
        clauses=clauses,
        labels=labels,
        others=dict(others),
        show_others=show_others,
        editable=assignment is not None and assignment.status == Assignment.Status.ACTIVE,
    )


def visible_labels(workspace: Workspace, user: User, membership: Membership) -> QuerySet[Label]:
    """Labels the user may read through the API: their own, and others' where blind allows.

    Others' labels are visible on campaigns that are not blind, on items where the user has
    submitted, and (for adjudicators and above) on items where the user holds no assignment.
    """
    base = Label.objects.filter(item__campaign__workspace=workspace)
    mine = Assignment.objects.filter(item=OuterRef("item"), reviewer=user)
    others = Q(item__campaign__blind=False) | Q(Exists(mine.filter(status="submitted")))
    if membership.role >= Role.ADJUDICATOR:
        others |= ~Q(Exists(mine))
    return base.filter(Q(reviewer=user) | Q(status=Label.Status.SUBMITTED) & others)


def examples_by_clause(clause_ids: list[int]) -> dict[int, list[Example]]:
    """The examples of the given clauses, in order, grouped by clause id (one query)."""
    grouped: dict[int, list[Example]] = {}
    for example in Example.objects.filter(clause_id__in=clause_ids).order_by("position"):
        grouped.setdefault(example.clause_id, []).append(example)
    return grouped
