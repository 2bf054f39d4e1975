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
  every item of a campaign; ``outcomes_refresh_locked`` for an item the caller has already
  locked (a submit, which updates the item's row first). Whatever the number of clauses, a
  refresh reads in one statement, writes the outcome rows in one and the items' states in one,
  and agreement's gold in at most three. The label services
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

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from clausebook import audit
from clausebook.models import AuditEvent, User
from reviews.models import (
    AgreementRule,
    Campaign,
    DecisionKind,
    GoldDecision,
    Item,
    Label,
    LabelSource,
    OutcomeState,
)
from reviews.selectors.labels import campaign_scope

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


@dataclass(frozen=True)
class _Current:
    """A pair's current gold decision, as far as agreement needs it."""

    id: int
    kind: str
    verdict: str
    severity: str
    rule: str
    agreeing: tuple[int, ...]


@dataclass(frozen=True)
class _GoldAppend:
    """A decision agreement calls for on a pair, superseding the pair's current one (if any)."""

    previous: _Current | None
    fields: dict[str, object]
    agreeing: tuple[int, ...] = ()


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


def outcomes_refresh_locked(
    *,
    item: Item,
    campaign: Campaign,
    clauses: Iterable[int] | None = None,
    actor: User | None = None,
) -> str:
    """``outcomes_refresh`` for an item whose row the caller has already locked (or updated) in
    its transaction, with ``item.state`` as read under that lock: the label services' hot path,
    with no lock and no savepoint of its own. Return the item's state (also set on ``item``)."""
    _refresh(campaign, [item], None if clauses is None else set(clauses), actor)
    return item.state


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


# What deciding the pairs of some items needs, in one statement (the hot path runs it on every
# submit): the counted verdicts (``Label.objects.counted()``: a human's, submitted; the source and
# status come in as parameters from there), the outcome rows, and the current gold decisions with
# their agreeing reviewers. Each part is one index range on ``item_id``; the votes name their
# campaign too, so that the counted-labels index (campaign, clause, item) is an exact range as
# well: a planner without fresh statistics picked it and read every counted label of the table.
_PAIRS_SQL = """
    SELECT
      (SELECT coalesce(json_agg(json_build_array(
                  l.item_id, l.clause_id, l.reviewer_id, l.verdict, l.severity)), '[]'::json)
         FROM reviews_label l
        WHERE l.campaign_id = %(campaign)s AND l.item_id = ANY(%(items)s)
          AND l.clause_id = ANY(%(clauses)s) AND l.source = %(source)s AND l.status = %(status)s),
      (SELECT coalesce(json_agg(json_build_array(
                  o.item_id, o.clause_id, o.state, o.verdict_count, o.top_verdict)), '[]'::json)
         FROM reviews_outcome o
        WHERE o.item_id = ANY(%(items)s)),
      (SELECT coalesce(json_agg(json_build_array(
                  g.item_id, g.clause_id, g.id, g.kind, g.verdict, g.severity, g.rule,
                  ARRAY(SELECT r.user_id FROM reviews_golddecision_agreeing_reviewers r
                         WHERE r.golddecision_id = g.id ORDER BY r.user_id))), '[]'::json)
         FROM reviews_golddecision g
        WHERE g.item_id = ANY(%(items)s) AND g.clause_id = ANY(%(clauses)s) AND g.is_current)
"""

# New and changed outcome rows in one statement; ``changed_at`` moves only with the state.
_OUTCOMES_UPSERT_SQL = """
    INSERT INTO reviews_outcome
        (campaign_id, item_id, clause_id, state, verdict_count, top_verdict, changed_at)
    SELECT %s, u.item_id, u.clause_id, u.state, u.verdict_count, u.top_verdict, %s
    FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::int[], %s::text[])
        AS u(item_id, clause_id, state, verdict_count, top_verdict)
    ON CONFLICT (item_id, clause_id) DO UPDATE SET
        state = EXCLUDED.state,
        verdict_count = EXCLUDED.verdict_count,
        top_verdict = EXCLUDED.top_verdict,
        changed_at = CASE WHEN reviews_outcome.state = EXCLUDED.state
                          THEN reviews_outcome.changed_at ELSE EXCLUDED.changed_at END
"""

_ITEM_STATES_SQL = """
    UPDATE reviews_item AS i SET state = u.state
    FROM unnest(%s::bigint[], %s::text[]) AS u(id, state)
    WHERE i.id = u.id
"""


def _read_pairs(
    campaign_id: int, item_ids: list[int], targets: list[int]
) -> tuple[
    dict[tuple[int, int], list[_Vote]],
    dict[tuple[int, int], tuple[str, int, str]],
    dict[tuple[int, int], _Current],
]:
    """The votes, outcome rows and current gold of the pairs of ``item_ids`` (outcome rows for
    every clause; votes and gold for ``targets``), each by (item, clause)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _PAIRS_SQL,
            {
                "campaign": campaign_id,
                "items": item_ids,
                "clauses": targets,
                "source": LabelSource.HUMAN,
                "status": Label.Status.SUBMITTED,
            },
        )
        vote_rows, outcome_rows, gold_rows = (
            json.loads(part) if isinstance(part, str) else part for part in cursor.fetchone()
        )
    votes: dict[tuple[int, int], list[_Vote]] = defaultdict(list)
    for item_id, clause_id, reviewer_id, verdict, severity in vote_rows:
        votes[(item_id, clause_id)].append(_Vote(reviewer_id, verdict, severity))
    outcomes = {
        (item_id, clause_id): (state, count, top)
        for item_id, clause_id, state, count, top in outcome_rows
    }
    current = {
        (item_id, clause_id): _Current(pk, kind, verdict, severity, rule, tuple(agreeing or ()))
        for item_id, clause_id, pk, kind, verdict, severity, rule, agreeing in gold_rows
    }
    return votes, outcomes, current


def _refresh(
    campaign: Campaign, items: list[Item], only: set[int] | None, actor: User | None
) -> None:
    """Recompute the pairs of ``items`` (locked by the caller, their state read under the lock)
    and write what changed: the outcome rows in one statement, the items' states in one, gold
    appends in at most three, their audit events in one."""
    rule = Rule.of(campaign)
    scope = campaign_scope(campaign.pk).ids
    targets = [clause_id for clause_id in scope if only is None or clause_id in only]
    item_ids = [item.pk for item in items]
    votes, outcomes, current = _read_pairs(campaign.pk, item_ids, targets)
    severity_scale = [entry["value"] for entry in campaign.severity_scale]
    rows: list[tuple[int, int, str, int, str]] = []
    appends: list[_GoldAppend] = []
    for item in items:
        for clause_id in targets:
            pair = (item.pk, clause_id)
            pair_votes = votes.get(pair, [])
            decision = decide([vote.verdict for vote in pair_votes], rule)
            gold = current.get(pair)
            state = settle(decision, gold.kind if gold else None, rule)
            append = _gold_in_step(
                campaign, item, clause_id, rule, decision, state, pair_votes, gold, severity_scale
            )
            if append is not None:
                appends.append(append)
            values = (state, decision.verdict_count, decision.top_verdict)
            stored = outcomes.get(pair)
            if stored is None and values == (OutcomeState.OPEN, 0, ""):
                continue  # no row is the same as an open pair with no verdicts
            if stored != values:
                outcomes[pair] = values
                rows.append((item.pk, clause_id, *values))
    if rows:
        with connection.cursor() as cursor:
            cursor.execute(
                _OUTCOMES_UPSERT_SQL,
                [
                    campaign.pk,
                    timezone.now(),
                    *(list(column) for column in zip(*rows, strict=True)),
                ],
            )
    changed_items = []
    for item in items:
        state = item_state(
            outcomes[(item.pk, clause_id)][0]
            if (item.pk, clause_id) in outcomes
            else OutcomeState.OPEN
            for clause_id in scope
        )
        if state != item.state:
            item.state = state
            changed_items.append(item)
    if changed_items:
        with connection.cursor() as cursor:
            cursor.execute(
                _ITEM_STATES_SQL,
                [[item.pk for item in changed_items], [item.state for item in changed_items]],
            )
    if appends:
        audit.record_many(
            [_gold_event(campaign, decision, actor) for decision in _append_gold(appends)]
        )


# The agreeing reviewers of new decisions, in one statement (the many-to-many's own table).
_AGREEING_SQL = """
    INSERT INTO reviews_golddecision_agreeing_reviewers (golddecision_id, user_id)
    SELECT * FROM unnest(%s::bigint[], %s::bigint[])
"""


def _append_gold(appends: list[_GoldAppend]) -> list[GoldDecision]:
    """Add the planned decisions, each superseding its pair's current one: what
    ``GoldDecision.objects.append`` does for one pair, for many in three statements. The old rows
    are flipped first, so the one-current-per-pair index never sees two; the caller holds the
    items' row locks, which serialise decisions on their pairs."""
    previous = [append.previous.id for append in appends if append.previous is not None]
    if previous:
        flipped = GoldDecision.objects.filter(pk__in=previous, is_current=True).update(
            is_current=False
        )
        if flipped != len(previous):
            raise RuntimeError(f"decisions {previous} are no longer all current")
    decisions = GoldDecision.objects.bulk_create(
        GoldDecision(
            supersedes_id=append.previous.id if append.previous is not None else None,
            is_current=True,
            **append.fields,
        )
        for append in appends
    )
    pairs = [
        (decision.pk, user_id)
        for decision, append in zip(decisions, appends, strict=True)
        for user_id in append.agreeing
    ]
    if pairs:
        with connection.cursor() as cursor:
            cursor.execute(_AGREEING_SQL, [list(column) for column in zip(*pairs, strict=True)])
    return decisions


def _gold_in_step(
    campaign: Campaign,
    item: Item,
    clause_id: int,
    rule: Rule,
    decision: Decision,
    state: str,
    votes: list[_Vote],
    gold: _Current | None,
    severity_scale: list[str],
) -> _GoldAppend | None:
    """The ``agreed`` or ``withdrawn`` decision the pair's new state calls for, if any."""
    kind = gold.kind if gold is not None else None
    if kind in {DecisionKind.ADJUDICATED, DecisionKind.REOPENED}:
        return None  # a person decided; agreement does not overrule them
    if state != OutcomeState.AGREED:
        if kind == DecisionKind.AGREED:
            return _GoldAppend(
                gold,
                {
                    **decision_fields(campaign, item, clause_id),
                    "kind": DecisionKind.WITHDRAWN,
                    "rule": rule.describe(),
                    "rationale": f"Agreement no longer holds: the pair is {state}.",
                },
            )
        return None
    if not campaign.gold_from_agreement:
        return None
    agreeing = tuple(
        sorted(vote.reviewer_id for vote in votes if vote.verdict == decision.top_verdict)
    )
    severity = agreed_severity(
        (vote.severity for vote in votes if vote.verdict == decision.top_verdict), severity_scale
    )
    if kind == DecisionKind.AGREED and gold is not None:
        same = (gold.verdict, gold.severity, gold.rule, gold.agreeing) == (
            decision.top_verdict,
            severity,
            rule.describe(),
            agreeing,
        )
        if same:
            return None
    return _GoldAppend(
        gold,
        {
            **decision_fields(campaign, item, clause_id),
            "kind": DecisionKind.AGREED,
            "verdict": decision.top_verdict,
            "severity": severity,
            "rule": rule.describe(),
        },
        agreeing,
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
