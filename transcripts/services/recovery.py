"""What happens to imports that did not finish: a person's retry, and the periodic sweep.

:func:`transcript_import_retry` queues a failed import again from its kept upload (the page's
Retry button and the API call it). :func:`transcript_import_sweep` runs every minute from Celery
beat (task ``transcripts.sweep_imports``) and

* re-queues a running import whose lease ran out (its worker died) for another run, up to
  ``CLAUSEBOOK_IMPORT_MAX_ATTEMPTS`` runs, then fails it saying why;
* enqueues again a queued import no worker claimed in time (the broker may have lost the
  message), and fails it once it has waited longer than the upload is kept;
* removes the upload of a failed import nobody retried within ``CLAUSEBOOK_IMPORT_KEEP_UPLOAD_DAYS``,
  and upload files no import refers to (left by a crash between storing and recording one).

Every state change is a conditional UPDATE on what the sweep saw, so a worker's heartbeat, a
claim, a retry or a second sweep racing with it wins cleanly: each change happens once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clausebook import audit
from clausebook.models import User
from transcripts.importing.lease import lease_until, max_attempts, upload_retention
from transcripts.models import TranscriptImport
from transcripts.services.imports import upload_dir

__all__ = [
    "ImportNotRetryable",
    "SweepReport",
    "transcript_import_retry",
    "transcript_import_sweep",
]

logger = logging.getLogger(__name__)

Status = TranscriptImport.Status
Failure = TranscriptImport.Failure
#: Imports looked at per kind and sweep; the next sweep takes the rest.
SWEEP_BATCH = 200
#: A run starts from the beginning: counters of an earlier run are cleared with its result.
_FRESH = {
    "bytes_read": 0,
    "rows_seen": 0,
    "created_count": 0,
    "duplicate_count": 0,
    "rejected_count": 0,
    "skipped_count": 0,
    "scenario_count": 0,
    "errors": [],
    "error_message": "",
    "failure": "",
    "started_at": None,
    "finished_at": None,
}


def _enqueue(import_id: int) -> None:
    from transcripts.tasks import run_transcript_import

    # On commit: the worker must find the row as queued, never before the change lands.
    run_transcript_import.delay_on_commit(import_id)


# --------------------------------------------------------------------------------------------------
# A person's retry
# --------------------------------------------------------------------------------------------------


class ImportNotRetryable(Exception):
    """The import cannot be retried as asked; ``str()`` says why and what to do instead."""

    def __init__(self, message: str, import_run: TranscriptImport) -> None:
        super().__init__(message)
        self.import_run = import_run


def _why_not_retryable(import_run: TranscriptImport, mode: str) -> str:
    if import_run.status == Status.SUCCEEDED:
        return f"Import #{import_run.pk} succeeded; there is nothing to retry."
    if import_run.status != Status.FAILED:
        return f"Import #{import_run.pk} is {import_run.get_status_display().lower()}; wait for it."
    if not import_run.stored_path:
        return (
            f"The upload of import #{import_run.pk} is no longer kept (uploads are kept "
            f"{upload_retention().days} days after a failure); upload the file again."
        )
    if import_run.failure == Failure.FORMAT:
        return (
            "The file could not be read; a retry would fail the same way. Fix the file and "
            "upload it again."
        )
    if import_run.failure == Failure.REJECTED:
        return (
            "Rows were rejected; a retry would reject them again. Fix the file and upload it "
            "again, or retry importing the valid rows only."
        )
    return f"Import #{import_run.pk} cannot be retried."  # pragma: no cover - every kind is above


def transcript_import_retry(
    *, import_run: TranscriptImport, actor: User | None, mode: str = ""
) -> TranscriptImport:
    """Queue a failed import again from its kept upload; return it (queued, attempts reset).

    Retries an import that stopped (its worker died too often) or met an unexpected error; with
    ``mode="valid_rows"``, also one that refused its rows all-or-nothing, now importing the
    valid rows only. The caller has checked the actor's right to import (``transcripts.access``).
    Raises ``ValidationError`` (``mode``) for an unknown mode and :class:`ImportNotRetryable`
    when the import is not failed in a retryable way or its upload is gone (a second click
    included: only one retry queues it). Audited; the run is enqueued on commit.
    """
    if mode and mode not in TranscriptImport.Mode.values:
        raise ValidationError(
            {"mode": f"Unknown mode {mode!r}; one of {', '.join(TranscriptImport.Mode)}."}
        )
    retryable = Q(failure__in=[Failure.STOPPED, Failure.ERROR])
    if mode == TranscriptImport.Mode.VALID_ROWS:
        retryable |= Q(failure=Failure.REJECTED)
    with transaction.atomic():
        updated = (
            TranscriptImport.objects.filter(
                retryable, pk=import_run.pk, workspace_id=import_run.workspace_id
            )
            .filter(status=Status.FAILED)
            .exclude(stored_path="")
            .update(
                **_FRESH,
                status=Status.QUEUED,
                mode=mode or import_run.mode,
                attempts=0,
                lease_expires_at=lease_until(),
            )
        )
        import_run.refresh_from_db()
        if not updated:
            raise ImportNotRetryable(_why_not_retryable(import_run, mode), import_run)
        audit.record(
            verb="transcript_import.retry",
            actor=actor,
            workspace=import_run.workspace,
            target=import_run,
            summary=f"Retried import #{import_run.pk} of {import_run.filename or 'a file'}"
            + (" (valid rows only)" if mode == TranscriptImport.Mode.VALID_ROWS else ""),
            data={"mode": import_run.mode},
        )
        _enqueue(import_run.pk)
    return import_run


# --------------------------------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------------------------------


@dataclass
class SweepReport:
    """What one sweep did, by import id."""

    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    reenqueued: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    uploads_removed: list[int] = field(default_factory=list)
    orphans_removed: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "requeued": len(self.requeued),
            "failed": len(self.failed),
            "reenqueued": len(self.reenqueued),
            "expired": len(self.expired),
            "uploads_removed": len(self.uploads_removed),
            "orphans_removed": self.orphans_removed,
        }


def _lapsed(now: datetime) -> Q:
    # No lease at all: a row from before leases existed; nobody renews it either.
    return Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True)


def _fail(
    run: TranscriptImport, seen: Q, *, failure: str, message: str, now: datetime, verb_data: dict
) -> bool:
    """Fail ``run`` if it is still as the sweep saw it (``seen``); audited."""
    with transaction.atomic():
        updated = TranscriptImport.objects.filter(seen, pk=run.pk).update(
            status=Status.FAILED,
            failure=failure,
            error_message=message,
            finished_at=now,
            lease_expires_at=None,
            # Whatever the dead run had counted rolled back with its transaction.
            created_count=0,
            duplicate_count=0,
            scenario_count=0,
        )
        if updated:
            audit.record(
                verb="transcript_import.fail",
                actor=None,
                workspace=run.workspace,
                target=run,
                summary=message,
                data={"failure": failure, **verb_data},
            )
    return bool(updated)


def _recover_running(run: TranscriptImport, now: datetime, report: SweepReport) -> None:
    """A running import whose lease ran out: its worker is gone. Run it again, or fail it."""
    seen = Q(status=Status.RUNNING, attempts=run.attempts) & _lapsed(now)
    limit = max_attempts()
    if run.stored_path and run.attempts < limit:
        with transaction.atomic():
            updated = TranscriptImport.objects.filter(seen, pk=run.pk).update(
                **_FRESH, status=Status.QUEUED, lease_expires_at=lease_until(now)
            )
            if updated:
                audit.record(
                    verb="transcript_import.requeue",
                    actor=None,
                    workspace=run.workspace,
                    target=run,
                    summary=f"Import #{run.pk} stopped responding; queued again "
                    f"(run {run.attempts + 1} of {limit})",
                    data={"attempts": run.attempts},
                )
                _enqueue(run.pk)
                report.requeued.append(run.pk)
        return
    if run.stored_path:
        runs = f"{run.attempts} time{'s' if run.attempts != 1 else ''}"
        message = (
            f"The import stopped before it finished, {runs}: the worker running it stopped "
            "responding (it may have been restarted or run out of memory). Nothing was "
            "imported. Retry it, or split the file into smaller ones."
        )
    else:
        # Run in process by the CLI from a local file: nothing here can run it again.
        message = (
            "The process running this import stopped before it finished (it may have been "
            "killed or run out of memory). Nothing was imported. Run the import again."
        )
    if _fail(
        run,
        seen,
        failure=Failure.STOPPED,
        message=message,
        now=now,
        verb_data={"attempts": run.attempts},
    ):
        report.failed.append(run.pk)


def _recover_queued(run: TranscriptImport, now: datetime, report: SweepReport) -> None:
    """A queued import no worker claimed in time: enqueue it again, or give up on it."""
    seen = Q(status=Status.QUEUED, lease_expires_at=run.lease_expires_at)
    if run.lease_expires_at is None:
        seen = Q(status=Status.QUEUED, lease_expires_at__isnull=True)
    if run.stored_path and run.created_at >= now - upload_retention():
        # The message may be lost (a worker killed after taking it) or just waiting behind
        # others; a second message is harmless (only one claim succeeds).
        with transaction.atomic():
            if TranscriptImport.objects.filter(seen, pk=run.pk).update(
                lease_expires_at=lease_until(now)
            ):
                _enqueue(run.pk)
                report.reenqueued.append(run.pk)
        return
    if run.stored_path:
        message = (
            f"No worker started this import within {upload_retention().days} days, so its "
            "upload was removed. Check that a worker is running, then upload the file again."
        )
        failure = Failure.EXPIRED
    else:
        message = (
            "The process that created this import stopped before it started. Nothing was "
            "imported. Run the import again."
        )
        failure = Failure.STOPPED
    if _fail(run, seen, failure=failure, message=message, now=now, verb_data={}):
        report.failed.append(run.pk)
        if failure == Failure.EXPIRED:
            report.expired.append(run.pk)
            _remove_upload(run, Q(status=Status.FAILED), reason="expired", report=report)


def _remove_upload(run: TranscriptImport, seen: Q, *, reason: str, report: SweepReport) -> None:
    """Forget and delete ``run``'s upload if the row still points at it."""
    path = run.stored_path
    with transaction.atomic():
        if not TranscriptImport.objects.filter(seen, pk=run.pk, stored_path=path).update(
            stored_path=""
        ):
            return
        audit.record(
            verb="transcript_import.upload_remove",
            actor=None,
            workspace=run.workspace,
            target=run,
            summary=f"Removed the upload of import #{run.pk} ({reason})",
            data={"reason": reason},
        )
    Path(path).unlink(missing_ok=True)
    report.uploads_removed.append(run.pk)


