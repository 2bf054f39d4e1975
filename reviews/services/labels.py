"""Writes for labels: autosaved drafts with optimistic locking, submission, and bulk import.

Contracts
---------
* ``label_save`` writes one reviewer's label on one clause of an item they hold an ACTIVE
  assignment for. The first save (``revision`` None) is an ``INSERT … ON CONFLICT DO NOTHING``;
  later saves must carry the revision the client last saw. A stale or racing save raises
  :class:`LabelConflict` carrying the current row, and nothing is overwritten. Every save and
  every refused save is in the audit trail (``label.save`` with before/after, ``label.conflict``).
* Who, which item, status and revision are never taken from client input: callers pass the
  assignment they resolved for the signed-in user.
* ``assignment_submit`` requires at least one verdict. Clauses left without a verdict stay
  unlabeled (no row); a draft that has a rationale or spans but no verdict blocks submission, so
  no written work disappears. Submitted labels are frozen.
* When an item has ``k`` submissions its state becomes ``agreed`` (every clause labeled by more
  than one reviewer got the same verdict) or ``disputed``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from clausebook import audit
from clausebook.models import AuditEvent, Membership, Role, User
from reviews.models import (
    Assignment,
    Campaign,
    CampaignClause,
    CampaignReviewer,
    Item,
    ItemState,
    Label,
)
from reviews.services.campaigns import lock_own_active_assignment
from specs.models import Clause
from transcripts.models import Transcript

MAX_RATIONALE = 20_000
MAX_SPANS = 100
MAX_SPAN_TEXT = 4_000
LABEL_FIELDS = ("verdict", "severity", "rationale", "spans")


class LabelConflict(Exception):
    """The client's copy of a label is stale; ``current`` is the row as it is now (or None)."""

    def __init__(self, current: Label | None, message: str = "") -> None:
        super().__init__(message or "This label changed since you loaded it.")
        self.current = current


def label_state(label: Label | None) -> dict[str, Any] | None:
    """The client-facing state of a label: what a 409 carries and what the page holds."""
    if label is None:
        return None
    return {
        "id": label.pk,
        "clause": label.clause_id,
        "verdict": label.verdict,
        "severity": label.severity,
        "rationale": label.rationale,
        "spans": label.spans,
        "status": label.status,
        "revision": label.revision,
        "updated_at": label.updated_at.isoformat(),
    }


def _scale_values(scale: list[dict[str, str]]) -> set[str]:
    return {entry["value"] for entry in scale}


def clean_spans(spans: Any, message_count: int) -> list[dict[str, Any]]:
    """Validate spans: ``[{message_index, start, end, text}]`` inside the transcript."""
    if spans in (None, ""):
        return []
    if not isinstance(spans, list) or len(spans) > MAX_SPANS:
        raise ValidationError({"spans": f"Spans must be a list of at most {MAX_SPANS}."})
    clean = []
    for index, span in enumerate(spans, start=1):
        if not isinstance(span, dict):
            raise ValidationError({"spans": f"Span {index} must be an object."})
        try:
            message_index = int(span["message_index"])
            start, end = int(span["start"]), int(span["end"])
        except (KeyError, TypeError, ValueError):
            raise ValidationError(
                {"spans": f"Span {index} needs integer message_index, start and end."}
            ) from None
        text = str(span.get("text", ""))[:MAX_SPAN_TEXT]
        if not 0 <= message_index < message_count or not 0 <= start < end:
            raise ValidationError({"spans": f"Span {index} is outside the transcript."})
        clean.append({"message_index": message_index, "start": start, "end": end, "text": text})
    return clean


@dataclass(frozen=True)
class LabelInput:
    """What a client may set on a label (nothing else is ever read from the request)."""

    clause_id: int
    verdict: str = ""
    severity: str = ""
    rationale: str = ""
    spans: list[dict[str, Any]] = field(default_factory=list)


