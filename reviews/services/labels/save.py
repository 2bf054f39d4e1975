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
  transaction: a refused submit writes nothing at all. The response shape leaves room for the
  next item, so save, submit and next can become one request.
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
from django.db.models import F
from django.utils import timezone

from clausebook import audit
from clausebook.models import AuditEvent, User
from reviews.models import Assignment, Campaign, Label, LabelRevision, LabelSource
from reviews.outcomes import outcomes_refresh
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


# A first save. ON CONFLICT: the assignment lock already serialises this reviewer's writes, but an
# import may add a label next to a submitted assignment; a clash answers 409, never a 500.
_INSERT_SQL = """
    INSERT INTO reviews_label
        (campaign_id, item_id, clause_id, source, reviewer_id, assignment_id, verdict, severity,
         rationale, spans, status, revision, created_at, updated_at, submitted_at)
    VALUES (%s, %s, %s, 'human', %s, %s, %s, %s, %s, %s::jsonb, %s, 1, %s, %s, %s)
    ON CONFLICT (item_id, clause_id, reviewer_id) WHERE source = 'human' DO NOTHING
    RETURNING id
"""


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
        with transaction.atomic():
            locked = lock_assignment(assignment=assignment, reviewer=reviewer)
            item, campaign = locked.item, locked.item.campaign
            require_open(campaign)
            if locked.status not in {Assignment.Status.ACTIVE, Assignment.Status.SUBMITTED}:
                raise ValidationError(
                    f"This item was {locked.get_status_display().lower()}; its labels are frozen."
                )
            saved, changed = _write_all(locked, reviewer, labels, conflicts, stale_keys)
            if conflicts:
                raise _Refused
            if submit:
                submit_locked(assignment=locked, reviewer=reviewer)
                saved = _reread(saved)
            elif changed and locked.status == Assignment.Status.SUBMITTED:
                # Revisions of submitted labels count: the pairs they touch are decided again.
                outcomes_refresh(item=item, clauses=changed, actor=reviewer)
    except _Refused:
        with transaction.atomic():
            audit.record_many([_conflict_event(campaign, reviewer, *entry) for entry in conflicts])
        raise LabelConflict(
            [(clause_id, current) for clause_id, current, _ in conflicts], keys=stale_keys
        ) from None
    return LabelsSaved(assignment=locked, labels=saved, item_state=item.state)


def label_save(*, assignment: Assignment, reviewer: User, data: LabelInput) -> Label:
    """One label through :func:`labels_save` (for callers holding a single label)."""
    return labels_save(assignment=assignment, reviewer=reviewer, labels=[data]).labels[0]


def _write_all(
    assignment: Assignment,
    reviewer: User,
    inputs: Sequence[LabelInput],
    conflicts: list[tuple[int, Label | None, LabelInput]],
    stale_keys: dict[int, str],
) -> tuple[list[Label], set[int]]:
    """Write each label (or note its conflict, and its clause key in ``stale_keys``); return
    the labels and the clauses changed."""
    if not inputs:
        return [], set()
    item, campaign = assignment.item, assignment.item.campaign
    clauses, current = _read(assignment, [data.clause for data in inputs])
    seen: set[int] = set()
    for data in inputs:
        clause = clauses[data.clause]
        if clause.pk in seen:
            raise ValidationError({"clause": f"{clause.key} appears twice in one request."})
        seen.add(clause.pk)
    submitted = assignment.status == Assignment.Status.SUBMITTED
    kind = LabelRevision.Kind.REVISE if submitted else LabelRevision.Kind.DRAFT
    now = timezone.now()
    saved: list[Label] = []
    changed: set[int] = set()
    history: list[LabelRevision] = []
    events: list[AuditEvent] = []
    for data in inputs:
        clause = clauses[data.clause]
        label = current.get(clause.pk)
        if data.revision is None and label is not None:
            # A double click or a second tab created it first: the same content is the same
            # save answered again; anything else would overwrite unseen work.
            if all(getattr(label, name) == value for name, value in data.given().items()):
                label.clause = clause
                saved.append(label)
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
            label = _insert(assignment, clause, fields, now)
            if label is None:
                conflicts.append((clause.pk, _stored(assignment, clause), data))
                continue
            before = None
        else:
            if all(getattr(label, name) == fields[name] for name in EDITABLE_FIELDS):
                label.clause = clause
                saved.append(label)
                continue
            before = label.snapshot()
            Label.objects.filter(pk=label.pk).update(
                **fields, revision=F("revision") + 1, updated_at=now
            )
            for name, value in fields.items():
                setattr(label, name, value)
            label.revision += 1
            label.updated_at = now
        label.clause = clause
        changed.add(clause.pk)
        history.append(history_row(label, kind=kind, actor=reviewer, before=before, when=now))
        events.append(_save_event(campaign, reviewer, label, before))
        saved.append(label)
    if conflicts:
        stale_keys.update({clause.pk: clause.key for clause in clauses.values()})
    else:
        record_history(history)
        audit.record_many(events)
    return saved, changed


