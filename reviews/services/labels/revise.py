"""Revising a submitted label during the discussion of a dispute.

Contract of ``label_revise``
----------------------------
* After the reveal (the reviewer has submitted the item, so in a blind campaign they have seen
  the others' labels), a reviewer may change their own submitted label on an (item, clause) the
  campaign's rule calls ``disputed`` and no adjudicator has settled (an adjudicated pair is
  ``adjudicated``, not disputed), while the campaign is open. Anything else is a 400 saying why.
* It is a save of that one label through ``labels_save`` (``reviews.services.labels.save``): the
  label stays submitted and keeps a verdict, its history gains a row of kind ``revise`` (so
  agreement on first submissions and on final labels can be told apart), an audit event is
  written, and the pair's outcome is re-evaluated under the campaign's rule
  (``reviews.outcomes``): a revision that ends the dispute makes the pair ``agreed`` (and gold
  from agreement, where the campaign makes it).
* The revision named must be the label's: a stale one raises ``LabelConflict`` with the label
  as it is now, and writes nothing but a ``label.conflict`` audit event.
* Locks: the reviewer's assignment, then the item, the order every label write takes, so a
  revision racing an adjudication of the same pair waits for it and then sees it settled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from clausebook import audit
from clausebook.models import User
from reviews.models import Assignment, Item, Label, LabelSource, Outcome, OutcomeState
from reviews.services.labels.core import LabelConflict, LabelInput, lock_assignment, require_open
from reviews.services.labels.save import labels_save


@dataclass
class LabelRevised:
    """The revised label and where its pair and item stand after it."""

    label: Label
    outcome_state: str
    item_state: str


def revise_refusal(label: Label, outcome_state: str | None) -> str:
    """Why ``label`` may not be revised now, or "" when it may (the page hides its form then)."""
    if label.source != LabelSource.HUMAN or label.status != Label.Status.SUBMITTED:
        return "Only a submitted label can be revised; finish and submit the item first."
    if outcome_state == OutcomeState.ADJUDICATED:
        return "An adjudicator has settled this pair: its labels are final."
    if outcome_state != OutcomeState.DISPUTED:
        return "Labels are revised only while their pair is disputed."
    return ""


def label_revise(
    *,
    label: Label,
    reviewer: User,
    revision: int,
    verdict: str | None = None,
    severity: str | None = None,
    rationale: str | None = None,
    spans: list[dict[str, Any]] | None = None,
) -> LabelRevised:
    """Revise the reviewer's submitted ``label`` (see the module contract); fields left None
    keep their value. Raises PermissionDenied (not theirs), ValidationError (not revisable now,
    bad input) and LabelConflict (stale ``revision``)."""
    if label.source != LabelSource.HUMAN or label.reviewer_id != reviewer.pk:
        raise PermissionDenied("You can revise only your own labels.")
    data = LabelInput(
        clause=label.clause_id,
        verdict=verdict,
        severity=severity,
        rationale=rationale,
        spans=spans,
        revision=revision,
    )
    if not data.given():
        raise ValidationError({"verdict": "Send the verdict, severity or rationale to change."})
    try:
        with transaction.atomic():
            assignment = Assignment.objects.get(pk=label.assignment_id)
            locked = lock_assignment(assignment=assignment, reviewer=reviewer)
            require_open(locked.item.campaign)
            # The item's row lock is what adjudication and every outcome refresh take: holding it
            # here, the state read below stays true until this transaction commits.
            Item.objects.select_for_update(of=("self",)).filter(pk=label.item_id).first()
            current = Label.objects.get(pk=label.pk)
            state = (
                Outcome.objects.filter(item_id=label.item_id, clause_id=label.clause_id)
                .values_list("state", flat=True)
                .first()
            )
            if locked.status != Assignment.Status.SUBMITTED:
                raise ValidationError("Submit the item before revising its labels.")
            refusal = revise_refusal(current, state)
            if refusal:
                raise ValidationError(refusal)
            saved = labels_save(assignment=locked, reviewer=reviewer, labels=[data])
    except LabelConflict as conflict:
        # The save's own trace of the attempt rolled back with the transaction above.
        with transaction.atomic():
            audit.record(
                verb="label.conflict",
                actor=reviewer,
                workspace=label.campaign.workspace,
                target=label,
                summary=f"revise on stale revision {revision}",
                data={"attempted": data.given(), "revision": revision},
            )
        raise conflict from None
    revised = saved.labels[0]
    outcome_state = (
        Outcome.objects.filter(item_id=label.item_id, clause_id=label.clause_id)
        .values_list("state", flat=True)
        .first()
    ) or OutcomeState.OPEN
    return LabelRevised(label=revised, outcome_state=outcome_state, item_state=saved.item_state)
