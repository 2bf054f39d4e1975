"""What every label write shares: the client's input, its validation, the assignment lock, and
the history row of each change.

Field limits live here once; the API serializers and the page's JSON contract derive theirs from
these constants.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from clausebook.models import User
from reviews.models import Assignment, Campaign, Item, Label, LabelRevision
from reviews.selectors.labels import campaign_scope
from specs.models import Clause

MAX_VALUE = 40  # a verdict or severity value (a scale slug)
MAX_RATIONALE = 20_000
MAX_SPANS = 100
MAX_SPAN_TEXT = 4_000
#: Labels in one save request: enough for every clause of a large scope.
MAX_LABELS_PER_REQUEST = 500

#: Fields a client may set on a label; ``None`` in a ``LabelInput`` leaves one as it is.
EDITABLE_FIELDS = ("verdict", "severity", "rationale", "spans")

ClauseRef = int | str


@dataclass(frozen=True)
class LabelInput:
    """One label as a client sends it (nothing else is ever read from a request).

    ``clause`` is the clause's id (a number) or its key (text), within the campaign's scope.
    A field left ``None`` keeps its stored value (a new label starts empty), so a partial update
    changes only what it names. ``revision`` is the revision the client last saw: ``None`` only
    for the first save of the label.
    """

    clause: ClauseRef
    verdict: str | None = None
    severity: str | None = None
    rationale: str | None = None
    spans: list[dict[str, Any]] | None = None
    revision: int | None = None

    def given(self) -> dict[str, Any]:
        """The editable fields this input sets."""
        return {
            name: getattr(self, name) for name in EDITABLE_FIELDS if getattr(self, name) is not None
        }


class LabelConflict(Exception):
    """A save on a stale revision (or racing a first save). ``conflicts`` lists each clause whose
    label changed since the client loaded it, with the label as it is now (None: no label);
    ``keys`` maps each of those clause ids to its key."""

    def __init__(
        self, conflicts: list[tuple[int, Label | None]], keys: dict[int, str] | None = None
    ) -> None:
        super().__init__("This label changed since you loaded it.")
        self.conflicts = conflicts
        self.keys = keys or {}

    @property
    def current(self) -> Label | None:
        return self.conflicts[0][1] if self.conflicts else None


def scale_values(scale: list[dict[str, str]]) -> set[str]:
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


_LOCK_SQL = """
    SELECT a.status, a.reviewer_id, c.status
    FROM reviews_assignment a JOIN reviews_campaign c ON c.id = a.campaign_id
    WHERE a.id = %s
    FOR NO KEY UPDATE OF a
