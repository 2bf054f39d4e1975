"""Composed reads for adjudication: the pairs that need a decision, and one item as an adjudicator
sees it (per clause, every label side by side, the clause text and examples, the current decision
and its history).

Which pairs need a decision is decided here and nowhere else (:func:`needing_adjudication`): a
pair the campaign's rule calls disputed (reopened gold included, see ``reviews.outcomes.settle``)
and, when the campaign does not make agreed pairs gold on their own
(``Campaign.gold_from_agreement`` off), an agreed pair that is not gold yet. Every function starts
from a campaign or item already resolved inside the member's workspace (``reviews.access``,
``reviews.selectors.campaigns.get_campaign``), and the item view issues a fixed number of queries
whatever the number of clauses, labels or decisions (pinned in the tests).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from clausebook import permissions
from clausebook.models import Membership
from reviews import access
from reviews.models import (
    Campaign,
    CampaignClause,
    Comment,
    GoldDecision,
    Item,
    Label,
    LabelSource,
    Outcome,
    OutcomeState,
)
from reviews.models.gold import GOLD_KINDS
from reviews.selectors.disputes import item_comments
from reviews.selectors.labels import examples_by_clause
from reviews.services.gold import labeled_by
from specs.models import Clause, Example


def _gold_now() -> Exists:
    return Exists(
        GoldDecision.objects.current().filter(
            item_id=OuterRef("item_id"), clause_id=OuterRef("clause_id"), kind__in=GOLD_KINDS
        )
    )


def needing_adjudication(campaign: Campaign) -> Q:
    """The condition on ``Outcome`` rows of ``campaign`` that need an adjudicator's decision."""
    condition = Q(state=OutcomeState.DISPUTED)
    if not campaign.gold_from_agreement:
        condition |= Q(state=OutcomeState.AGREED) & ~Q(_gold_now())
    return condition


def adjudication_queue(campaign: Campaign, *, clause_id: int | None = None) -> QuerySet[Outcome]:
    """The campaign's pairs needing a decision (optionally on one clause), in item order then
    clause order, with the item's position and transcript and the clause's key."""
    pairs = (
        Outcome.objects.filter(campaign=campaign)
        .filter(needing_adjudication(campaign))
        .select_related("item__transcript", "clause")
        .only(
            "id",
            "item_id",
            "clause_id",
            "state",
            "verdict_count",
            "top_verdict",
            "changed_at",
            "item__position",
            "item__transcript__external_id",
            "clause__key",
            "clause__title",
        )
    )
    if clause_id is not None:
        pairs = pairs.filter(clause_id=clause_id)
    return pairs.order_by("item__position", "clause__position", "id")


def queue_counts(campaign: Campaign) -> dict[int, int]:
    """Pairs needing a decision per clause id (one query), for the queue's clause filter."""
    return dict(
        Outcome.objects.filter(campaign=campaign)
        .filter(needing_adjudication(campaign))
        .order_by()
        .values("clause_id")
        .annotate(n=Count("id"))
        .values_list("clause_id", "n")
    )


def item_needs_adjudication(item: Item) -> bool:
    """Whether ``item`` still has a pair needing a decision (one query)."""
    return Outcome.objects.filter(item=item).filter(needing_adjudication(item.campaign)).exists()


def next_item_id(campaign: Campaign, *, after: Item | None = None) -> int | None:
    """The first item (by position, after ``after`` when given, wrapping to the start) that has a
    pair needing a decision, other than ``after``: where "next" goes once an item is settled."""
    pairs = Outcome.objects.filter(campaign=campaign).filter(needing_adjudication(campaign))
    if after is not None:
        pairs = pairs.exclude(item_id=after.pk)
        later = (
            pairs.filter(item__position__gt=after.position)
            .order_by("item__position")
            .values_list("item_id", flat=True)
            .first()
        )
        if later is not None:
            return later
    return pairs.order_by("item__position").values_list("item_id", flat=True).first()


@dataclass
class AdjudicationPair:
    """One clause of the item as the adjudicator sees it."""

    clause: Clause
    number: int
    state: str
    verdict_count: int
    top_verdict: str
    #: Submitted human labels, by reviewer email; then judges' (``source`` says which is which).
    labels: list[Label]
    examples: list[Example]
    #: The pair's current decision (gold, reopened or withdrawn), or None.
    current: GoldDecision | None
    #: Every decision on the pair, newest first (the current one included).
    history: list[GoldDecision]
    needs_decision: bool
    #: The pair's discussion thread, oldest first, as the thread page reads it (empty while the
    #: thread is closed to the member: see ``AdjudicationItem.thread_open``).
    comments: list[Comment]

    @property
    def gold(self) -> bool:
        return self.current is not None and self.current.kind in GOLD_KINDS


