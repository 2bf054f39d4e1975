"""A reviewer's labels on one item, through the one JSON contract the labeling page and the API
both post: ``{"labels": [{"clause", "verdict", "severity", "rationale", "spans", "revision"}],
"submit": false}``.

Contract of ``labels_save``
---------------------------
* Who, which item, status and revision are never taken from input: the caller passes the
  assignment it resolved for the signed-in user (``reviews.access``); the service locks it and
  checks again that it is theirs (the second line of defence).
* While the assignment is in progress the labels are drafts (history kind ``draft``). Once it is
  submitted the reviewer may still revise their labels while the campaign is open: they stay
  submitted (kind ``revise``), keep a verdict, and the pair's outcome is re-evaluated. Skipped and
  released assignments take no labels; neither do campaigns that are not open.
* A field the input leaves out (``None``) keeps its stored value: a partial update changes only
  what it names.
* Optimistic locking per label: a save names the revision it last saw (none for a first save).
  If any label of the request is stale, nothing of the request is written and
  :class:`LabelConflict` lists each stale label as it is now. A first save identical to the
  label another tab already created answers with the stored row.
* A save that changes nothing writes nothing (no revision, no history, no audit event).
* ``submit=True`` submits the assignment after saving (``assignment_submit``'s rules) in the same
  transaction: a refused submit writes nothing at all. ``reviews.services.labels.next`` adds the
  next item, so save, submit and next are one request.
* A fixed number of statements whatever the number of labels: new labels in one insert, changed
  ones in one update (each at the revision it was read at), history rows in one insert, audit
  events in one.
* Every change writes a ``LabelRevision`` row and a ``label.save`` audit event; every refused save
  a ``label.conflict`` audit event (a lost-update attempt leaves a trace).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from clausebook import audit
from clausebook.models import AuditEvent, User
from reviews.models import (
    Assignment,
    Campaign,
    Label,
    LabelRevision,
    LabelSource,
    Outcome,
    OutcomeState,
)
from reviews.outcomes import outcomes_refresh
from reviews.selectors.labels import campaign_scope
from reviews.services.labels.core import (
    EDITABLE_FIELDS,
    MAX_LABELS_PER_REQUEST,
    ClauseRef,
    LabelConflict,
    LabelInput,
    history_row,
    lock_assignment,
    merged_fields,
    record_history,
    require_open,
)
from reviews.services.labels.submit import submit_locked
from specs.models import Clause


@dataclass
class LabelsSaved:
    """What a save answers: the labels of the request (in its order, each with its clause), the
    assignment and the item's state after it."""

    assignment: Assignment
    labels: list[Label]
    item_state: str


class _Refused(Exception):
    """Rolls the request's writes back when one of its labels is stale."""


def labels_save(
    *,
    assignment: Assignment,
    reviewer: User,
    labels: Sequence[LabelInput],
    submit: bool = False,
) -> LabelsSaved:
    """Save the reviewer's ``labels`` on the assignment's item, then submit if asked (see the
    module contract). Raises PermissionDenied (not their assignment), ValidationError (bad input,
    a campaign not open, a refused submit) and LabelConflict (a stale label)."""
    if not labels and not submit:
        raise ValidationError({"labels": "Send at least one label, or submit."})
    if len(labels) > MAX_LABELS_PER_REQUEST:
        raise ValidationError({"labels": f"At most {MAX_LABELS_PER_REQUEST} labels per request."})
    conflicts: list[tuple[int, Label | None, LabelInput]] = []
    stale_keys: dict[int, str] = {}
    try:
        # One statement for every audit event of the request, one for every history row.
        with transaction.atomic(), audit.batched():
            locked = lock_assignment(assignment=assignment, reviewer=reviewer)
            item, campaign = locked.item, locked.item.campaign
            require_open(campaign)
            if locked.status not in {Assignment.Status.ACTIVE, Assignment.Status.SUBMITTED}:
                raise ValidationError(
                    f"This item was {locked.get_status_display().lower()}; its labels are frozen."
                )
            if locked.status == Assignment.Status.SUBMITTED and labels:
                _refuse_settled(locked, labels)
            history: list[LabelRevision] = []
            # Submitting checks every label of the assignment, so it reads them all; a save
            # reads those it names.
            mine = _read(locked, None if submit else [data.clause for data in labels])
            saved, changed = _write_all(
                locked, reviewer, labels, mine, history, conflicts, stale_keys
            )
            if conflicts:
                raise _Refused
            if submit:
                submit_locked(assignment=locked, reviewer=reviewer, labels=mine, history=history)
                # As submitting left them: drafts with nothing written are gone.
                saved = [label for label in saved if mine.get(label.clause_id) is label]
            elif changed and locked.status == Assignment.Status.SUBMITTED:
                # Revisions of submitted labels count: the pairs they touch are decided again.
                outcomes_refresh(item=item, clauses=changed, actor=reviewer)
            record_history(history)
    except _Refused:
        with transaction.atomic():
            audit.record_many([_conflict_event(campaign, reviewer, *entry) for entry in conflicts])
        raise LabelConflict(
            [(clause_id, current) for clause_id, current, _ in conflicts], keys=stale_keys
        ) from None
    return LabelsSaved(assignment=locked, labels=saved, item_state=item.state)


