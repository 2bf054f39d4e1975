"""Where each (item, clause) stands, and so each item: the agreement rule, in one place.

Two halves:

* The rule, pure (no database; tested without one). ``decide`` turns the verdicts given on one
  (item, clause) into ``open``, ``agreed`` or ``disputed`` under the campaign's rule; ``settle``
  lets the pair's current gold decision have the last word; ``item_state`` derives an item's
  state from its clauses'.
* The database side. ``outcomes_refresh`` recomputes the ``Outcome`` rows of one item from its
  counted labels (``Label.objects.counted()``: a human's, submitted; a judge's never count),
  keeps the gold decisions that agreement makes in step, and writes the item's state.
  ``outcomes_refresh_items`` and ``outcomes_refresh_campaign`` do the same for many items, or
  every item of a campaign. The label services
  call them in the transaction of every change to a counted label (submit, revision after
  submission, import), the gold services after a decision, and the campaign services when a
  reviewer is removed. Nothing else writes ``Outcome`` rows or ``Item.state``.

The rule
--------
* A pair with fewer verdicts than the campaign's k stays ``open``. "Not applicable" is a verdict
  like any other. (With ``require_every_clause`` off, a clause its reviewers left blank can stay
  open for good: "not applicable" is the way to say a clause does not apply.)
* ``unanimous``: every verdict the same is ``agreed``, anything else ``disputed``.
* ``share``: the most frequent verdict's share of the verdicts given must reach
  ``agreement_min_share``. A tie for the most frequent verdict is never agreement (there is no
  one verdict to agree on), so it is ``disputed``.
* A current ``adjudicated`` decision keeps the pair ``adjudicated`` whatever the labels say. A
  current ``reopened`` decision (a person sent the pair back) keeps it ``disputed`` (``open``
  while it has fewer than k verdicts) until someone adjudicates; agreement does not make gold of
  it again.
* An item is ``disputed`` if any of its clauses is (an adjudicator has work on it), else
  ``open`` if any clause is open, else ``adjudicated`` if any clause was adjudicated, else
  ``agreed``. A campaign's clause with no ``Outcome`` row yet is open.

Gold from agreement
-------------------
With ``Campaign.gold_from_agreement``, a pair that becomes ``agreed`` gets a ``GoldDecision`` of
kind ``agreed``: the top verdict, the most frequent severity among the agreeing reviewers (a tie
goes to the one later on the campaign's severity scale, the more severe), the agreeing reviewers
and the rule. When the labels change so that the pair agrees on something else (another verdict,
severity or set of reviewers), a new ``agreed`` row supersedes it; when the pair no longer agrees,
a ``withdrawn`` row does. Rows are only ever added (see migration 0002).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from clausebook import audit
from clausebook.models import AuditEvent, User
from reviews.models import (
    AgreementRule,
    Campaign,
    CampaignClause,
    DecisionKind,
    GoldDecision,
    Item,
    Label,
    Outcome,
    OutcomeState,
)

# --------------------------------------------------------------------------------------------------
# The rule (pure)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """A campaign's agreement rule: ``kind`` (an ``AgreementRule``), k and the minimum share."""

    kind: str
    k: int
    min_share: Decimal = Decimal(1)

    @classmethod
    def of(cls, campaign: Campaign) -> Rule:
        return cls(
            kind=campaign.agreement_rule,
            k=campaign.reviewers_per_item,
            min_share=Decimal(campaign.agreement_min_share),
        )

    def describe(self) -> str:
        """How gold records the rule that made it (``GoldDecision.rule``)."""
        if self.kind == AgreementRule.SHARE:
            return f"share >= {self.min_share.normalize()} of at least {self.k} verdicts"
        return f"unanimous, at least {self.k} verdicts"


@dataclass(frozen=True)
class Decision:
    """What the verdicts on one pair say: the state, how many verdicts, and the most frequent
    verdict (empty when none, or when two verdicts tie for most frequent)."""

    state: str
    verdict_count: int
    top_verdict: str


def decide(verdicts: Sequence[str], rule: Rule) -> Decision:
    """The state of one (item, clause) given the verdicts on it (see the module's rule)."""
    counts = Counter(verdict for verdict in verdicts if verdict)
    given = sum(counts.values())
    if not given:
        return Decision(OutcomeState.OPEN, 0, "")
    ranked = counts.most_common(2)
    top, top_count = ranked[0]
    tied = len(ranked) == 2 and ranked[1][1] == top_count
    top_verdict = "" if tied else top
    if given < rule.k:
        return Decision(OutcomeState.OPEN, given, top_verdict)
    if rule.kind == AgreementRule.SHARE:
        # Compared as top / given >= share, multiplied out so no rounding enters.
        agreed = not tied and Decimal(top_count) >= rule.min_share * given
    else:
        agreed = len(counts) == 1
    return Decision(OutcomeState.AGREED if agreed else OutcomeState.DISPUTED, given, top_verdict)