@dataclass
class AdjudicationItem:
    campaign: Campaign
    item: Item
    pairs: list[AdjudicationPair]
    #: The member labeled the item and the campaign does not let them settle it.
    labeled_by_me: bool
    #: Others' labels are hidden from the member (blind, and their own assignment unfinished).
    labels_hidden: bool
    #: The member may read the item's threads (the thread page's rule, ``thread_to_read``).
    thread_open: bool = False

    @property
    def needing(self) -> list[AdjudicationPair]:
        return [pair for pair in self.pairs if pair.needs_decision]


def adjudication_item(*, item: Item, membership: Membership) -> AdjudicationItem:
    """Everything the adjudication page of ``item`` shows, in ten queries (one fewer when the
    item has no decision yet, one fewer when it has no comment): the member's assignment and
    whether they labeled the item, the clauses in scope, the item's outcomes, the labels the
    member may read on it (``reviews.access``, the one visibility rule), the clauses' examples,
    every decision on the item with its adjudicator, then their agreeing reviewers, and every
    thread's comments with their authors, then their earlier versions. The threads are read only
    where the thread page would show them to the member."""
    campaign = item.campaign
    assignment = access.own_assignment(item, membership)
    labeled_by_me = labeled_by(item, membership.user_id)
    scope = list(
        CampaignClause.objects.filter(campaign=campaign)
        .select_related("clause__version__spec")
        .order_by("position")
    )
    outcomes = {outcome.clause_id: outcome for outcome in Outcome.objects.filter(item=item)}
    labels_hidden = not access.others_labels_open(membership, campaign, assignment)
    labels: dict[int, list[Label]] = defaultdict(list)
    visible = (
        access.labels_on_item(membership, item, assignment)
        .filter(Q(source=LabelSource.JUDGE) | Q(status=Label.Status.SUBMITTED))
        .select_related("reviewer", "judge_run__endpoint")
        .order_by("source", "reviewer__email", "judge_run_id")
    )
    for label in visible:
        labels[label.clause_id].append(label)
    examples = examples_by_clause([cc.clause_id for cc in scope])
    # The thread page's rule (``access.thread_to_read``), decided on the facts loaded above.
    thread_open = permissions.can(membership, "threads.comment") and not labels_hidden
    comments: dict[int, list[Comment]] = defaultdict(list)
    if thread_open:
        for comment in item_comments(item):
            comments[comment.clause_id].append(comment)
    history: dict[int, list[GoldDecision]] = defaultdict(list)
    for decision in (
        GoldDecision.objects.filter(item=item)
        .select_related("decided_by")
        .prefetch_related("agreeing_reviewers")
        .order_by("-decided_at", "-id")
    ):
        history[decision.clause_id].append(decision)
    pairs = []
    for number, cc in enumerate(scope, start=1):
        outcome = outcomes.get(cc.clause_id)
        decisions = history.get(cc.clause_id, [])
        current = next((d for d in decisions if d.is_current), None)
        state = outcome.state if outcome is not None else OutcomeState.OPEN
        pairs.append(
            AdjudicationPair(
                clause=cc.clause,
                number=number,
                state=state,
                verdict_count=outcome.verdict_count if outcome is not None else 0,
                top_verdict=outcome.top_verdict if outcome is not None else "",
                labels=labels.get(cc.clause_id, []),
                examples=examples.get(cc.clause_id, []),
                current=current,
                history=decisions,
                needs_decision=_needs(state, current, campaign),
                comments=comments.get(cc.clause_id, []),
            )
        )
    return AdjudicationItem(
        campaign=campaign,
        item=item,
        pairs=pairs,
        labeled_by_me=labeled_by_me,
        labels_hidden=labels_hidden,
        thread_open=thread_open,
    )


def _needs(state: str, current: GoldDecision | None, campaign: Campaign) -> bool:
    # The same rule as ``needing_adjudication``, decided in Python for one item whose outcomes
    # and decisions are loaded (a test keeps the two equal).
    if state == OutcomeState.DISPUTED:
        return True
    gold = current is not None and current.kind in GOLD_KINDS
    return state == OutcomeState.AGREED and not campaign.gold_from_agreement and not gold


def pair_state(item: Item, clause_id: int) -> tuple[str, GoldDecision | None]:
    """A pair's state and current decision as they are now (two queries): what a 409 carries."""
    outcome = Outcome.objects.filter(item=item, clause_id=clause_id).first()
    current = (
        GoldDecision.objects.current()
        .filter(item=item, clause_id=clause_id)
        .select_related("decided_by")
        .prefetch_related("agreeing_reviewers")
        .first()
    )
    return (outcome.state if outcome is not None else OutcomeState.OPEN), current