def _refuse_settled(assignment: Assignment, labels: Sequence[LabelInput]) -> None:
    """An adjudicator's decision is final for the labels of its pair: revising one would change
    the evidence under a settled case (reopening the pair lets them change again)."""
    scope = campaign_scope(assignment.item.campaign_id)
    clause_ids = [scope.resolve(data.clause).pk for data in labels]
    settled = list(
        Outcome.objects.filter(
            item_id=assignment.item_id, clause_id__in=clause_ids, state=OutcomeState.ADJUDICATED
        ).values_list("clause__key", flat=True)
    )
    if settled:
        raise ValidationError(
            {
                "labels": f"An adjudicator has settled {', '.join(sorted(settled))}: its labels are final."
            }
        )


def label_save(*, assignment: Assignment, reviewer: User, data: LabelInput) -> Label:
    """One label through :func:`labels_save` (for callers holding a single label)."""
    return labels_save(assignment=assignment, reviewer=reviewer, labels=[data]).labels[0]


def _write_all(
    assignment: Assignment,
    reviewer: User,
    inputs: Sequence[LabelInput],
    mine: dict[int, Label],
    history: list[LabelRevision],
    conflicts: list[tuple[int, Label | None, LabelInput]],
    stale_keys: dict[int, str],
) -> tuple[list[Label], set[int]]:
    """Write each label (or note its conflict, and its clause key in ``stale_keys``): the new
    ones in one statement, the changed ones in another. ``mine`` holds the reviewer's labels
    on the item by clause id, as read under the lock, and is kept in step with what is
    written; the history rows of the changes go to ``history``. Return the labels of the
    request and the clauses changed."""
    if not inputs:
        return [], set()
    item, campaign = assignment.item, assignment.item.campaign
    scope = campaign_scope(campaign.pk)
    clauses = [scope.resolve(data.clause) for data in inputs]
    seen: set[int] = set()
    for clause in clauses:
        if clause.pk in seen:
            raise ValidationError({"clause": f"{clause.key} appears twice in one request."})
        seen.add(clause.pk)
    submitted = assignment.status == Assignment.Status.SUBMITTED
    inserts: list[_Insert] = []
    updates: list[_Update] = []
    unchanged: dict[int, Label] = {}
    for data, clause in zip(inputs, clauses, strict=True):
        label = mine.get(clause.pk)
        if data.revision is None and label is not None:
            # A double click or a second tab created it first: the same content is the same
            # save answered again; anything else would overwrite unseen work.
            if all(getattr(label, name) == value for name, value in data.given().items()):
                unchanged[clause.pk] = label
            else:
                conflicts.append((clause.pk, label, data))
            continue
        if data.revision is not None and (label is None or label.revision != data.revision):
            conflicts.append((clause.pk, label, data))
            continue
        fields = merged_fields(
            campaign=campaign,
            clause=clause,
            data=data,
            current=label,
            message_count=item.transcript.message_count,
            needs_verdict=submitted,
        )
        if label is None:
            inserts.append(_Insert(clause, fields, data))
        elif all(getattr(label, name) == fields[name] for name in EDITABLE_FIELDS):
            unchanged[clause.pk] = label
        else:
            updates.append(_Update(label, fields, label.snapshot(), data))
    now = timezone.now()
    written: dict[int, tuple[Label, dict[str, Any] | None]] = {}
    if not conflicts:
        for label in _insert(assignment, inserts, now, conflicts):
            written[label.clause_id] = (label, None)
        for label, before in _update(updates, now, conflicts):
            written[label.clause_id] = (label, before)
    if conflicts:
        stale_keys.update({clause.pk: clause.key for clause in clauses})
        return [], set()
    kind = LabelRevision.Kind.REVISE if submitted else LabelRevision.Kind.DRAFT
    saved: list[Label] = []
    events: list[AuditEvent] = []
    for clause in clauses:
        if clause.pk in unchanged:
            label = unchanged[clause.pk]
        else:
            label, before = written[clause.pk]
            mine[clause.pk] = label
            history.append(history_row(label, kind=kind, actor=reviewer, before=before, when=now))
            events.append(_save_event(campaign, reviewer, label, before))
        label.clause = clause
        saved.append(label)
    audit.record_many(events)
    return saved, set(written)