"""


def lock_assignment(*, assignment: Assignment, reviewer: User) -> Assignment:
    """Lock the reviewer's assignment row for a label write and return the assignment with its
    item, campaign and transcript (messages left out): the caller's, when it loaded them, else
    read here. Call inside a transaction.

    The lock serialises every write of one reviewer on one item (two tabs, a double click, a
    save racing the submit), so a first save can never insert twice. It is FOR NO KEY UPDATE:
    the label rows inserted meanwhile only need a key share lock on it.
    """
    if not (Assignment.item.is_cached(assignment) and Item.campaign.is_cached(assignment.item)):
        assignment = (
            Assignment.objects.select_related("item__campaign__workspace", "item__transcript")
            .defer("item__transcript__messages", "item__transcript__metadata")
            .get(pk=assignment.pk)
        )
    # Lock the row and re-read what may have changed since the caller loaded it (the status,
    # the campaign's status); the item, transcript and campaign settings it loaded stay valid.
    # Raw SQL: this runs on every autosave, and the ORM's compile step would cost more than it.
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_SQL, [assignment.pk])
        row = cursor.fetchone()
    if row is None:
        raise PermissionDenied("This assignment no longer exists.")
    status, reviewer_id, campaign_status = row
    if reviewer_id != reviewer.pk:
        raise PermissionDenied("This is not your assignment.")
    assignment.status = status
    assignment.item.campaign.status = campaign_status
    return assignment


def require_open(campaign: Campaign) -> None:
    """Labels change only while a campaign is open."""
    if campaign.status == Campaign.Status.OPEN:
        return
    if campaign.status == Campaign.Status.CLOSED:
        raise ValidationError("This campaign is closed: its labels are final.")
    if campaign.status == Campaign.Status.PAUSED:
        raise ValidationError("This campaign is paused: labels cannot change until it resumes.")
    raise ValidationError("This campaign is not open yet.")


def resolve_clauses(campaign: Campaign, refs: Iterable[ClauseRef]) -> dict[ClauseRef, Clause]:
    """Each clause reference (id or key) → the clause, in the campaign's scope (its cached
    scope: one query the first time a process sees the campaign, none after).

    Raises ValidationError naming the first reference that is not in scope.
    """
    scope = campaign_scope(campaign.pk)
    return {ref: scope.resolve(ref) for ref in refs}


def merged_fields(
    *,
    campaign: Campaign,
    clause: Clause,
    data: LabelInput,
    current: Label | None,
    message_count: int,
    needs_verdict: bool,
) -> dict[str, Any]:
    """The label's editable fields after applying ``data`` to ``current`` (None: a new label),
    validated against the campaign's scales and the transcript. ``needs_verdict``: the label is
    (or becomes) submitted, so it may not be left without a verdict."""
    fields: dict[str, Any] = (
        {name: getattr(current, name) for name in EDITABLE_FIELDS}
        if current is not None
        else {"verdict": "", "severity": "", "rationale": "", "spans": []}
    )
    given = data.given()
    where = f"{clause.key}: "
    verdict = given.get("verdict")
    if verdict and verdict not in scale_values(campaign.verdict_scale):
        raise ValidationError({"verdict": f"{where}{verdict!r} is not on this campaign's scale."})
    severity = given.get("severity")
    if severity and severity not in scale_values(campaign.severity_scale):
        raise ValidationError({"severity": f"{where}{severity!r} is not a severity here."})
    if len(given.get("rationale") or "") > MAX_RATIONALE:
        raise ValidationError({"rationale": f"{where}at most {MAX_RATIONALE} characters."})
    if "spans" in given:
        try:
            given["spans"] = clean_spans(given["spans"], message_count)
        except ValidationError as error:
            raise ValidationError({"spans": [where + m for m in error.messages]}) from None
    fields.update(given)
    if needs_verdict and not fields["verdict"]:
        raise ValidationError({"verdict": f"{where}a submitted label needs a verdict."})
    return fields


def history_row(
    label: Label,
    *,
    kind: str,
    actor: User | None,
    before: dict[str, Any] | None,
    when: datetime,
) -> LabelRevision:
    """The history row of one change to ``label`` (already holding its new state and revision).
    Callers insert it in the transaction of the change (``bulk_create`` for many)."""
    return LabelRevision(
        label_id=label.pk,
        revision=label.revision,
        kind=kind,
        changed_by=actor,
        changed_at=when,
        before=before or {},
        after=label.snapshot(),
    )


# History rows, many per statement. Raw: every save and submit writes them, and building the
# ORM's bulk insert costs more than running it.
_HISTORY_SQL = """
    INSERT INTO reviews_labelrevision
        (label_id, revision, kind, changed_by_id, changed_at, before, after)
    SELECT u.label_id, u.revision, u.kind, u.changed_by_id, u.changed_at, u.before::jsonb,
           u.after::jsonb
    FROM unnest(%s::bigint[], %s::int[], %s::text[], %s::bigint[], %s::timestamptz[], %s::text[],
                %s::text[]) AS u(label_id, revision, kind, changed_by_id, changed_at, before, after)
"""
_HISTORY_BATCH = 2000


def record_history(rows: Sequence[LabelRevision]) -> None:
    """Insert history rows (from ``history_row``), in as few statements as the batch allows."""
    for start in range(0, len(rows), _HISTORY_BATCH):
        batch = rows[start : start + _HISTORY_BATCH]
        with connection.cursor() as cursor:
            cursor.execute(
                _HISTORY_SQL,
                [
                    [row.label_id for row in batch],
                    [row.revision for row in batch],
                    [row.kind for row in batch],
                    [row.changed_by_id for row in batch],
                    [row.changed_at for row in batch],
                    [json.dumps(row.before) for row in batch],
                    [json.dumps(row.after) for row in batch],
                ],
            )
