"""Writing audit events. Services call ``record``; nothing else writes AuditEvent rows."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django.db import models

from clausebook.models import AuditEvent, User, Workspace

current_request_id: ContextVar[str] = ContextVar("current_request_id", default="")


def record(
    *,
    verb: str,
    actor: User | None,
    workspace: Workspace | None,
    target: models.Model | None = None,
    summary: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event. Call inside the service's transaction so both commit together."""
    return AuditEvent.objects.create(
        verb=verb,
        actor=actor if actor is not None and actor.is_authenticated else None,
        workspace=workspace,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        summary=summary[:300],
        data=data or {},
        request_id=current_request_id.get(),
    )


def record_many(events: list[AuditEvent]) -> None:
    """Bulk variant for imports: one INSERT for many events."""
    request_id = current_request_id.get()
    for event in events:
        event.request_id = event.request_id or request_id
    AuditEvent.objects.bulk_create(events, batch_size=2000)
