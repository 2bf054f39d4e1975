"""Submitting an assignment: the reviewer's labels on an item become counted.

Contract
--------
* Only the assignment's reviewer submits, only while it is in progress and the campaign open.
* At least one verdict; with ``Campaign.require_every_clause`` (the default), a verdict on every
  clause in scope, else a 400 whose ``missing_clauses`` lists every key without one. A draft with
  a rationale or spans but no verdict blocks submission, so no written work disappears; drafts
  with nothing written are dropped.
* The labels become submitted (each with its history row, kind ``submit``), the item counts one
  more submission, and its outcomes are re-evaluated (``reviews.outcomes``).
* A fixed number of statements whatever the number of labels or clauses: the checks run on the
  labels read under the assignment's lock and on the campaign's cached scope.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from clausebook import audit
from clausebook.models import User
from reviews.models import Assignment, Label, LabelRevision
from reviews.outcomes import outcomes_refresh_locked
from reviews.selectors.labels import campaign_scope
from reviews.services.labels.core import history_row, lock_assignment, record_history, require_open

#: Clause keys named in words, at most, when a submit misses verdicts (all are listed under
#: ``MISSING``).
_MISSING_SHOWN = 10
#: The field of a refused submit's error that lists every clause key still without a verdict.
MISSING = "missing_clauses"


@transaction.atomic
def assignment_submit(*, assignment: Assignment, reviewer: User) -> Assignment:
    """Submit the reviewer's labels on an item (see the module contract). Raises
    PermissionDenied (not their assignment) and ValidationError (what is missing)."""
    with audit.batched():
        locked = lock_assignment(assignment=assignment, reviewer=reviewer)
        history: list[LabelRevision] = []
        submit_locked(assignment=locked, reviewer=reviewer, history=history)
        record_history(history)
    return locked


# What a submit changes, in one statement: the labels become submitted, the assignment too, and
# the item counts one more submission. Updating the item takes its row lock, which serialises
# everything that decides its pairs (two reviewers submitting at once, a revision racing an
# adjudication) until commit; its state is read under that lock.
_SUBMIT_SQL = """
    WITH submitted_labels AS (
        UPDATE reviews_label
        SET status = %(submitted)s, revision = revision + 1, updated_at = %(now)s,
            submitted_at = %(now)s
        WHERE assignment_id = %(assignment)s
    ), submitted_assignment AS (
        UPDATE reviews_assignment SET status = %(done)s, submitted_at = %(now)s
        WHERE id = %(assignment)s
    )
    UPDATE reviews_item SET submitted_count = submitted_count + 1
    WHERE id = %(item)s
    RETURNING state
"""


def submit_locked(
    *,
    assignment: Assignment,
    reviewer: User,
    history: list[LabelRevision],
    labels: dict[int, Label] | None = None,
) -> None:
    """Submit an assignment the caller has locked (``lock_assignment``) in its transaction.

    ``labels``: the assignment's labels by clause id as the caller read them under that lock
    (read here when None); they are brought up to date (submitted, next revision) and the
    dropped drafts removed from it. The history rows go to ``history``, for the caller to insert
    with its own.
    """
    if assignment.status != Assignment.Status.ACTIVE:
        raise ValidationError("This item was already submitted or skipped.")
    campaign = assignment.item.campaign
    require_open(campaign)
    if labels is None:
        labels = {label.clause_id: label for label in Label.objects.filter(assignment=assignment)}
    ordered = sorted(labels.values(), key=lambda label: label.clause_id)
    with_verdict = [label for label in ordered if label.verdict]
    if not with_verdict:
        raise ValidationError("Give a verdict on at least one clause before submitting.")
    scope = campaign_scope(campaign.pk)
    unfinished = {
        label.clause_id
        for label in ordered
        if not label.verdict and (label.rationale or label.spans)
    }
    if unfinished:
        keys = ", ".join(scope.keys_in_order(unfinished))
        raise ValidationError(f"Pick a verdict (or clear the notes) for: {keys}.")
    if campaign.require_every_clause:
        missing = scope.keys_in_order(
            set(scope.by_id) - {label.clause_id for label in with_verdict}
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
    empty = [label for label in ordered if not label.verdict]
    if empty:
        Label.objects.filter(pk__in=[label.pk for label in empty]).delete()
        for label in empty:
            del labels[label.clause_id]
    item = assignment.item
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _SUBMIT_SQL,
            {
                "submitted": Label.Status.SUBMITTED,
                "done": Assignment.Status.SUBMITTED,
                "now": now,
                "assignment": assignment.pk,
                "item": item.pk,
            },
        )
        (item.state,) = cursor.fetchone()
    for label in with_verdict:
        before = label.snapshot()
        label.status, label.revision, label.updated_at, label.submitted_at = (
            Label.Status.SUBMITTED,
            label.revision + 1,
            now,
            now,
        )
        history.append(
            history_row(
                label, kind=LabelRevision.Kind.SUBMIT, actor=reviewer, before=before, when=now
            )
        )
    assignment.status = Assignment.Status.SUBMITTED
    assignment.submitted_at = now
    item.submitted_count += 1
    state = outcomes_refresh_locked(item=item, campaign=campaign, actor=reviewer)
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
