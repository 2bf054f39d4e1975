"""Writing audit events. Services call ``record``; nothing else writes AuditEvent rows.

A service that records several events in one transaction (a label save: one event per label,
the gold agreement made, the submit) wraps its work in :func:`batched`: the events recorded
inside are inserted together, in one statement, when the block ends without an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import models

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
        event.save(force_insert=True)
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
        AuditEvent.objects.bulk_create(events, batch_size=2000)