def _validate(
    campaign: Campaign, item: Item, data: LabelInput, message_count: int
) -> tuple[LabelInput, Clause]:
    clause = (
        Clause.objects.filter(pk=data.clause_id, campaigns=campaign)
        .only("id", "key", "version_id")
        .first()
    )
    if clause is None:
        raise ValidationError({"clause": "This clause is not in the campaign's scope."})
    if data.verdict and data.verdict not in _scale_values(campaign.verdict_scale):
        raise ValidationError({"verdict": f"{data.verdict!r} is not on this campaign's scale."})
    if data.severity and data.severity not in _scale_values(campaign.severity_scale):
        raise ValidationError({"severity": f"{data.severity!r} is not a severity here."})
    if len(data.rationale) > MAX_RATIONALE:
        raise ValidationError({"rationale": f"At most {MAX_RATIONALE} characters."})
    clean = LabelInput(
        clause_id=data.clause_id,
        verdict=data.verdict,
        severity=data.severity,
        rationale=data.rationale,
        spans=clean_spans(data.spans, message_count),
    )
    return clean, clause


_INSERT_SQL = """
    INSERT INTO reviews_label
        (item_id, reviewer_id, clause_id, assignment_id, verdict, severity, rationale, spans,
         status, revision, created_at, updated_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, 'draft', 1, %s, %s)
    ON CONFLICT ON CONSTRAINT label_unique DO NOTHING
    RETURNING id
"""


_UPDATE_SQL = """
    UPDATE reviews_label AS label
    SET verdict = %s, severity = %s, rationale = %s, spans = %s::jsonb,
        revision = label.revision + 1, updated_at = %s
    FROM (
        SELECT id, verdict, severity, rationale, spans FROM reviews_label
        WHERE item_id = %s AND reviewer_id = %s AND clause_id = %s AND revision = %s
          AND status = 'draft'
        FOR UPDATE
    ) AS old
    WHERE label.id = old.id
    RETURNING label.id, old.verdict, old.severity, old.rationale, old.spans, label.created_at
"""


def _fields(label: Label | LabelInput) -> dict[str, Any]:
    return {name: getattr(label, name) for name in LABEL_FIELDS}


def label_save(
    *,
    assignment: Assignment,
    reviewer: User,
    data: LabelInput,
    revision: int | None,
) -> Label:
    """Create or update the reviewer's draft label on ``data.clause_id`` (see module contract).

    ``assignment`` should come with ``item__campaign`` and ``item__transcript`` loaded
    (``select_related``) so validation needs no extra reads.
    Raises PermissionDenied (not the reviewer's assignment), ValidationError (bad input, or the
    assignment is no longer in progress) and LabelConflict (stale revision or racing first save).
    """
    if assignment.reviewer_id != reviewer.pk:
        raise PermissionDenied("This is not your assignment.")
    if assignment.status != Assignment.Status.ACTIVE:
        raise ValidationError("This item was already submitted or skipped; labels are frozen.")
    item = assignment.item
    campaign = item.campaign
    data, clause = _validate(campaign, item, data, item.transcript.message_count)
    conflict: LabelConflict | None = None
    with transaction.atomic():
        now = timezone.now()
        if revision is None:
            with connection.cursor() as cursor:
                cursor.execute(
                    _INSERT_SQL,
                    [
                        item.pk,
                        reviewer.pk,
                        data.clause_id,
                        assignment.pk,
                        data.verdict,
                        data.severity,
                        data.rationale,
                        json.dumps(data.spans),
                        now,
                        now,
                    ],
                )
                row = cursor.fetchone()
            if row is not None:
                label = Label(
                    pk=row[0],
                    item_id=item.pk,
                    reviewer_id=reviewer.pk,
                    clause_id=data.clause_id,
                    assignment_id=assignment.pk,
                    status=Label.Status.DRAFT,
                    revision=1,
                    created_at=now,
                    updated_at=now,
                    **_fields(data),
                )
                before = None
            else:
                # A double click or a second tab created it first.
                label = Label.objects.get(item=item, reviewer=reviewer, clause_id=data.clause_id)
                if _fields(label) != _fields(data):
                    conflict = LabelConflict(label)
                before = _fields(label)  # an identical retry is answered with the stored row
        else:
            # One statement: lock the row at the expected revision, update it, and return the
            # values it had before (for the audit event). No row means the revision is stale.
            with connection.cursor() as cursor:
                cursor.execute(
                    _UPDATE_SQL,
                    [
                        data.verdict,
                        data.severity,
                        data.rationale,
                        json.dumps(data.spans),
                        now,
                        item.pk,
                        reviewer.pk,
                        data.clause_id,
                        revision,
                    ],
                )
                row = cursor.fetchone()
            if row is None:
                current = Label.objects.filter(
                    item=item, reviewer=reviewer, clause_id=data.clause_id
                ).first()
                conflict = LabelConflict(current)
                label = current  # type: ignore[assignment]
            else:
                label_id, old_verdict, old_severity, old_rationale, old_spans, created_at = row
                before = {
                    "verdict": old_verdict,
                    "severity": old_severity,
                    "rationale": old_rationale,
                    "spans": old_spans if not isinstance(old_spans, str) else json.loads(old_spans),
                }
                label = Label(
                    pk=label_id,
                    item_id=item.pk,
                    reviewer_id=reviewer.pk,
                    clause_id=data.clause_id,
                    assignment_id=assignment.pk,
                    status=Label.Status.DRAFT,
                    revision=revision + 1,
                    created_at=created_at,
                    updated_at=now,
                    **_fields(data),
                )
        if conflict is None and before != _fields(label):
            audit.record(
                verb="label.save",
                actor=reviewer,
                workspace=campaign.workspace,
                target=label,
                summary=f"item {item.pk} clause {data.clause_id}: {data.verdict or 'no verdict'}",
                data={"before": before, "after": _fields(label), "revision": label.revision},
            )
        if conflict is not None:
            # Refused saves are audited too: a lost-update attempt must leave a trace.
            audit.record(
                verb="label.conflict",
                actor=reviewer,
                workspace=campaign.workspace,
                target=conflict.current,
                summary=f"item {item.pk} clause {data.clause_id}: stale revision {revision}",
                data={"attempted": _fields(data), "revision": revision},
            )
    if conflict is not None:
        raise conflict
    label.clause = clause  # the caller's output needs the key; spares it a query
    return label


