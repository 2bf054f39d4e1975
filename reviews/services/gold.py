"""Writes for gold: an adjudicator's decision on an (item, clause), and reopening one.

Contracts
---------
* Decisions are history (``GoldDecision``, append-only in the database): deciding again or
  reopening adds a row that supersedes the current one; earlier rows stay, with who and when.
  Gold promoted into a spec example (``GoldPromotion``) keeps pointing at its decision, which is
  superseded, never deleted.
* Optimistic locking: the caller names the decision it saw as current (``current_decision_id``,
  None when it saw none). If another decision became current meanwhile, ``DecisionConflict``
  carries the current one and nothing is written (the API answers 409 with it).
* Only members with the ``gold.adjudicate`` right (``clausebook.permissions``) decide, in the
  campaign's workspace; unless the campaign allows it (``adjudicator_may_have_labeled``), not on
  an item they labeled (any label of theirs on it, draft or submitted, on any clause). Reopening
  is not settling: whoever may adjudicate may reopen.
* Every decision and every reopening writes an audit event (``gold.adjudicated``,
  ``gold.reopened``) in the same transaction, with what it superseded.
* After each decision the pair's outcome and the item's state are re-evaluated
  (``reviews.outcomes``): adjudicated while the decision stands, disputed once reopened.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from clausebook import audit, permissions
from clausebook.models import Membership, User, Workspace
from reviews.models import DecisionKind, GoldDecision, Item, Label, LabelSource
from reviews.outcomes import decision_fields, outcomes_refresh
from reviews.services.labels.core import MAX_RATIONALE, resolve_clauses, scale_values
from specs.models import Clause


class DecisionConflict(Exception):
    """The caller's idea of the pair's current decision is stale; ``current`` is the one now."""

    def __init__(self, current: GoldDecision | None) -> None:
        super().__init__("The decision on this clause changed since you loaded it.")
        self.current = current


#: Why an adjudicator who labeled an item may not settle it (pages show it before they try).
LABELED_REFUSAL = (
    "You labeled this item, and this campaign does not let its reviewers settle their own items: "
    "another adjudicator must decide it."
)


def labeled_by(item: Item, user_id: int) -> bool:
    """Whether the user may not settle ``item`` because they labeled it (the campaign's
    ``adjudicator_may_have_labeled`` off, and a label of theirs on the item). One query at most."""
    if item.campaign.adjudicator_may_have_labeled:
        return False
    return Label.objects.filter(item=item, reviewer_id=user_id, source=LabelSource.HUMAN).exists()


def _lock_pair(
    item: Item, clause: Clause, actor: User, current_decision_id: int | None
) -> tuple[Item, GoldDecision | None]:
    """Lock the item (it serialises every decision on its pairs, see ``reviews.outcomes``), check
    the actor may decide there, and return the pair's current decision after the stale check."""
    locked = (
        Item.objects.select_for_update(of=("self",))
        .select_related("campaign__workspace")
        .get(pk=item.pk)
    )
    campaign = locked.campaign
    membership = Membership.objects.filter(workspace_id=campaign.workspace_id, user=actor).first()
    if membership is None:
        raise PermissionDenied("Deciding gold needs the adjudicator role or higher.")
    permissions.require(membership, "gold.adjudicate")
    resolve_clauses(campaign, [clause.pk])  # raises unless the clause is in scope
    current = GoldDecision.objects.current().filter(item=locked, clause=clause).first()
    if (current.pk if current else None) != current_decision_id:
        raise DecisionConflict(current)
    return locked, current


@transaction.atomic
def decision_record(
    *,
    item: Item,
    clause: Clause,
    actor: User,
    verdict: str,
    severity: str = "",
    rationale: str,
    current_decision_id: int | None,
) -> GoldDecision:
    """Adjudicate one (item, clause): a new current decision of kind ``adjudicated``."""
    locked, current = _lock_pair(item, clause, actor, current_decision_id)
    campaign = locked.campaign
    if labeled_by(locked, actor.pk):
        raise PermissionDenied(LABELED_REFUSAL)
    if verdict not in scale_values(campaign.verdict_scale):
        raise ValidationError({"verdict": f"{verdict!r} is not on this campaign's scale."})
    if severity and severity not in scale_values(campaign.severity_scale):
        raise ValidationError({"severity": f"{severity!r} is not a severity here."})
    rationale = rationale.strip()
    if not rationale:
        raise ValidationError({"rationale": "Say why: gold needs a rationale."})
    if len(rationale) > MAX_RATIONALE:
        raise ValidationError({"rationale": f"At most {MAX_RATIONALE} characters."})
    decision = GoldDecision.objects.append(
        previous=current,
        **decision_fields(campaign, locked, clause.pk),
        kind=DecisionKind.ADJUDICATED,
        verdict=verdict,
        severity=severity,
        rationale=rationale,
        decided_by=actor,
    )
    outcomes_refresh(item=locked, clauses=[clause.pk], actor=actor)
    _audit(decision, actor, campaign.workspace)
    item.state = locked.state
    return decision


@transaction.atomic
def decision_reopen(
    *,
    item: Item,
    clause: Clause,
    actor: User,
    reason: str,
    current_decision_id: int,
) -> GoldDecision:
    """Reopen the pair's current decision (adjudicated or agreed): a new current decision of
    kind ``reopened``, with the reason as its rationale. The pair goes back to adjudication."""
    locked, current = _lock_pair(item, clause, actor, current_decision_id)
    if current is None or current.kind not in {DecisionKind.ADJUDICATED, DecisionKind.AGREED}:
        raise ValidationError("There is no decision to reopen on this clause.")
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the decision is reopened."})
    decision = GoldDecision.objects.append(
        previous=current,
        **decision_fields(locked.campaign, locked, clause.pk),
        kind=DecisionKind.REOPENED,
        rationale=reason[:MAX_RATIONALE],
        decided_by=actor,
    )
    outcomes_refresh(item=locked, clauses=[clause.pk], actor=actor)
    _audit(decision, actor, locked.campaign.workspace)
    item.state = locked.state
    return decision


def _audit(decision: GoldDecision, actor: User, workspace: Workspace) -> None:
    audit.record(
        verb=f"gold.{decision.kind}",
        actor=actor,
        workspace=workspace,
        target=decision,
        summary=f"item {decision.item_id} clause {decision.clause_id}: "
        f"{decision.verdict or decision.kind}",
        data={
            "item": decision.item_id,
            "clause": decision.clause_id,
            "verdict": decision.verdict,
            "severity": decision.severity,
            "supersedes": decision.supersedes_id,
            "promoted": decision.supersedes is not None and decision.supersedes.promotions.exists(),
        },
    )