@dataclass(frozen=True)
class _Insert:
    """A first save: the clause, the label's fields, the input."""

    clause: Clause
    fields: dict[str, Any]
    data: LabelInput


@dataclass(frozen=True)
class _Update:
    """A change: the label as read, its new fields, its state before, the input."""

    label: Label
    fields: dict[str, Any]
    before: dict[str, Any]
    data: LabelInput


# The reviewer's labels on the item (on the named clauses, or all): one statement, since every
# autosave runs it (an ORM query costs more to build than to run here).
_READ_SQL = """
    SELECT l.id, l.clause_id, l.verdict, l.severity, l.rationale, l.spans, l.status,
           l.revision, l.created_at, l.updated_at, l.submitted_at
    FROM reviews_label l
    WHERE l.item_id = %s AND l.reviewer_id = %s AND l.source = 'human'
      AND (%s OR l.clause_id = ANY(%s))
"""


def _read(assignment: Assignment, refs: list[ClauseRef] | None) -> dict[int, Label]:
    """The reviewer's labels on the item by clause id: on the clauses ``refs`` names (ids or
    keys in the campaign's scope; ValidationError names one out of scope), or all (None)."""
    ids: list[int] = []
    if refs is not None:
        scope = campaign_scope(assignment.campaign_id)
        ids = [scope.resolve(ref).pk for ref in refs]
    with connection.cursor() as cursor:
        cursor.execute(_READ_SQL, [assignment.item_id, assignment.reviewer_id, refs is None, ids])
        rows = cursor.fetchall()
    labels = {}
    for pk, clause_id, verdict, severity, rationale, spans, *rest in rows:
        status, revision, created_at, updated_at, submitted_at = rest
        labels[clause_id] = Label(
            pk=pk,
            campaign_id=assignment.campaign_id,
            item_id=assignment.item_id,
            clause_id=clause_id,
            source=LabelSource.HUMAN,
            reviewer_id=assignment.reviewer_id,
            assignment_id=assignment.pk,
            verdict=verdict,
            severity=severity,
            rationale=rationale,
            spans=json.loads(spans) if isinstance(spans, str) else spans,
            status=status,
            revision=revision,
            created_at=created_at,
            updated_at=updated_at,
            submitted_at=submitted_at,
        )
    return labels


# First saves, in one statement. ON CONFLICT: the assignment lock already serialises this
# reviewer's writes, but an import may add a label next to a submitted assignment; a clash
# answers 409, never a 500.
_INSERT_SQL = """
    INSERT INTO reviews_label
        (campaign_id, item_id, clause_id, source, reviewer_id, assignment_id, verdict, severity,
         rationale, spans, status, revision, created_at, updated_at, submitted_at)
    SELECT %s, %s, u.clause_id, 'human', %s, %s, u.verdict, u.severity, u.rationale,
           u.spans::jsonb, %s, 1, %s, %s, %s
    FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[])
        AS u(clause_id, verdict, severity, rationale, spans)
    ON CONFLICT (item_id, clause_id, reviewer_id) WHERE source = 'human' DO NOTHING
    RETURNING id, clause_id
"""