def _item_state(item_id: int) -> str:
    """``disputed`` if any clause got two different submitted verdicts on the item."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT EXISTS (
                SELECT 1 FROM reviews_label
                WHERE item_id = %s AND status = 'submitted' AND verdict <> ''
                GROUP BY clause_id HAVING COUNT(DISTINCT verdict) > 1
            )
            """,
            [item_id],
        )
        return ItemState.DISPUTED if cursor.fetchone()[0] else ItemState.AGREED


@transaction.atomic
def assignment_submit(*, assignment: Assignment, reviewer: User) -> Assignment:
    """Submit the reviewer's labels on an item (see module contract)."""
    locked = lock_own_active_assignment(
        assignment=assignment,
        reviewer=reviewer,
        not_active="This item was already submitted or skipped.",
    )
    labels = list(Label.objects.filter(assignment=locked))
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
    now = timezone.now()
    Label.objects.filter(assignment=locked, verdict="").delete()
    Label.objects.filter(assignment=locked).update(
        status=Label.Status.SUBMITTED, revision=F("revision") + 1, updated_at=now
    )
    locked.status = Assignment.Status.SUBMITTED
    locked.submitted_at = now
    locked.save(update_fields=["status", "submitted_at"])
    item = Item.objects.select_for_update().get(pk=locked.item_id)
    campaign = locked.item.campaign
    item.submitted_count += 1
    fields = ["submitted_count"]
    if item.submitted_count >= campaign.reviewers_per_item and item.state == ItemState.OPEN:
        item.state = _item_state(item.pk)
        fields.append("state")
    item.save(update_fields=fields)
    audit.record(
        verb="assignment.submit",
        actor=reviewer,
        workspace=campaign.workspace,
        target=locked,
        summary=f"{campaign.title}: item {item.pk}, {len(with_verdict)} label(s)",
        data={
            "item": item.pk,
            "labels": {str(label.clause_id): label.verdict for label in with_verdict},
            "item_state": item.state,
        },
    )
    return locked


# --------------------------------------------------------------------------------------------------
# Import (migration of existing labels)
# --------------------------------------------------------------------------------------------------


@dataclass
class LabelRow:
    """One row to import; ``line`` is where it came from (1-based, for error messages)."""

    line: int
    external_id: str
    clause_key: str
    reviewer_email: str
    verdict: str
    rationale: str = ""
    severity: str = ""


@dataclass
class LabelImportSummary:
    created: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    users_created: list[str] = field(default_factory=list)
    memberships_created: list[str] = field(default_factory=list)
    items_created: int = 0
    applied: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "duplicates": self.duplicates,
            "rejected": len(self.rejected),
            "errors": self.rejected,
            "users_created": self.users_created,
            "memberships_created": self.memberships_created,
            "items_created": self.items_created,
            "applied": self.applied,
        }


