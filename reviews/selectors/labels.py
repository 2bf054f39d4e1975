"""Composed reads for labels: the labeling page, the labels a member may read, a label's history,
and a campaign's counted verdicts.

Every function starts from objects already resolved through ``reviews.access`` (or a
campaign resolved inside a workspace), and the page selector issues a fixed number of queries
whatever the campaign, transcript or scope size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from clausebook.caching import bounded_cache
from clausebook.models import Membership
from reviews import access
from reviews.models import (
    Assignment,
    Campaign,
    CampaignClause,
    Item,
    Label,
    LabelRevision,
    LabelSource,
)
from specs.models import Clause, Example

# A campaign's scope is written once, with the campaign, and its clauses belong to a published
# version, which the database refuses to change: the scope is a pure function of the campaign's
# id, read once per process (``clausebook.caching.clear_all`` empties it).
_SCOPES = bounded_cache("reviews.selectors.labels.campaign_scope", maxsize=512)


@dataclass(frozen=True)
class CampaignScope:
    """The clauses in a campaign's scope, in order, with their clause loaded. Shared between
    requests: read it, never change it."""

    clauses: tuple[CampaignClause, ...]
    by_id: dict[int, Clause]
    by_key: dict[str, Clause]

    @property
    def ids(self) -> list[int]:
        return [cc.clause_id for cc in self.clauses]

    def resolve(self, ref: int | str) -> Clause:
        """The clause a reference names (its id, or its key), or ValidationError."""
        clause = self.by_id.get(ref) if isinstance(ref, int) else self.by_key.get(ref)
        if clause is None:
            raise ValidationError({"clause": f"{ref!r} is not a clause in this campaign's scope."})
        return clause

    def keys_in_order(self, clause_ids: set[int]) -> list[str]:
        """The keys of ``clause_ids`` in scope order."""
        return [cc.clause.key for cc in self.clauses if cc.clause_id in clause_ids]


def campaign_scope(campaign_id: int) -> CampaignScope:
    """The campaign's scope: one query on the first call in a process, none after."""

    def read() -> CampaignScope:
        clauses = tuple(
            CampaignClause.objects.filter(campaign_id=campaign_id)
            .select_related("clause")
            .order_by("position")
        )
        by_id = {cc.clause_id: cc.clause for cc in clauses}
        return CampaignScope(
            clauses=clauses,
            by_id=by_id,
            by_key={clause.key: clause for clause in by_id.values()},
        )

    scope = _SCOPES.get(campaign_id)
    if scope is None or not scope.clauses:
        # An empty scope is never cached: a campaign is created with its clauses, so an empty
        # answer only comes from a campaign being written at this moment.
        scope = read()
        if scope.clauses:
            _SCOPES.set(campaign_id, scope)
    return scope


@dataclass
class LabelingPage:
    campaign: Campaign
    item: Item
    assignment: Assignment | None
    clauses: list[CampaignClause]
    labels: dict[int, Label]
    others: dict[int, list[Label]]
    #: Fields may change: the member's own assignment, in progress or submitted (a revision),
    #: in an open campaign.
    editable: bool
    #: The assignment is in progress: it can be submitted or skipped.
    in_progress: bool


def labeling_page(
    *, item: Item, assignment: Assignment | None, membership: Membership
) -> LabelingPage:
    """Everything the labeling page shows, in one query (see the pinned test): the labels on
    the item the member may read (their own and, where blind labeling allows, others', judges'
    marked as such); the clauses in scope come from ``campaign_scope`` (one query the first
    time a process shows the campaign)."""
    campaign = item.campaign
    clauses = list(campaign_scope(campaign.pk).clauses)
    labels: dict[int, Label] = {}
    others: dict[int, list[Label]] = defaultdict(list)
    if access.others_labels_open(membership, campaign, assignment):
        visible = (
            access.labels_on_item(membership, item, assignment)
            .select_related("reviewer", "judge_run__endpoint")
            .order_by("source", "reviewer__email", "judge_run_id")
        )
    else:
        visible = access.own_labels_on_item(membership, item)
    for label in visible:
        if label.source == LabelSource.HUMAN and label.reviewer_id == membership.user_id:
            labels[label.clause_id] = label
        else:
            others[label.clause_id].append(label)
    open_campaign = campaign.status == Campaign.Status.OPEN
    status = assignment.status if assignment is not None else None
    return LabelingPage(
        campaign=campaign,
        item=item,
        assignment=assignment,
        clauses=clauses,
        labels=labels,
        others=dict(others),
        editable=open_campaign
        and status in {Assignment.Status.ACTIVE, Assignment.Status.SUBMITTED},
        in_progress=open_campaign and status == Assignment.Status.ACTIVE,
    )


def labeling_page_of(membership: Membership, *, item_id: int, campaign_id: int) -> LabelingPage:
    """The labeling page of an item resolved through ``reviews.access`` (404 outside the
    workspace or campaign, 403 without the right): what the one-request label-and-next path
    answers with for the item it just handed out."""
    item, assignment = access.item_to_read(membership, item_id, campaign_id=campaign_id)
    return labeling_page(item=item, assignment=assignment, membership=membership)


def blank_clause_keys(assignment: Assignment) -> list[str]:
    """The keys of the clauses in scope on which the assignment has no verdict yet, in scope
    order (one query)."""
    given = set(
        Label.objects.filter(assignment=assignment)
        .exclude(verdict="")
        .values_list("clause_id", flat=True)
    )
    scope = campaign_scope(assignment.campaign_id)
    return scope.keys_in_order(set(scope.by_id) - given)


def visible_labels(membership: Membership) -> QuerySet[Label]:
    """The labels the member may read through the API, with what their output shows."""
    return access.labels_visible(membership).select_related(
        "reviewer", "clause", "item", "judge_run__endpoint"
    )


def label_history(label: Label) -> QuerySet[LabelRevision]:
    """Every change to ``label``, oldest first, with who made it."""
    return (
        LabelRevision.objects.filter(label=label).select_related("changed_by").order_by("revision")
    )


def campaign_verdicts_query(campaign: Campaign) -> QuerySet[Label, tuple[int, int, int, str]]:
    """The query behind :func:`campaign_verdicts` (its plan is pinned by a test)."""
    return (
        Label.objects.counted()
        .filter(campaign=campaign)
        .order_by("clause_id", "item_id")
        .values_list("item_id", "clause_id", "reviewer_id", "verdict")
    )


def campaign_verdicts(campaign: Campaign) -> Iterator[tuple[int, int, int, str]]:
    """Every counted verdict of ``campaign`` as ``(item_id, clause_id, reviewer_id, verdict)``,
    clause by clause, item by item: what agreement reports aggregate.

    One range of the covering index ``label_campaign_counted`` (campaign, clause, item, with
    reviewer and verdict included, over submitted human labels only): no join through items,
    and a campaign of millions of labels streams from a server-side cursor.
    """
    yield from campaign_verdicts_query(campaign).iterator(chunk_size=5000)


def examples_by_clause(clause_ids: list[int]) -> dict[int, list[Example]]:
    """The examples of the given clauses, in order, grouped by clause id (one query)."""
    grouped: dict[int, list[Example]] = {}
    for example in Example.objects.filter(clause_id__in=clause_ids).order_by("position"):
        grouped.setdefault(example.clause_id, []).append(example)
    return grouped
