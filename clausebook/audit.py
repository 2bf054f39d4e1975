"""Writing audit events. Services call ``record``; nothing else writes AuditEvent rows.

A service that records several events in one transaction (a label save: one event per label,
the gold agreement made, the submit) wraps its work in :func:`batched`: the events recorded
inside are inserted together, in one statement, when the block ends without an error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import connection, models

from clausebook.models import AuditEvent, User, Workspace

current_request_id: ContextVar[str] = ContextVar("current_request_id", default="")
# The events of the innermost ``batched`` block, waiting for its end (None: write at once).
_pending: ContextVar[list[AuditEvent] | None] = ContextVar("audit_pending", default=None)


def record(
    *,
    verb: str,
    actor: User | None,
    workspace: Workspace | None,
    target: models.Model | None = None,
    summary: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event. Call inside the service's transaction so both commit together.
    Inside a :func:`batched` block the event is written at the block's end (its ``pk`` is unset
    until then)."""
    event = AuditEvent(
        verb=verb,
        actor=actor if actor is not None and actor.is_authenticated else None,
        workspace=workspace,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        summary=summary[:300],
        data=data or {},
        request_id=current_request_id.get(),
    )
    pending = _pending.get()
    if pending is not None:
        pending.append(event)
    else:
        _insert([event])
    return event


def record_many(events: list[AuditEvent]) -> None:
    """Bulk variant for imports: one INSERT for many events (joined to the enclosing
    :func:`batched` block, if any)."""
    request_id = current_request_id.get()
    for event in events:
        event.request_id = event.request_id or request_id
    pending = _pending.get()
    if pending is not None:
        pending.extend(events)
    elif events:
        AuditEvent.objects.bulk_create(events, batch_size=2000)


@contextmanager
def batched() -> Iterator[None]:
    """Collect the events recorded inside the block and insert them in one statement when it
    ends; an error leaving the block discards them (its transaction rolls back anyway). Use it
    inside the transaction, around work whose failures propagate out of the block: an error
    caught inside it would not take back the events recorded before it. A nested block joins
    the outer one."""
    if _pending.get() is not None:
        yield
        return
    events: list[AuditEvent] = []
    token = _pending.set(events)
    try:
        yield
    finally:
        _pending.reset(token)
    if events:
        _insert(events)


_BATCH = 2000
_COLUMNS = ("workspace_id", "actor_id", "verb", "target_type", "target_id", "summary", "data",
            "request_id", "created_at")  # fmt: skip
# What ``bulk_create`` sends (one INSERT ... SELECT FROM unnest, ids back in order), written
# out: every labeling request writes events, and building the ORM's statement cost more than
# running it.
_INSERT_SQL = f"""
    INSERT INTO {AuditEvent._meta.db_table} ({", ".join(_COLUMNS)})
    SELECT u.workspace_id, u.actor_id, u.verb, u.target_type, u.target_id, u.summary,
           u.data::jsonb, u.request_id, u.created_at
    FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[],
                %s::text[], %s::text[], %s::timestamptz[])
        AS u({", ".join(_COLUMNS)})
    RETURNING id
"""  # noqa: S608 - the model's own table and columns


def _insert(events: list[AuditEvent]) -> None:
    """Insert ``events`` and set their ids, as ``bulk_create`` would."""
    for start in range(0, len(events), _BATCH):
        batch = events[start : start + _BATCH]
        with connection.cursor() as cursor:
            cursor.execute(
                _INSERT_SQL,
                [
                    [event.workspace_id for event in batch],
                    [event.actor_id for event in batch],
                    [event.verb for event in batch],
                    [event.target_type for event in batch],
                    [event.target_id for event in batch],
                    [event.summary for event in batch],
                    [json.dumps(event.data) for event in batch],
                    [event.request_id for event in batch],
                    [event.created_at for event in batch],
                ],
            )
            for event, (pk,) in zip(batch, cursor.fetchall(), strict=True):
                event.pk = pk
                event._state.adding = False
                event._state.db = connection.alias