class LabelImportRejected(Exception):
    """All-or-nothing import refused: ``summary.rejected`` lists the bad rows."""

    def __init__(self, summary: LabelImportSummary) -> None:
        super().__init__(f"{len(summary.rejected)} row(s) rejected; nothing was imported.")
        self.summary = summary


def labels_import(
    *,
    campaign: Campaign,
    rows: Iterable[LabelRow],
    actor: User | None,
    valid_rows: bool = False,
) -> LabelImportSummary:
    """Import existing labels into ``campaign`` as submitted work.

    Each row names a transcript (by external id, in the campaign's workspace), a clause key (in
    the campaign's scope), a reviewer email and a verdict on the campaign's scale. Missing users
    are created inactive with an unusable password; missing memberships (reviewer role), campaign
    seats, items and assignments (submitted) are created. A label that already exists with the
    same verdict, severity and rationale is a duplicate; with different content it is rejected
    (imports never overwrite a reviewer's work). All-or-nothing unless ``valid_rows``: then bad
    rows are reported and the rest applied. Raises LabelImportRejected when nothing is applied.
    """
    rows = list(rows)
    summary = LabelImportSummary()
    workspace = campaign.workspace
    verdicts = _scale_values(campaign.verdict_scale)
    severities = _scale_values(campaign.severity_scale)
    clauses = dict(
        CampaignClause.objects.filter(campaign=campaign).values_list("clause__key", "clause_id")
    )
    transcripts = dict(
        Transcript.objects.filter(
            workspace=workspace, external_id__in={row.external_id for row in rows}
        ).values_list("external_id", "id")
    )
    good: list[LabelRow] = []
    seen: dict[tuple[str, str, str], int] = {}
    for row in rows:
        problem = ""
        email = row.reviewer_email.strip().lower()
        if row.external_id not in transcripts:
            problem = f"unknown transcript external id {row.external_id!r}"
            field_name = "external_id"
        elif row.clause_key not in clauses:
            problem = f"clause key {row.clause_key!r} is not in the campaign's scope"
            field_name = "clause_key"
        elif "@" not in email:
            problem = f"reviewer {row.reviewer_email!r} is not an email address"
            field_name = "reviewer"
        elif row.verdict not in verdicts:
            problem = f"verdict {row.verdict!r} is not on the scale ({', '.join(sorted(verdicts))})"
            field_name = "verdict"
        elif row.severity and row.severity not in severities:
            problem = f"severity {row.severity!r} is not on the scale"
            field_name = "severity"
        elif (key := (row.external_id, row.clause_key, email)) in seen:
            problem = f"same transcript, clause and reviewer as line {seen[key]}"
            field_name = ""
        if problem:
            summary.rejected.append({"line": row.line, "field": field_name, "message": problem})
            continue
        seen[(row.external_id, row.clause_key, email)] = row.line
        row.reviewer_email = email
        good.append(row)
    if summary.rejected and not valid_rows:
        raise LabelImportRejected(summary)
    with transaction.atomic():
        _apply_import(campaign, good, transcripts, clauses, summary, actor)
        audit.record(
            verb="labels.import",
            actor=actor,
            workspace=workspace,
            target=campaign,
            summary=f"{summary.created} created, {summary.duplicates} duplicates, "
            f"{len(summary.rejected)} rejected",
            data=summary.as_dict() | {"errors": summary.rejected[:50]},
        )
    summary.applied = True
    return summary


