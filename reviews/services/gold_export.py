"""Gold exports: write gold to a file (the CLI, in process) or run it as a job (pages, the API).

Contracts
---------
* :func:`gold_export_write` is the one writer: the gold the filters select (``reviews.
  selectors.gold``), as JSONL, CSV, Parquet or preference pairs, streamed from one query in a
  repeatable-read transaction, so the count it reports and the rows it writes are the same
  snapshot. Memory holds one chunk of rows (one Parquet row group), whatever the export's size.
  The file appears under its final name only when complete.
* A job (``GoldExport``) is created ``queued`` by :func:`gold_export_create` (the export right;
  reviewer emails only for admins) and enqueued on commit with its id alone: filters and the
  emails choice are on the row, nothing secret travels in the message. :func:`gold_export_claim`
  takes it with a conditional UPDATE (``queued`` → ``running``), so a duplicated message is a
  no-op; :func:`gold_export_run` publishes progress on the row through a second connection while
  it writes, and ends it ``succeeded`` (file name, size, row count) or ``failed`` with a reason.
* A running export holds a lease (``lease_expires_at``, ``GOLD_EXPORT_LEASE_SECONDS``) that a
  heartbeat thread renews while it writes. A worker killed outright runs no clean-up code and the
  zero-setup broker does not redeliver, so the lease lapses: :func:`gold_export_sweep` (the
  ``reviews.sweep_exports`` beat task) fails such exports saying why, and a late final write of
  a worker that was only slow finds the row no longer ``running`` and removes its file.
* Downloads go through a signed link (:func:`gold_export_link`) that expires after
  ``GOLD_EXPORT_LINK_MAX_AGE`` seconds (an hour by default) and names its workspace and export;
  :func:`gold_export_for_download` serves it only to a member of that workspace with the export
  right (another workspace: 404; no right: 403; expired: :class:`ExportLinkExpired`, a 410).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.http import Http404
from django.utils import timezone

from clausebook import audit, permissions
from clausebook.models import Membership, Role, User, Workspace
from reviews import access
from reviews.export import csv as csv_writer
from reviews.export import jsonl, pairs
from reviews.export.rows import CHUNK_SIZE, iter_gold_rows
from reviews.models import ExportFormat, GoldExport
from reviews.selectors.gold import GoldFilters, gold_filters_check, gold_list
from specs.models import Example
from transcripts.importing.progress import progress_connection

logger = logging.getLogger(__name__)

EXPORT_PERMISSION = "gold.export"
SUFFIXES = {
    ExportFormat.JSONL: ".jsonl",
    ExportFormat.CSV: ".csv",
    ExportFormat.PARQUET: ".parquet",
    ExportFormat.PAIRS: ".pairs.jsonl",
}
CONTENT_TYPES = {
    ExportFormat.JSONL: "application/jsonl; charset=utf-8",
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.PARQUET: "application/vnd.apache.parquet",
    ExportFormat.PAIRS: "application/jsonl; charset=utf-8",
}
_SIGNING_SALT = "reviews.gold-export.download"
#: Seconds between progress writes: the bar moves, the row is not written per line.
_PROGRESS_EVERY = 0.5

ProgressCallback = Callable[[int, int], None]  # (rows written, total rows)


def export_dir() -> Path:
    """Where export files live: ``GOLD_EXPORT_DIR``, else ``VAR_DIR/exports`` (never a folder
    the web server serves: files go out only through the signed download)."""
    return Path(getattr(settings, "GOLD_EXPORT_DIR", settings.VAR_DIR / "exports"))


def link_max_age() -> int:
    return int(getattr(settings, "GOLD_EXPORT_LINK_MAX_AGE", 3600))


def lease_seconds() -> int:
    """How long a running export holds without a heartbeat (``GOLD_EXPORT_LEASE_SECONDS``)."""
    return max(2, int(getattr(settings, "GOLD_EXPORT_LEASE_SECONDS", 120)))


# -- writing ---------------------------------------------------------------------------------------


def _counted(
    rows: Iterable[dict[str, Any]], total: int, progress: ProgressCallback | None
) -> Iterator[dict[str, Any]]:
    """Pass rows through, reporting how many went by (at most every ``_PROGRESS_EVERY`` s)."""
    count, last = 0, time.monotonic()
    for row in rows:
        yield row
        count += 1
        if progress is not None and time.monotonic() - last >= _PROGRESS_EVERY:
            progress(count, total)
            last = time.monotonic()
    if progress is not None:
        progress(count, total)


def _example_pairs(decisions: Any, filters: GoldFilters) -> Iterator[dict[str, Any]]:
    """Pairs from the good and bad candidates of the examples of the exported spec versions
    (and clause, when the filters name one)."""
    examples = Example.objects.filter(
        clause__version_id__in=decisions.order_by().values("spec_version_id")
    )
    if filters.clause:
        examples = examples.filter(clause__key=filters.clause)
    rows = examples.order_by("clause__version_id", "clause__position", "position").values(
        "id",
        "title",
        "turns",
        "clause__key",
        "clause__version__label",
        "clause__version__spec__slug",
    )
    for example in rows.iterator(chunk_size=500):
        yield from pairs.example_pairs(
            example["turns"],
            clause=example["clause__key"],
            spec=example["clause__version__spec__slug"],
            spec_version=example["clause__version__label"],
            example_id=example["id"],
            title=example["title"],
        )


def _write(format: str, rows: Iterable[dict[str, Any]], path: Path) -> int:
    """Write ``rows`` to ``path`` in ``format``; the count of lines (pairs, for pairs)."""
    if format == ExportFormat.PARQUET:
        # pyarrow (~40 MB a process) loads only where Parquet is written: the worker or the
        # CLI, never the web server, which imports this module for its pages.
        from reviews.export import parquet

        return parquet.write_parquet(rows, str(path))
    if format == ExportFormat.CSV:
        with open(path, "w", encoding="utf-8", newline="") as out:
            return csv_writer.write_csv(rows, out)
    with open(path, "wb", buffering=1 << 20) as binary:
        return jsonl.write_jsonl(rows, binary)


def gold_export_write(
    *,
    workspace: Workspace,
    filters: GoldFilters,
    format: str,
    path: Path,
    emails: bool = False,
    progress: ProgressCallback | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> tuple[int, int]:
    """Write the selected gold to ``path``; return (gold rows read, lines written). For
    ``pairs`` the lines are pairs (gold pairs, then spec example pairs), otherwise one per row.
    ``progress(rows read, total)`` is called as rows go by."""
    if format not in ExportFormat.values:
        raise ValidationError(
            {"format": f"{format!r} is not one of: {', '.join(ExportFormat.values)}."}
        )
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    exported_at = timezone.now().isoformat()
    try:
        outermost = not connection.in_atomic_block
        with transaction.atomic():
            if outermost:
                # One snapshot for the count and the rows (and the example query of pairs).
                # Inside a caller's transaction it is theirs to choose (it must come first).
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            decisions = gold_list(workspace, filters)
            total = decisions.count()
            rows = _counted(
                iter_gold_rows(
                    decisions,
                    workspace_id=workspace.pk,
                    exported_at=exported_at,
                    emails=emails,
                    for_pairs=format == ExportFormat.PAIRS,
                    chunk_size=chunk_size,
                    raw_messages=format == ExportFormat.JSONL,
                ),
                total,
                progress,
            )
            read = 0
            if format == ExportFormat.PAIRS:
                counted = _Tally(rows)
                lines = _write(
                    format,
                    _chain(pairs.gold_pairs(counted), _example_pairs(decisions, filters)),
                    partial,
                )
                read = counted.count
            else:
                lines = read = _write(format, rows, partial)
        os.replace(partial, path)
    finally:
        with suppress(FileNotFoundError):
            partial.unlink()
    return read, lines


def gold_export_to_file(
    *,
    workspace: Workspace,
    actor: User | None,
    filters: GoldFilters,
    format: str,
    path: Path,
    emails: bool = False,
    progress: ProgressCallback | None = None,
) -> tuple[int, int]:
    """The CLI's export: :func:`gold_export_write`, then an audit event saying who (``--as``,
    or the system) exported what to which file. Returns (gold rows read, lines written)."""
    gold_filters_check(workspace, filters)
    read, lines = gold_export_write(
        workspace=workspace,
        filters=filters,
        format=format,
        path=path,
        emails=emails,
        progress=progress,
    )
    audit.record(
        verb="gold.export",
        actor=actor,
        workspace=workspace,
        summary=f"gold exported to a file ({format}, {read} rows)",
        data={
            "format": format,
            "filters": filters.to_json(),
            "emails": emails,
            "rows": read,
            "lines": lines,
            "file": str(path),
            "via": "cli",
        },
    )
    return read, lines


class _Tally:
    """An iterator that counts what went through it."""

    def __init__(self, rows: Iterable[dict[str, Any]]) -> None:
        self.rows = iter(rows)
        self.count = 0

    def __iter__(self) -> _Tally:
        return self

    def __next__(self) -> dict[str, Any]:
        row = next(self.rows)
        self.count += 1
        return row


def _chain(*parts: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for part in parts:
        yield from part


# -- the job ---------------------------------------------------------------------------------------


def _membership(workspace: Workspace, actor: User) -> Membership:
    membership = Membership.objects.filter(workspace=workspace, user=actor).first()
    if membership is None:
        raise Http404("No such workspace")
    return membership


def check_emails_allowed(membership: Membership | None, emails: bool) -> None:
    """Reviewer emails in an export are for admins; everyone else gets pseudonyms."""
    if emails and (membership is None or membership.role < Role.ADMIN):
        raise PermissionDenied(
            "Reviewer emails in an export need the admin role; without them reviewers are "
            "stable pseudonyms."
        )


@transaction.atomic
def gold_export_create(
    *,
    workspace: Workspace,
    actor: User,
    format: str,
    filters: GoldFilters,
    include_emails: bool = False,
) -> GoldExport:
    """Queue an export of the gold ``filters`` select; the worker runs it (on commit)."""
    from reviews.tasks import run_gold_export

    membership = _membership(workspace, actor)
    permissions.require(membership, EXPORT_PERMISSION)
    check_emails_allowed(membership, include_emails)
    gold_filters_check(workspace, filters)
    if format not in ExportFormat.values:
        raise ValidationError(
            {"format": f"{format!r} is not one of: {', '.join(ExportFormat.values)}."}
        )
    export = GoldExport.objects.create(
        workspace=workspace,
        created_by=actor,
        format=format,
        filters=filters.to_json(),
        include_emails=include_emails,
    )
    audit.record(
        verb="gold.export",
        actor=actor,
        workspace=workspace,
        target=export,
        summary=f"gold export {export.pk} ({format})",
        data={"format": format, "filters": export.filters, "emails": include_emails},
    )
    run_gold_export.delay_on_commit(export.pk)
    return export


def gold_export_claim(*, export_id: int) -> GoldExport | None:
    """Take a queued export (``queued`` → ``running``), or None if it is not queued (already
    taken, finished, or never committed): one conditional UPDATE, so only one run does it."""
    now = timezone.now()
    claimed = GoldExport.objects.filter(pk=export_id, status=GoldExport.Status.QUEUED).update(
        status=GoldExport.Status.RUNNING,
        started_at=now,
        rows_written=0,
        lease_expires_at=now + timedelta(seconds=lease_seconds()),
    )
    return GoldExport.objects.select_related("workspace").get(pk=export_id) if claimed else None


# Only while running: a late progress write must never overwrite the final state (or revive
# an export the sweep failed).
_PROGRESS_SQL = (
    f"UPDATE {GoldExport._meta.db_table} SET rows_written = %s, total_rows = %s "  # noqa: S608
    "WHERE id = %s AND status = 'running'"
)
_RENEW_SQL = (
    f"UPDATE {GoldExport._meta.db_table} "  # noqa: S608
    "SET lease_expires_at = now() + make_interval(secs => %s) "
    "WHERE id = %s AND status = 'running'"
)


class _Heartbeat:
    """Renews a running export's lease every third of it, from a thread: the export can be busy
    for long stretches without a row going by (the sort of a pairs export, a Parquet row group),
    and that is work, not death. A process that is really stuck is ended by Celery's time limit,
    and the thread with it."""

    def __init__(self, export_id: int, db: psycopg.Connection | None) -> None:
        self.export_id, self.db = export_id, db
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"gold-export-{export_id}", daemon=True
        )

    def __enter__(self) -> _Heartbeat:
        if self.db is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        seconds = lease_seconds()
        while not self._stop.wait(seconds / 3):
            # psycopg connections are thread-safe: this shares the progress connection.
            with suppress(psycopg.Error):
                self.db.execute(_RENEW_SQL, [seconds, self.export_id])  # type: ignore[union-attr]


def gold_export_run(*, export: GoldExport) -> GoldExport:
    """Run a claimed export to its end: ``succeeded`` with its file, or ``failed`` with why."""
    folder = export_dir() / str(export.workspace_id)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"gold-{export.pk}-{secrets.token_hex(6)}{SUFFIXES[export.format]}"
    running = GoldExport.objects.filter(pk=export.pk, status=GoldExport.Status.RUNNING)
    with progress_connection() as progress_db:

        def progress(written: int, total: int) -> None:
            # The export's own transaction is open: progress goes through the other connection.
            if progress_db is not None:
                with suppress(psycopg.Error):
                    progress_db.execute(_PROGRESS_SQL, [written, total, export.pk])  # type: ignore[arg-type]

        try:
            filters = GoldFilters.from_json(export.filters)
            with _Heartbeat(export.pk, progress_db):
                read, _lines = gold_export_write(
                    workspace=export.workspace,
                    filters=filters,
                    format=export.format,
                    path=folder / name,
                    emails=export.include_emails,
                    progress=progress,
                )
        except Exception as error:  # a failed export says why on its page, whatever it was
            logger.exception("gold export %s failed", export.pk)
            message = (
                "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            )
            running.update(
                status=GoldExport.Status.FAILED,
                error_message=message[:2000] or type(error).__name__,
                finished_at=timezone.now(),
                lease_expires_at=None,
            )
            export.refresh_from_db()
            return export
    finished = running.update(
        status=GoldExport.Status.SUCCEEDED,
        file_name=f"{export.workspace_id}/{name}",
        size_bytes=(folder / name).stat().st_size,
        rows_written=read,
        total_rows=read,
        finished_at=timezone.now(),
        lease_expires_at=None,
    )
    if not finished:
        # The sweep failed it meanwhile (the lease lapsed): nobody will ever link to this file.
        with suppress(FileNotFoundError):
            (folder / name).unlink()
    export.refresh_from_db()
    return export


def gold_export_sweep(*, now: Any = None) -> int:
    """Fail running exports whose lease lapsed (their worker died), saying why; return how many.
    One conditional UPDATE: safe beside running exports and beside another sweep."""
    now = now or timezone.now()
    return GoldExport.objects.filter(
        status=GoldExport.Status.RUNNING, lease_expires_at__lt=now
    ).update(
        status=GoldExport.Status.FAILED,
        error_message=(
            "The worker running this export stopped without finishing (no sign of life for "
            f"{lease_seconds()} seconds). No file was kept: start the export again."
        ),
        finished_at=now,
        lease_expires_at=None,
    )


# -- the signed download ---------------------------------------------------------------------------


class ExportLinkExpired(Exception):
    """The download link was genuine but is older than ``GOLD_EXPORT_LINK_MAX_AGE``."""


def _link_value(export: GoldExport) -> str:
    return f"{export.workspace_id}.{export.pk}"


def gold_export_link(export: GoldExport) -> str:
    """A fresh signed token for the export's download link (it expires; pages make a new one
    every time they show the link)."""
    return signing.TimestampSigner(salt=_SIGNING_SALT).sign(_link_value(export))


def gold_export_file_kept(export: GoldExport) -> bool:
    """Whether a finished export's file is still there to download."""
    return (
        export.status == GoldExport.Status.SUCCEEDED
        and bool(export.file_name)
        and (export_dir() / export.file_name).is_file()
    )


def gold_export_for_download(
    membership: Membership, export_id: int, token: str
) -> tuple[GoldExport, Path]:
    """The export and its file, if ``token`` is a valid, unexpired link to it for this member."""
    export = access.gold_export_of_member(membership, export_id)
    try:
        value = signing.TimestampSigner(salt=_SIGNING_SALT).unsign(token, max_age=link_max_age())
    except signing.SignatureExpired as error:
        raise ExportLinkExpired() from error
    except signing.BadSignature as error:
        raise PermissionDenied("This download link is not valid: open the export again.") from error
    if value != _link_value(export):
        raise PermissionDenied("This download link is for another export.")
    if export.status != GoldExport.Status.SUCCEEDED or not export.file_name:
        raise Http404("This export has no file (yet).")
    if not gold_export_file_kept(export):
        raise Http404("This export's file is no longer kept.")
    return export, export_dir() / export.file_name


def download_filename(export: GoldExport) -> str:
    stamp = (export.finished_at or export.created_at).strftime("%Y%m%d-%H%M%S")
    return f"gold-{export.workspace.slug}-{stamp}{SUFFIXES[export.format]}"