def settle(decision: Decision, current_kind: str | None, rule: Rule) -> str:
    """The pair's state, once its current gold decision (its kind, or None) has its say."""
    if current_kind == DecisionKind.ADJUDICATED:
        return OutcomeState.ADJUDICATED
    if current_kind == DecisionKind.REOPENED:
        return OutcomeState.DISPUTED if decision.verdict_count >= rule.k else OutcomeState.OPEN
    return decision.state


def item_state(states: Iterable[str]) -> str:
    """An item's state from its clauses' states, one per clause in scope (see the module)."""
    present = set(states)
    for state in (OutcomeState.DISPUTED, OutcomeState.OPEN, OutcomeState.ADJUDICATED):
        if state in present:
            return state
    return OutcomeState.AGREED if present else OutcomeState.OPEN


def agreed_severity(severities: Iterable[str], scale: Sequence[str]) -> str:
    """The most frequent severity given; a tie goes to the one later on ``scale``."""
    counts = Counter(severity for severity in severities if severity)
    if not counts:
        return ""
    rank = {value: position for position, value in enumerate(scale)}
    return max(counts, key=lambda severity: (counts[severity], rank.get(severity, -1)))


# --------------------------------------------------------------------------------------------------
# The database side
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Vote:
    reviewer_id: int
    verdict: str
    severity: str


def outcomes_refresh(
    *, item: Item, clauses: Iterable[int] | None = None, actor: User | None = None
) -> str:
    """Recompute the outcomes of ``item`` (every clause in scope, or only ``clauses``, by id),
    the gold decisions agreement makes, and the item's state; return the state (also set on
    ``item``). ``actor`` is who caused it, for the audit trail. Atomic; call it inside the
    transaction of the change that made it necessary, so both commit together."""
    with transaction.atomic():
        # The item's row lock serialises everything that decides its pairs: two reviewers
        # submitting at once, a revision racing an adjudication.
        locked = (
            Item.objects.select_for_update(of=("self",)).select_related("campaign").get(pk=item.pk)
        )
        _refresh(locked.campaign, [locked], None if clauses is None else set(clauses), actor)
    item.state = locked.state
    return locked.state


#: Items recomputed (and locked) at a time by the many-item refreshes.
BATCH = 500


def outcomes_refresh_items(
    *, campaign: Campaign, item_ids: Iterable[int], actor: User | None = None
) -> None:
    """``outcomes_refresh`` for many items of ``campaign`` at once (an import), in one
    transaction. Items are locked in id order, so two such refreshes never deadlock."""
    ids = sorted(set(item_ids))
    with transaction.atomic():
        for start in range(0, len(ids), BATCH):
            items = list(
                Item.objects.select_for_update()
                .filter(campaign=campaign, pk__in=ids[start : start + BATCH])
                .order_by("pk")
            )
            _refresh(campaign, items, None, actor)


def outcomes_refresh_campaign(*, campaign: Campaign, actor: User | None = None) -> int:
    """Recompute every item of ``campaign`` (after a reviewer is removed, say); return how many
    items changed state. Runs in batches of items, each locked and committed on its own (call it
    outside a transaction for that), so a large campaign never holds all its items locked at
    once; each batch reads just its items' labels, through the (item, clause, reviewer) index.
    Idempotent: a run that stops part way is finished by running it again."""
    changed = 0
    last_id = 0
    while True:
        with transaction.atomic():
            items = list(
                Item.objects.select_for_update()
                .filter(campaign=campaign, pk__gt=last_id)
                .order_by("pk")[:BATCH]
            )
            if not items:
                return changed
            before = {item.pk: item.state for item in items}
            _refresh(campaign, items, None, actor)
            changed += sum(1 for item in items if item.state != before[item.pk])
        last_id = items[-1].pk