def _insert(
    assignment: Assignment,
    inserts: list[_Insert],
    now: datetime,
    conflicts: list[tuple[int, Label | None, LabelInput]],
) -> list[Label]:
    """Insert the first saves; one that meets a label created meanwhile is a conflict."""
    if not inserts:
        return []
    submitted = assignment.status == Assignment.Status.SUBMITTED
    status = Label.Status.SUBMITTED if submitted else Label.Status.DRAFT
    submitted_at = now if submitted else None
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_SQL,
            [
                assignment.campaign_id,
                assignment.item_id,
                assignment.reviewer_id,
                assignment.pk,
                status,
                now,
                now,
                submitted_at,
                [row.clause.pk for row in inserts],
                [row.fields["verdict"] for row in inserts],
                [row.fields["severity"] for row in inserts],
                [row.fields["rationale"] for row in inserts],
                [json.dumps(row.fields["spans"]) for row in inserts],
            ],
        )
        ids = {clause_id: pk for pk, clause_id in cursor.fetchall()}
    created = []
    for row in inserts:
        if row.clause.pk not in ids:
            conflicts.append((row.clause.pk, _stored(assignment, row.clause), row.data))
            continue
        created.append(
            Label(
                pk=ids[row.clause.pk],
                campaign_id=assignment.campaign_id,
                item_id=assignment.item_id,
                clause_id=row.clause.pk,
                source=LabelSource.HUMAN,
                reviewer_id=assignment.reviewer_id,
                assignment_id=assignment.pk,
                status=status,
                revision=1,
                created_at=now,
                updated_at=now,
                submitted_at=submitted_at,
                **row.fields,
            )
        )
    return created


# Changed labels, in one statement, each only at the revision it was read at: the assignment
# lock makes a mismatch unlikely, the check makes one a 409 rather than a lost update.
_UPDATE_SQL = """
    UPDATE reviews_label AS l
    SET verdict = u.verdict, severity = u.severity, rationale = u.rationale,
        spans = u.spans::jsonb, revision = l.revision + 1, updated_at = %s
    FROM unnest(%s::bigint[], %s::int[], %s::text[], %s::text[], %s::text[], %s::text[])
        AS u(id, revision, verdict, severity, rationale, spans)
    WHERE l.id = u.id AND l.revision = u.revision
    RETURNING l.id
"""


def _update(
    updates: list[_Update],
    now: datetime,
    conflicts: list[tuple[int, Label | None, LabelInput]],
) -> list[tuple[Label, dict[str, Any]]]:
    """Write the changed labels; return each with its state before."""
    if not updates:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            _UPDATE_SQL,
            [
                now,
                [row.label.pk for row in updates],
                [row.label.revision for row in updates],
                [row.fields["verdict"] for row in updates],
                [row.fields["severity"] for row in updates],
                [row.fields["rationale"] for row in updates],
                [json.dumps(row.fields["spans"]) for row in updates],
            ],
        )
        done = {pk for (pk,) in cursor.fetchall()}
    changed = []
    for row in updates:
        label = row.label
        if label.pk not in done:
            conflicts.append((label.clause_id, Label.objects.filter(pk=label.pk).first(), row.data))
            continue
        for name, value in row.fields.items():
            setattr(label, name, value)
        label.revision += 1
        label.updated_at = now
        changed.append((label, row.before))
    return changed


def _stored(assignment: Assignment, clause: Clause) -> Label | None:
    return Label.objects.filter(
        item_id=assignment.item_id,
        clause=clause,
        reviewer_id=assignment.reviewer_id,
        source=LabelSource.HUMAN,
    ).first()


def _editable(snapshot: dict[str, Any] | None) -> dict[str, Any] | None:
    if snapshot is None:
        return None
    return {name: snapshot[name] for name in EDITABLE_FIELDS}


def _save_event(
    campaign: Campaign, reviewer: User, label: Label, before: dict[str, Any] | None
) -> AuditEvent:
    return AuditEvent(
        verb="label.save",
        actor=reviewer,
        workspace=campaign.workspace,
        target_type="reviews.label",
        target_id=str(label.pk),
        summary=f"item {label.item_id} clause {label.clause_id}: {label.verdict or 'no verdict'}",
        data={
            "before": _editable(before),
            "after": _editable(label.snapshot()),
            "revision": label.revision,
            "status": label.status,
        },
    )


def _conflict_event(
    campaign: Campaign, reviewer: User, clause_id: int, current: Label | None, data: LabelInput
) -> AuditEvent:
    return AuditEvent(
        verb="label.conflict",
        actor=reviewer,
        workspace=campaign.workspace,
        target_type="reviews.label" if current is not None else "",
        target_id=str(current.pk) if current is not None else "",
        summary=f"clause {clause_id}: stale revision {data.revision}",
        data={"attempted": data.given(), "revision": data.revision},
    )
