"""Creating, claiming and running bulk imports.

These are the entrances; the page, the API, the CLI, the Celery task and the demo all call them.
An import is two steps. :func:`transcript_import_create` stores the upload under a
server-generated name and records a queued :class:`~transcripts.models.TranscriptImport` (or
returns the earlier import with the same idempotency key: the one place that key is checked);
the Celery task (or the CLI, in process) then claims it and calls :func:`transcript_import_run`,
which streams the file through the readers (:mod:`transcripts.formats`) into the engine
(:mod:`transcripts.importing`): all transcripts of one import are written in ONE transaction, so
in ``all_or_nothing`` mode any rejected row rolls the whole import back, and in ``valid_rows``
mode the rejected rows are reported and the rest commit.

A claimed import is held under a lease (:mod:`transcripts.importing.lease`): the claim sets it,
a heartbeat renews it while the import runs, and the final write commits only while this run
still holds the claim. What happens to imports whose worker died is in
:mod:`transcripts.services.recovery`.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from clausebook import audit
from clausebook.models import User, Workspace
from transcripts.formats import FORMATS, FormatError, ImportLimits, ImportStats
from transcripts.formats.limits import (
    MAX_FILENAME,
    MAX_ID_PREFIX,
    MAX_IDEMPOTENCY_KEY,
    MAX_IMPORT_TAGS,
    MAX_SOURCE,
    MAX_TAG,
)
from transcripts.importing.lease import Heartbeat, lease_until, max_attempts
from transcripts.importing.progress import (
    Counters,
    CountingReader,
    ProgressCallback,
    ProgressPublisher,
    progress_connection,
)
from transcripts.importing.uploads import StoredUpload
from transcripts.importing.writer import Abort, Writer, load
from transcripts.models import TranscriptImport

__all__ = [
    "ImportTooLarge",
    "ProgressCallback",
    "clean_tags",
    "import_limits",
    "max_upload_bytes",
    "transcript_import_claim",
    "transcript_import_create",
    "transcript_import_path",
    "transcript_import_run",
]

logger = logging.getLogger(__name__)

_CHUNK = 1024 * 1024
Status = TranscriptImport.Status
Failure = TranscriptImport.Failure

#: What the final write of a run sets (the fields a run computes), written only by the claim's
#: holder.
RESULT_FIELDS = (
    "format",
    "rows_seen",
    "bytes_read",
    "size_bytes",
    "created_count",
    "duplicate_count",
    "rejected_count",
    "skipped_count",
    "scenario_count",
    "errors",
    "error_message",
    "failure",
    "status",
    "stored_path",
    "started_at",
    "finished_at",
    "lease_expires_at",
)


class LeaseLost(Exception):
    """Another run took this import over (our lease had run out): our result must not commit."""


class ImportTooLarge(ValidationError):
    """The upload is over ``CLAUSEBOOK_MAX_UPLOAD_BYTES``; raised before anything is stored."""


def import_limits() -> ImportLimits:
    """Parser limits: the defaults, overridden by ``settings.CLAUSEBOOK_IMPORT_LIMITS`` (a dict)."""
    overrides = getattr(settings, "CLAUSEBOOK_IMPORT_LIMITS", None) or {}
    return ImportLimits(**overrides)


def max_upload_bytes() -> int:
    return int(getattr(settings, "CLAUSEBOOK_MAX_UPLOAD_BYTES", 512 * 1024 * 1024))


def upload_dir() -> Path:
    path = Path(settings.UPLOAD_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def clean_tags(tags: Iterable[str]) -> list[str]:
    """Strip, drop empties and duplicates (order kept); refuse a tag over ``MAX_TAG`` characters
    and more than ``MAX_IMPORT_TAGS`` tags (``ValidationError`` on ``tags``)."""
    out: list[str] = []
    for tag in tags:
        tag = tag.strip()
        if not tag or tag in out:
            continue
        if len(tag) > MAX_TAG:
            raise ValidationError(
                {"tags": f"Tag “{tag[:20]}…” is longer than {MAX_TAG} characters."}
            )
        out.append(tag)
    if len(out) > MAX_IMPORT_TAGS:
        raise ValidationError({"tags": f"At most {MAX_IMPORT_TAGS} tags per import."})
    return out


def _check_options(
    *, format: str, mode: str, source: str, id_prefix: str, idempotency_key: str
) -> None:
    """Refuse options the import cannot honour, naming the option (``ValidationError`` dict)."""
    problems: dict[str, str] = {}
    if format and format not in FORMATS:
        problems["format"] = f"Unknown format {format!r}; one of {', '.join(FORMATS)}."
    if mode not in TranscriptImport.Mode.values:
        problems["mode"] = f"Unknown mode {mode!r}; one of {', '.join(TranscriptImport.Mode)}."
    if len(source) > MAX_SOURCE:
        problems["source"] = f"The source is longer than {MAX_SOURCE} characters."
    if len(id_prefix) > MAX_ID_PREFIX:
        problems["id_prefix"] = f"The id prefix is longer than {MAX_ID_PREFIX} characters."
    if len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
        problems["idempotency_key"] = (
            f"The idempotency key is longer than {MAX_IDEMPOTENCY_KEY} characters."
        )
    if problems:
        raise ValidationError(problems)


def _store_upload(upload: IO[bytes] | Any) -> tuple[str, int]:
    """Copy ``upload`` to ``UPLOAD_DIR/<uuid>`` in chunks, capping its size (T18, T21).

    The client's file name never reaches the file system: the stored name is a fresh UUID. A
    :class:`~transcripts.importing.uploads.StoredUpload` (the API streamed it there) is adopted.
    """
    limit = max_upload_bytes()
    if isinstance(upload, StoredUpload):
        # Streamed into the upload folder while the request arrived: adopted, not copied again.
        if upload.size is None or upload.size > limit:
            upload.discard()
            raise ImportTooLarge(f"The file is larger than the upload limit of {limit:,} bytes.")
        return upload.adopt(), upload.size
    path = upload_dir() / uuid.uuid4().hex
    size = 0
    chunks = (
        upload.chunks(_CHUNK)
        if hasattr(upload, "chunks")
        else iter(lambda: upload.read(_CHUNK), b"")
    )
    try:
        with open(path, "xb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise ImportTooLarge(
                        f"The file is larger than the upload limit of {limit:,} bytes."
                    )
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return str(path), size


def _import_with_key(workspace: Workspace, idempotency_key: str) -> TranscriptImport | None:
    return TranscriptImport.objects.filter(
        workspace=workspace, idempotency_key=idempotency_key
    ).first()


def transcript_import_create(
    *,
    workspace: Workspace,
    actor: User | None,
    upload: IO[bytes] | Any | None,
    filename: str,
    format: str = "",
    source: str = "",
    tags: Iterable[str] = (),
    id_prefix: str = "",
    mode: str = TranscriptImport.Mode.ALL_OR_NOTHING,
    idempotency_key: str = "",
    size_bytes: int = 0,
    enqueue: bool = True,
) -> tuple[TranscriptImport, bool]:
    """Record a queued import of ``upload`` and (with ``enqueue``) run it on a worker after commit.

    Returns ``(import, created)``. With an ``idempotency_key`` already used in the workspace, the
    original import is returned unchanged and nothing is stored or enqueued (T22); that holds for
    two requests racing with the same key too (the database's unique constraint decides, and the
    loser gets the winner's import). ``upload`` (a Django ``UploadedFile`` or a binary stream) is
    stored under a UUID name; pass ``None`` only with ``enqueue=False`` when the caller streams the
    file to :func:`transcript_import_run` itself (the CLI), giving ``size_bytes``. Raises
    :class:`ImportTooLarge`, or ``ValidationError`` keyed by the option that is wrong.
    """
    idempotency_key = idempotency_key.strip()
    if idempotency_key:
        existing = _import_with_key(workspace, idempotency_key)
        if existing is not None:
            return existing, False
    _check_options(
        format=format,
        mode=mode,
        source=source,
        id_prefix=id_prefix,
        idempotency_key=idempotency_key,
    )
    tags = clean_tags(tags)
    if upload is None and enqueue:
        raise ValueError("an enqueued import needs its upload stored")
    stored_path = ""
    if upload is not None:
        stored_path, size_bytes = _store_upload(upload)
    try:
        with transaction.atomic():
            import_run = TranscriptImport.objects.create(
                workspace=workspace,
                created_by=actor if actor is not None and actor.is_authenticated else None,
                format=format,
                filename=os.path.basename(filename)[:MAX_FILENAME],
                stored_path=stored_path,
                size_bytes=size_bytes,
                source=source,
                tags=tags,
                id_prefix=id_prefix,
                mode=mode,
                idempotency_key=idempotency_key,
                # While queued, the lease is the time by which a worker should have claimed it;
                # past it, the sweep enqueues it again (the broker may have lost the message).
                lease_expires_at=lease_until(),
            )
            audit.record(
                verb="transcript_import.create",
                actor=actor,
                workspace=workspace,
                target=import_run,
                summary=f"Queued import of {import_run.filename or 'a file'}",
                data={"format": format or "auto", "mode": mode, "size_bytes": size_bytes},
            )
            if enqueue:
                from transcripts.tasks import run_transcript_import

                # On commit: a worker must never look for a row that a rollback took away (T33).
                run_transcript_import.delay_on_commit(import_run.pk)
    except IntegrityError:
        if stored_path:
            Path(stored_path).unlink(missing_ok=True)
        # The same key committed by a concurrent request between our check and our insert.
        existing = _import_with_key(workspace, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return existing, False
    return import_run, True


def transcript_import_claim(*, import_id: int) -> TranscriptImport | None:
    """Move an import to running under a fresh lease, atomically; None if someone else holds it.

    Takes a queued import, or a running one whose lease ran out (its worker died: a redelivered
    message may take it over) unless it has had its :func:`~transcripts.importing.lease.max_attempts`
    runs, which the sweep then fails. One conditional UPDATE, so two workers handed the same task
    cannot both run it; each claim increments ``attempts``, the run's fencing token.
    """
    now = timezone.now()
    lapsed = Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True)
    claimable = Q(status=Status.QUEUED) | (
        Q(status=Status.RUNNING, attempts__lt=max_attempts()) & lapsed
    )
    claimed = TranscriptImport.objects.filter(claimable, pk=import_id).update(
        status=Status.RUNNING,
        started_at=now,
        lease_expires_at=lease_until(now),
        attempts=F("attempts") + 1,
        # A taken-over run starts from the beginning: the bar must not show the dead run's.
        bytes_read=0,
        rows_seen=0,
        created_count=0,
        duplicate_count=0,
        rejected_count=0,
        scenario_count=0,
    )
    if not claimed:
        return None
    return TranscriptImport.objects.select_related("workspace", "created_by").get(pk=import_id)


def _save_result(import_run: TranscriptImport) -> bool:
    """Write the run's result if this run still holds the claim (same ``attempts``, running)."""
    return bool(
        TranscriptImport.objects.filter(
            pk=import_run.pk, status=Status.RUNNING, attempts=import_run.attempts
        ).update(**{name: getattr(import_run, name) for name in RESULT_FIELDS})
    )


def import_summary(*, created: int, scenarios: int, duplicates: int, filename: str) -> str:
    """The audit line of a finished import: what it added, transcripts and scenarios alike."""

    def count(n: int, noun: str) -> str:
        return f"{n:,} {noun}{'' if n == 1 else 's'}"

    parts = []
    if created or not scenarios:
        parts.append(count(created, "transcript"))
    if scenarios:
        parts.append(count(scenarios, "scenario"))
    summary = f"Imported {' and '.join(parts)} from {filename or 'a file'}"
    if duplicates:
        summary += f" ({count(duplicates, 'duplicate')} skipped)"
    return summary


def _unexpected_failure(error: BaseException, import_run: TranscriptImport) -> str:
    """What the page says about an error nobody planned for: no traceback, a way forward."""
    # Here, not at the top: celery.exceptions loads billiard, which no web process needs.
    from celery.exceptions import SoftTimeLimitExceeded

    if isinstance(error, SoftTimeLimitExceeded):
        limit = int(getattr(settings, "CELERY_TASK_SOFT_TIME_LIMIT", 0)) // 60
        return (
            f"The import took longer than the {limit}-minute limit and was stopped; nothing was "
            "imported. Split the file into smaller ones, or retry when the workers are less busy."
        )
    return (
        "The import stopped on an unexpected error; nothing was imported. Retry it; if it fails "
        f"again, ask an administrator to look for import #{import_run.pk} in the worker's log."
    )


def transcript_import_run(
    *,
    import_run: TranscriptImport,
    stream: IO[bytes] | None = None,
    progress: ProgressCallback | None = None,
) -> TranscriptImport:
    """Run a claimed import to completion and return it with final status and counters.

    An import not yet claimed is claimed first (and returned as it is if someone else holds it).
    Reads ``stream`` if given, else the stored upload. Never raises for bad input or a bug: a
    :class:`~transcripts.formats.FormatError` (unknown format, limits), in ``all_or_nothing``
    mode any rejected row, or any unexpected exception leaves 0 rows written and status
    ``failed`` with ``failure``, ``error_message`` (a sentence for people, never a traceback;
    the traceback goes to the log) and ``errors`` (every rejected row's line, field and message,
    the first 1,000 stored). The upload is removed when the import succeeds or the file cannot be
    read; it is kept after rejected rows or an unexpected error, for a retry
    (:func:`~transcripts.services.recovery.transcript_import_retry`). If another run took the
    import over meanwhile (this run's lease ran out), nothing of this run is written and the row
    is returned as that run left it. Records one audit event. ``progress`` is called after every
    batch with the import (counters updated, not saved).
    """
    if import_run.status != Status.RUNNING:
        claimed = transcript_import_claim(import_id=import_run.pk)
        if claimed is None:
            import_run.refresh_from_db()
            return import_run
        import_run = claimed
    counters = Counters()
    stats = ImportStats()
    all_or_nothing = import_run.mode == TranscriptImport.Mode.ALL_OR_NOTHING
    failure, error_message = "", ""
    started = time.monotonic()
    if import_run.started_at is None:
        import_run.started_at = timezone.now()
    uploaded = stream is None
    reader = CountingReader(stream) if stream is not None else None
    kept = ""  # the upload to delete once the success commits
    try:
        with Heartbeat(import_run) as heartbeat:
            if reader is None:
                try:
                    stream = open(import_run.stored_path, "rb")  # noqa: SIM115 - closed below
                except OSError:
                    import_run.stored_path = ""
                    raise
                reader = CountingReader(stream)
            with progress_connection() as progress_db, transaction.atomic():
                load(
                    import_run,
                    reader,  # type: ignore[arg-type]
                    Writer(import_run, counters),
                    counters,
                    stats,
                    limits=import_limits(),
                    all_or_nothing=all_or_nothing,
                    on_batch=ProgressPublisher(import_run, reader, counters, progress_db, progress),
                )
                if all_or_nothing and counters.rejected:
                    raise Abort
                # Before the final write: the heartbeat must not wait on the row it locks.
                heartbeat.stop()
                _record_counters(import_run, counters, stats, reader)
                import_run.status = Status.SUCCEEDED
                import_run.finished_at = timezone.now()
                import_run.lease_expires_at = None
                kept = import_run.stored_path if uploaded else ""
                # What the upload held is now in the database; keeping it would only fill the
                # disk with copies of people's data.
                import_run.stored_path = ""
                # Fenced: commits only while this run still holds the claim.
                if not _save_result(import_run):
                    raise LeaseLost
                audit.record(
                    verb="transcript_import.succeed",
                    actor=import_run.created_by,
                    workspace=import_run.workspace,
                    target=import_run,
                    summary=import_summary(
                        created=counters.created,
                        scenarios=counters.scenarios,
                        duplicates=counters.duplicates,
                        filename=import_run.filename,
                    ),
                    data={
                        "created": counters.created,
                        "duplicates": counters.duplicates,
                        "rejected": counters.rejected,
                        "scenarios": counters.scenarios,
                    },
                )
    except Abort:
        failure = Failure.REJECTED
        error_message = (
            f"{counters.rejected} row{'s' if counters.rejected != 1 else ''} rejected; "
            "nothing was imported (all-or-nothing). Fix them, or import the valid rows only."
        )
    except FormatError as exc:
        failure = Failure.FORMAT
        error_message = str(exc)
    except LeaseLost:
        logger.warning(
            "import %s: lost its lease to another run; this run's result is dropped", import_run.pk
        )
        import_run.refresh_from_db()
        return import_run
    except KeyboardInterrupt:
        # Ctrl-C in the CLI: say so now rather than leave the sweep to find a lapsed lease.
        with suppress(Exception):
            _record_failure(
                import_run,
                counters,
                stats,
                reader,
                Failure.STOPPED,
                "The import was interrupted before it finished; nothing was imported.",
                started,
                uploaded,
            )
        raise
    except Exception as exc:
        logger.exception("import %s failed unexpectedly", import_run.pk)
        if kept:  # failed after the success was written down, before it committed
            import_run.stored_path = kept
        failure = Failure.ERROR
        error_message = (
            "The uploaded file is no longer on the server; upload it again."
            if isinstance(exc, OSError) and not import_run.stored_path and uploaded
            else _unexpected_failure(exc, import_run)
        )
    else:
        if kept:
            Path(kept).unlink(missing_ok=True)
    finally:
        if uploaded and stream is not None:
            stream.close()
    if failure:
        _record_failure(
            import_run, counters, stats, reader, failure, error_message, started, uploaded
        )
    if progress is not None:
        progress(import_run)
    return import_run


def _record_counters(
    import_run: TranscriptImport,
    counters: Counters,
    stats: ImportStats,
    reader: CountingReader | None,
) -> None:
    read = reader.count if reader is not None else 0
    import_run.format = import_run.format or stats.format
    import_run.rows_seen = stats.rows or counters.rows_seen
    import_run.bytes_read = read
    import_run.size_bytes = max(import_run.size_bytes, read)
    import_run.created_count = counters.created
    import_run.duplicate_count = counters.duplicates
    import_run.rejected_count = counters.rejected
    import_run.skipped_count = stats.skipped
    import_run.scenario_count = counters.scenarios
    import_run.errors = counters.errors


def _record_failure(
    import_run: TranscriptImport,
    counters: Counters,
    stats: ImportStats,
    reader: CountingReader | None,
    failure: str,
    error_message: str,
    started: float,
    uploaded: bool,
) -> None:
    """Write a failed run's result (the transaction rolled back: nothing of it is stored)."""
    counters.created = counters.duplicates = counters.scenarios = 0
    _record_counters(import_run, counters, stats, reader)
    import_run.failure = failure
    import_run.error_message = error_message
    import_run.status = Status.FAILED
    import_run.finished_at = timezone.now()
    import_run.lease_expires_at = None
    removed = ""
    if uploaded and failure == Failure.FORMAT:
        # The file cannot be read: a retry would fail the same way, so it is not kept. After
        # rejected rows (retry importing the valid rows) or an unexpected error it is kept, and
        # the sweep removes it when nobody retries in time.
        removed, import_run.stored_path = import_run.stored_path, ""
    with transaction.atomic():
        if not _save_result(import_run):
            import_run.refresh_from_db()
            return
        audit.record(
            verb="transcript_import.fail",
            actor=import_run.created_by,
            workspace=import_run.workspace,
            target=import_run,
            summary=error_message,
            data={
                "failure": failure,
                "rejected": counters.rejected,
                "seconds": time.monotonic() - started,
            },
        )
    if removed:
        Path(removed).unlink(missing_ok=True)


def transcript_import_path(
    *,
    workspace: Workspace,
    actor: User | None,
    path: str | os.PathLike[str],
    format: str = "",
    source: str = "",
    tags: Iterable[str] = (),
    id_prefix: str = "",
    mode: str = TranscriptImport.Mode.ALL_OR_NOTHING,
    idempotency_key: str = "",
    progress: ProgressCallback | None = None,
) -> tuple[TranscriptImport, bool]:
    """Import a local file synchronously, in this process (the CLI and the demo).

    The file is read in place (not copied). Returns ``(import, ran)``; ``ran`` is False when the
    ``idempotency_key`` matched an earlier import, which is returned as it is.
    """
    path = Path(path)
    import_run, created = transcript_import_create(
        workspace=workspace,
        actor=actor,
        upload=None,
        filename=path.name,
        format=format,
        source=source,
        tags=tags,
        id_prefix=id_prefix,
        mode=mode,
        idempotency_key=idempotency_key,
        size_bytes=path.stat().st_size,
        enqueue=False,
    )
    if not created:
        return import_run, False
    claimed = transcript_import_claim(import_id=import_run.pk)
    if claimed is None:  # pragma: no cover - only we know this row yet
        return import_run, False
    with open(path, "rb") as stream:
        return transcript_import_run(import_run=claimed, stream=stream, progress=progress), True
