"""Submitting an assignment: the reviewer's labels on an item become counted.

Contract
--------
* Only the assignment's reviewer submits, only while it is in progress and the campaign open.
* At least one verdict; with ``Campaign.require_every_clause`` (the default), a verdict on every
  clause in scope, else a 400 whose ``missing_clauses`` lists every key without one. A draft with a rationale or spans but no verdict blocks submission, so no
  written work disappears; drafts with nothing written are dropped.
* The labels become submitted (each with its history row, kind ``submit``), the item counts one
  more submission, and its outcomes are re-evaluated (``reviews.outcomes``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from clausebook import audit
from clausebook.models import User
from reviews.models import Assignment, CampaignClause, Item, Label, LabelRevision
from reviews.outcomes import outcomes_refresh
from reviews.services.labels.core import history_row, lock_assignment, record_history, require_open
from specs.models import Clause

#: Clause keys named in words, at most, when a submit misses verdicts (all are listed under
#: ``MISSING``).
_MISSING_SHOWN = 10
#: The field of a refused submit's error that lists every clause key still without a verdict.
MISSING = "missing_clauses"


@transaction.atomic
def assignment_submit(*, assignment: Assignment, reviewer: User) -> Assignment:
    """Submit the reviewer's labels on an item (see the module contract). Raises
    PermissionDenied (not their assignment) and ValidationError (what is missing)."""
    locked = lock_assignment(assignment=assignment, reviewer=reviewer)
    submit_locked(assignment=locked, reviewer=reviewer)
    return locked


def submit_locked(*, assignment: Assignment, reviewer: User) -> None:
    """Submit an assignment the caller has locked (``lock_assignment``) in its transaction."""
    if assignment.status != Assignment.Status.ACTIVE:
        raise ValidationError("This item was already submitted or skipped.")
    campaign = assignment.item.campaign
    require_open(campaign)
    labels = list(Label.objects.filter(assignment=assignment).order_by("clause_id"))
    with_verdict = [label for label in labels if label.verdict]
    if not with_verdict:
        raise ValidationError("Give a verdict on at least one clause before submitting.")
    unfinished = [
        label.clause_id
        for label in labels
        if not label.verdict and (label.rationale or label.spans)
    ]
    if unfinished:
        keys = ", ".join(
            Clause.objects.filter(pk__in=unfinished)
            .order_by("position")
            .values_list("key", flat=True)
        )
        raise ValidationError(f"Pick a verdict (or clear the notes) for: {keys}.")
    if campaign.require_every_clause:
        missing = list(
            CampaignClause.objects.filter(campaign=campaign)
            .exclude(clause_id__in=[label.clause_id for label in with_verdict])
            .order_by("position")
            .values_list("clause__key", flat=True)
        )
        if missing:
            more = (
                f" and {len(missing) - _MISSING_SHOWN} more"
                if len(missing) > _MISSING_SHOWN
                else ""
            )
            # Words for people, and every key under MISSING for the page and for scripts.
            raise ValidationError(
                {
                    "submit": [
                        f"This campaign needs a verdict on every clause; {len(missing)} "
                        f"missing: {', '.join(missing[:_MISSING_SHOWN])}{more}."
                    ],
                    MISSING: missing,
                }
            )
    now = timezone.now()
    Label.objects.filter(assignment=assignment, verdict="").delete()
    Label.objects.filter(assignment=assignment).update(
        status=Label.Status.SUBMITTED,
        revision=F("revision") + 1,
        updated_at=now,
        submitted_at=now,
    )
    history = []
    for label in with_verdict:
        before = label.snapshot()
        label.status, label.revision, label.updated_at = (
            Label.Status.SUBMITTED,
            label.revision + 1,
            now,
        )
        history.append(
            history_row(
                label, kind=LabelRevision.Kind.SUBMIT, actor=reviewer, before=before, when=now
            )
        )
    record_history(history)
    assignment.status = Assignment.Status.SUBMITTED
    assignment.submitted_at = now
    assignment.save(update_fields=["status", "submitted_at"])
    item = assignment.item
    Item.objects.filter(pk=item.pk).update(submitted_count=F("submitted_count") + 1)
    state = outcomes_refresh(item=item, actor=reviewer)
    audit.record(
        verb="assignment.submit",
        actor=reviewer,
        workspace=campaign.workspace,
        target=assignment,
        summary=f"{campaign.title}: item {item.pk}, {len(with_verdict)} label(s)",
        data={
            "item": item.pk,
            "labels": {str(label.clause_id): label.verdict for label in with_verdict},
            "item_state": state,
        },
    )