def _remove_orphans(now: datetime) -> int:
    """Delete upload files older than the retention that no import refers to."""
    directory = upload_dir()
    cutoff = (now - upload_retention()).timestamp()
    referenced = set(
        TranscriptImport.objects.exclude(stored_path="").values_list("stored_path", flat=True)
    )
    removed = 0
    for path in directory.iterdir():
        try:
            # Fresh files may be an upload being stored right now, before its row exists.
            if not path.is_file() or path.stat().st_mtime >= cutoff:
                continue
        except FileNotFoundError:
            continue
        if str(path) in referenced:
            continue
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def transcript_import_sweep(*, now: datetime | None = None) -> SweepReport:
    """Recover imports that did not finish and remove uploads nobody needs; see the module.

    ``now`` (default: the current time) is the moment the sweep judges leases and retention
    against. Safe to run concurrently with workers, retries and other sweeps.
    """
    now = now or timezone.now()
    started = time.monotonic()
    report = SweepReport()
    imports = TranscriptImport.objects.select_related("workspace").defer("errors")
    for run in imports.filter(_lapsed(now), status=Status.RUNNING).order_by("id")[:SWEEP_BATCH]:
        _recover_running(run, now, report)
    for run in imports.filter(_lapsed(now), status=Status.QUEUED).order_by("id")[:SWEEP_BATCH]:
        _recover_queued(run, now, report)
    abandoned = (
        imports.filter(status=Status.FAILED, finished_at__lt=now - upload_retention())
        .exclude(stored_path="")
        .order_by("id")[:SWEEP_BATCH]
    )
    for run in abandoned:
        _remove_upload(run, Q(status=Status.FAILED), reason="not retried in time", report=report)
    report.orphans_removed = _remove_orphans(now)
    if any(report.counts().values()):
        logger.info("import sweep: %s in %.2f s", report.counts(), time.monotonic() - started)
    return report