def _apply_import(
    campaign: Campaign,
    rows: list[LabelRow],
    transcripts: dict[str, int],
    clauses: dict[str, int],
    summary: LabelImportSummary,
    actor: User | None,
) -> None:
    workspace = campaign.workspace
    emails = sorted({row.reviewer_email for row in rows})
    users = {user.email.lower(): user for user in User.objects.filter(email__in=emails)}
    for email in emails:
        if email not in users:
            user = User.objects.create_user(email=email, password=None, is_active=False)
            users[email] = user
            summary.users_created.append(email)
    members = set(
        Membership.objects.filter(workspace=workspace, user__in=users.values()).values_list(
            "user_id", flat=True
        )
    )
    for email, user in users.items():
        if user.pk not in members:
            Membership.objects.create(workspace=workspace, user=user, role=Role.REVIEWER)
            summary.memberships_created.append(email)
    CampaignReviewer.objects.bulk_create(
        [CampaignReviewer(campaign=campaign, user=user) for user in users.values()],
        ignore_conflicts=True,
    )
    # Items for transcripts not yet in the campaign, appended after the last position.
    items = dict(
        Item.objects.filter(
            campaign=campaign, transcript_id__in=set(transcripts.values())
        ).values_list("transcript_id", "id")
    )
    needed = sorted({transcripts[row.external_id] for row in rows} - set(items))
    if needed:
        last = Item.objects.filter(campaign=campaign).order_by("-position").first()
        start = last.position + 1 if last else 0
        created = Item.objects.bulk_create(
            Item(
                campaign=campaign,
                transcript_id=pk,
                position=start + i,
                open_slots=campaign.reviewers_per_item,
            )
            for i, pk in enumerate(needed)
        )
        items.update({item.transcript_id: item.pk for item in created})
        summary.items_created = len(created)
        Campaign.objects.filter(pk=campaign.pk).update(item_count=F("item_count") + len(created))
    # One assignment per (item, reviewer); imported work counts as submitted.
    pairs = {(items[transcripts[row.external_id]], users[row.reviewer_email].pk) for row in rows}
    existing = {
        (a.item_id, a.reviewer_id): a
        for a in Assignment.objects.filter(item_id__in={p[0] for p in pairs})
    }
    now = timezone.now()
    new_assignments = [
        Assignment(
            item_id=item_id,
            reviewer_id=user_id,
            status=Assignment.Status.SUBMITTED,
            submitted_at=now,
        )
        for item_id, user_id in sorted(pairs - set(existing))
    ]
    Assignment.objects.bulk_create(new_assignments)
    existing.update({(a.item_id, a.reviewer_id): a for a in new_assignments})
    current = {
        (label.item_id, label.reviewer_id, label.clause_id): label
        for label in Label.objects.filter(item_id__in={p[0] for p in pairs})
    }
    new_labels = []
    for row in rows:
        item_id = items[transcripts[row.external_id]]
        user_id = users[row.reviewer_email].pk
        clause_id = clauses[row.clause_key]
        found = current.get((item_id, user_id, clause_id))
        if found is not None:
            same = (found.verdict, found.severity, found.rationale) == (
                row.verdict,
                row.severity,
                row.rationale,
            )
            if same:
                summary.duplicates += 1
            else:
                summary.rejected.append(
                    {
                        "line": row.line,
                        "field": "",
                        "message": "a different label by this reviewer already exists",
                    }
                )
            continue
        new_labels.append(
            Label(
                item_id=item_id,
                reviewer_id=user_id,
                clause_id=clause_id,
                assignment=existing[(item_id, user_id)],
                verdict=row.verdict,
                severity=row.severity,
                rationale=row.rationale,
                status=Label.Status.SUBMITTED,
                created_at=now,
                updated_at=now,
            )
        )
    Label.objects.bulk_create(new_labels, batch_size=2000)
    summary.created = len(new_labels)
    audit.record_many(
        [
            AuditEvent(
                verb="label.import",
                actor=actor,
                workspace=workspace,
                target_type="reviews.label",
                target_id=str(label.pk),
                summary=f"item {label.item_id} clause {label.clause_id}: {label.verdict}",
                data={"before": None, "after": _fields(label)},
            )
            for label in new_labels
        ]
    )
    # Items that reached k submissions through the import settle their state.
    _settle_items({item_id for item_id, _ in pairs}, campaign)


def _settle_items(item_ids: set[int], campaign: Campaign) -> None:
    """Recount submissions on imported items; set agreed/disputed where k is reached."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE reviews_item i SET
                submitted_count = s.n,
                open_slots = GREATEST(0, %s - s.held),
                state = CASE
                    WHEN i.state <> 'open' OR s.n < %s THEN i.state
                    WHEN EXISTS (
                        SELECT 1 FROM reviews_label l
                        WHERE l.item_id = i.id AND l.status = 'submitted'
                        GROUP BY l.clause_id HAVING COUNT(DISTINCT l.verdict) > 1
                    ) THEN 'disputed' ELSE 'agreed' END
            FROM (
                SELECT item_id,
                       COUNT(*) FILTER (WHERE status = 'submitted') AS n,
                       COUNT(*) FILTER (WHERE status <> 'skipped') AS held
                FROM reviews_assignment WHERE item_id = ANY(%s) GROUP BY item_id
            ) s
            WHERE i.id = s.item_id
            """,
            [campaign.reviewers_per_item, campaign.reviewers_per_item, list(item_ids)],
        )