def _refresh(
    campaign: Campaign, items: list[Item], only: set[int] | None, actor: User | None
) -> None:
    """Recompute the pairs of ``items`` (locked by the caller) and write what changed."""
    rule = Rule.of(campaign)
    scope = list(
        CampaignClause.objects.filter(campaign=campaign)
        .order_by("position")
        .values_list("clause_id", flat=True)
    )
    targets = [clause_id for clause_id in scope if only is None or clause_id in only]
    item_ids = [item.pk for item in items]
    votes: dict[tuple[int, int], list[_Vote]] = defaultdict(list)
    for item_id, clause_id, reviewer_id, verdict, severity in (
        Label.objects.counted()
        .filter(item_id__in=item_ids, clause_id__in=targets)
        .order_by()
        .values_list("item_id", "clause_id", "reviewer_id", "verdict", "severity")
    ):
        votes[(item_id, clause_id)].append(_Vote(reviewer_id, verdict, severity))
    outcomes = {
        (outcome.item_id, outcome.clause_id): outcome
        for outcome in Outcome.objects.filter(item_id__in=item_ids)
    }
    current = {
        (decision.item_id, decision.clause_id): decision
        for decision in GoldDecision.objects.current()
        .filter(item_id__in=item_ids, clause_id__in=targets)
        .prefetch_related("agreeing_reviewers")
    }
    severity_scale = [entry["value"] for entry in campaign.severity_scale]
    now = timezone.now()
    new_outcomes: list[Outcome] = []
    changed_outcomes: list[Outcome] = []
    events: list[AuditEvent] = []
    for item in items:
        for clause_id in targets:
            pair = (item.pk, clause_id)
            pair_votes = votes.get(pair, [])
            decision = decide([vote.verdict for vote in pair_votes], rule)
            gold = current.get(pair)
            state = settle(decision, gold.kind if gold else None, rule)
            appended = _keep_gold_in_step(
                campaign, item, clause_id, rule, decision, state, pair_votes, gold, severity_scale
            )
            if appended is not None:
                events.append(_gold_event(campaign, appended, actor))
            outcome = outcomes.get(pair)
            values = (state, decision.verdict_count, decision.top_verdict)
            if outcome is None:
                if values == (OutcomeState.OPEN, 0, ""):
                    continue  # no row is the same as an open pair with no verdicts
                outcome = Outcome(
                    campaign=campaign,
                    item_id=item.pk,
                    clause_id=clause_id,
                    state=state,
                    verdict_count=decision.verdict_count,
                    top_verdict=decision.top_verdict,
                    changed_at=now,
                )
                outcomes[pair] = outcome
                new_outcomes.append(outcome)
            elif (outcome.state, outcome.verdict_count, outcome.top_verdict) != values:
                if outcome.state != state:
                    outcome.changed_at = now
                outcome.state, outcome.verdict_count, outcome.top_verdict = values
                changed_outcomes.append(outcome)
    Outcome.objects.bulk_create(new_outcomes)
    Outcome.objects.bulk_update(
        changed_outcomes, ["state", "verdict_count", "top_verdict", "changed_at"]
    )
    changed_items = []
    for item in items:
        state = item_state(
            outcomes[(item.pk, clause_id)].state
            if (item.pk, clause_id) in outcomes
            else OutcomeState.OPEN
            for clause_id in scope
        )
        if state != item.state:
            item.state = state
            changed_items.append(item)
    Item.objects.bulk_update(changed_items, ["state"])
    if events:
        audit.record_many(events)


def _keep_gold_in_step(
    campaign: Campaign,
    item: Item,
    clause_id: int,
    rule: Rule,
    decision: Decision,
    state: str,
    votes: list[_Vote],
    gold: GoldDecision | None,
    severity_scale: list[str],
) -> GoldDecision | None:
    """Append the ``agreed`` or ``withdrawn`` decision the pair's new state calls for, if any."""
    kind = gold.kind if gold is not None else None
    if kind in {DecisionKind.ADJUDICATED, DecisionKind.REOPENED}:
        return None  # a person decided; agreement does not overrule them
    if state != OutcomeState.AGREED:
        if kind == DecisionKind.AGREED:
            return GoldDecision.objects.append(
                previous=gold,
                **decision_fields(campaign, item, clause_id),
                kind=DecisionKind.WITHDRAWN,
                rule=rule.describe(),
                rationale=f"Agreement no longer holds: the pair is {state}.",
            )
        return None
    if not campaign.gold_from_agreement:
        return None
    agreeing = sorted(vote.reviewer_id for vote in votes if vote.verdict == decision.top_verdict)
    severity = agreed_severity(
        (vote.severity for vote in votes if vote.verdict == decision.top_verdict), severity_scale
    )
    if kind == DecisionKind.AGREED and gold is not None:
        same = (gold.verdict, gold.severity, gold.rule) == (
            decision.top_verdict,
            severity,
            rule.describe(),
        ) and sorted(user.pk for user in gold.agreeing_reviewers.all()) == agreeing
        if same:
            return None
    return GoldDecision.objects.append(
        previous=gold,
        agreeing_reviewer_ids=agreeing,
        **decision_fields(campaign, item, clause_id),
        kind=DecisionKind.AGREED,
        verdict=decision.top_verdict,
        severity=severity,
        rule=rule.describe(),
    )


def decision_fields(campaign: Campaign, item: Item, clause_id: int) -> dict[str, object]:
    """What every decision on a pair records, so export needs no joins back (the gold services
    use it too)."""
    return {
        "workspace_id": campaign.workspace_id,
        "campaign_id": campaign.pk,
        "item_id": item.pk,
        "clause_id": clause_id,
        "spec_version_id": campaign.spec_version_id,
        "transcript_id": item.transcript_id,
    }


def _gold_event(campaign: Campaign, decision: GoldDecision, actor: User | None) -> AuditEvent:
    return AuditEvent(
        verb=f"gold.{decision.kind}",
        actor=actor if actor is not None and actor.is_authenticated else None,
        workspace_id=campaign.workspace_id,
        target_type="reviews.golddecision",
        target_id=str(decision.pk),
        summary=f"item {decision.item_id} clause {decision.clause_id}: "
        f"{decision.verdict or decision.kind}",
        data={
            "item": decision.item_id,
            "clause": decision.clause_id,
            "verdict": decision.verdict,
            "severity": decision.severity,
            "rule": decision.rule,
            "supersedes": decision.supersedes_id,
        },
    )