# The clauses a request names, in the campaign's scope, with this reviewer's label on each: one
# statement, since every autosave runs it (an ORM query for each costs more than the reads).
_READ_SQL = """
    SELECT c.id, c.key, c.title,
           l.id, l.verdict, l.severity, l.rationale, l.spans, l.status, l.revision,
           l.created_at, l.updated_at, l.submitted_at
    FROM reviews_campaignclause cc
    JOIN specs_clause c ON c.id = cc.clause_id
    LEFT JOIN reviews_label l
        ON l.item_id = %s AND l.clause_id = cc.clause_id AND l.reviewer_id = %s
       AND l.source = 'human'
    WHERE cc.campaign_id = %s AND (cc.clause_id = ANY(%s) OR c.key = ANY(%s))
"""


def _read(
    assignment: Assignment, refs: list[ClauseRef]
) -> tuple[dict[ClauseRef, Clause], dict[int, Label]]:
    """Resolve each clause reference (id or key) in the campaign's scope, and read the
    reviewer's labels on those clauses. Raises ValidationError naming a reference out of scope."""
    ids = [ref for ref in refs if isinstance(ref, int)]
    keys = [ref for ref in refs if isinstance(ref, str)]
    with connection.cursor() as cursor:
        cursor.execute(
            _READ_SQL,
            [assignment.item_id, assignment.reviewer_id, assignment.campaign_id, ids, keys],
        )
        rows = cursor.fetchall()
    by_id: dict[int, Clause] = {}
    current: dict[int, Label] = {}
    for clause_id, key, title, label_id, *values in rows:
        by_id[clause_id] = Clause(pk=clause_id, key=key, title=title)
        if label_id is not None:
            verdict, severity, rationale, spans, status, revision, created, updated, at = values
            current[clause_id] = Label(
                pk=label_id,
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
                created_at=created,
                updated_at=updated,
                submitted_at=at,
            )
    by_key = {clause.key: clause for clause in by_id.values()}
    resolved: dict[ClauseRef, Clause] = {}
    for ref in refs:
        clause = by_id.get(ref) if isinstance(ref, int) else by_key.get(ref)
        if clause is None:
            raise ValidationError({"clause": f"{ref!r} is not a clause in this campaign's scope."})
        resolved[ref] = clause
    return resolved, current


def _reread(labels: list[Label]) -> list[Label]:
    """The labels as submitting left them (status and revision moved on; drafts with nothing
    written are gone)."""
    fresh = Label.objects.in_bulk([label.pk for label in labels])
    kept = []
    for label in labels:
        if label.pk in fresh:
            fresh[label.pk].clause = label.clause
            kept.append(fresh[label.pk])
    return kept


def _insert(
    assignment: Assignment, clause: Clause, fields: dict[str, Any], now: datetime
) -> Label | None:
    submitted = assignment.status == Assignment.Status.SUBMITTED
    status = Label.Status.SUBMITTED if submitted else Label.Status.DRAFT
    submitted_at = now if submitted else None
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_SQL,
            [
                assignment.campaign_id,
                assignment.item_id,
                clause.pk,
                assignment.reviewer_id,
                assignment.pk,
                fields["verdict"],
                fields["severity"],
                fields["rationale"],
                json.dumps(fields["spans"]),
                status,
                now,
                now,
                submitted_at,
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return Label(
        pk=row[0],
        campaign_id=assignment.campaign_id,
        item_id=assignment.item_id,
        clause_id=clause.pk,
        source=LabelSource.HUMAN,
        reviewer_id=assignment.reviewer_id,
        assignment_id=assignment.pk,
        status=status,
        revision=1,
        created_at=now,
        updated_at=now,
        submitted_at=submitted_at,
        **fields,
    )


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
