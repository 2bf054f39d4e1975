"""Writes for transcripts: creating and running bulk imports.

An import is two steps. :func:`transcript_import_create` stores the upload under a server-generated
name and records a queued :class:`~reviews.models.TranscriptImport`; the Celery task (or the CLI, in
process) then calls :func:`transcript_import_run`, which streams the file through
:func:`transcripts.formats.iter_records` and writes in batches:

* each batch is ``COPY``-ed into a temporary staging table, then moved into ``reviews_transcript``
  with ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``, so duplicates (same content in the workspace,
  including earlier in the same file) are counted, never stored twice, and a concurrent import of the
  same content cannot fail the batch;
* all transcripts of one import are written in ONE transaction: in ``all_or_nothing`` mode any rejected
  row rolls the whole import back; in ``valid_rows`` mode the rejected rows are reported and the rest
  commit;
* progress counters go through a second, autocommit connection so the page's progress bar moves while
  the main transaction is still open. That connection only ever touches the import row, which the main
  transaction never updates before it ends (so neither waits on the other).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
import psycopg
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from clausebook import audit
from clausebook.models import User, Workspace
from transcripts.formats import (
    FORMATS,
    FormatError,
    ImportLimits,
    ImportStats,
    Record,
    RowError,
    iter_records,
)
from transcripts.models import TranscriptImport

#: Records per COPY batch: large enough to amortise round trips, small enough to bound memory and
#: the tail (the last batch is written after parsing ends, with nothing left to overlap it).
BATCH_SIZE = 2000
#: The first batch is small so that PostgreSQL has work within milliseconds; sizes then double.
FIRST_BATCH = 250
#: Rows per write into an open COPY (~50 KB): fewer round trips through psycopg than one per row,
#: yet a steady stream to the server.
FEED_ROWS = 32
#: Rejected rows kept on the import row (the count is always exact).
MAX_STORED_ERRORS = 1000
_CHUNK = 1024 * 1024
_MAX_TAG = 60
_MAX_EXTERNAL_ID = 200
_MAX_MODEL = 120
_MAX_PAIR_KEY = 120
_MAX_VARIANT = 20
# COPY runs on psycopg directly, so its errors arrive unwrapped by Django.
_UNIQUE_ERRORS = (IntegrityError, psycopg.errors.IntegrityError)
# First key of the advisory lock that serialises imports into one workspace (second: its id).
_ADVISORY_NAMESPACE = 7_310_001

ProgressCallback = Callable[[TranscriptImport], None]


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
    """Strip, drop empties and duplicates (order kept); refuse tags over 60 characters."""
    out: list[str] = []
    for tag in tags:
        tag = tag.strip()
        if not tag or tag in out:
            continue
        if len(tag) > _MAX_TAG:
            raise ValidationError(f"Tag {tag[:20]!r}… is longer than {_MAX_TAG} characters.")
        out.append(tag)
    return out


def _store_upload(upload: IO[bytes] | Any) -> tuple[str, int]:
    """Copy ``upload`` to ``UPLOAD_DIR/<uuid>`` in chunks, capping its size (T18, T21).

    The client's file name never reaches the file system: the stored name is a fresh UUID.
    """
    limit = max_upload_bytes()
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


@transaction.atomic
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
    original import is returned unchanged and nothing is stored or enqueued (T22). ``upload`` (a
    Django ``UploadedFile`` or a binary stream) is stored under a UUID name; pass ``None`` only with
    ``enqueue=False`` when the caller streams the file to :func:`transcript_import_run` itself (the
    CLI), giving ``size_bytes``. Raises :class:`ImportTooLarge` or ``ValidationError`` for bad options.
    """
    if idempotency_key:
        existing = TranscriptImport.objects.filter(
            workspace=workspace, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            return existing, False
    if format and format not in FORMATS:
        raise ValidationError(f"Unknown format {format!r}; one of {', '.join(FORMATS)}.")
    if mode not in TranscriptImport.Mode.values:
        raise ValidationError(f"Unknown mode {mode!r}.")
    if len(id_prefix) > 60:
        raise ValidationError("The id prefix is longer than 60 characters.")
    if upload is None and enqueue:
        raise ValueError("an enqueued import needs its upload stored")
    stored_path = ""
    if upload is not None:
        stored_path, size_bytes = _store_upload(upload)
    import_run = TranscriptImport.objects.create(
        workspace=workspace,
        created_by=actor if actor is not None and actor.is_authenticated else None,
        format=format,
        filename=os.path.basename(filename)[:255],
        stored_path=stored_path,
        size_bytes=size_bytes,
        source=(source or "")[:120],
        tags=clean_tags(tags),
        id_prefix=id_prefix,
        mode=mode,
        idempotency_key=idempotency_key,
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
    return import_run, True


def transcript_import_claim(*, import_id: int) -> TranscriptImport | None:
    """Move a queued import to running, atomically; None if someone else has it (or it is done).

    A conditional UPDATE, so two workers handed the same task cannot both run it.
    """
    claimed = TranscriptImport.objects.filter(
        pk=import_id, status=TranscriptImport.Status.QUEUED
    ).update(status=TranscriptImport.Status.RUNNING, started_at=timezone.now())
    if not claimed:
        return None
    return TranscriptImport.objects.select_related("workspace", "created_by").get(pk=import_id)


# --------------------------------------------------------------------------------------------------
# Running an import
# --------------------------------------------------------------------------------------------------


class _CountingReader:
    """Counts raw (compressed) bytes read, so progress compares like with ``size_bytes``."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.count += len(data)
        return data

    def peek(self, size: int = 0) -> bytes:
        # Lets the gzip probe look at the magic bytes without consuming them (or wrapping us).
        peek = getattr(self.stream, "peek", None)
        return peek(size) if peek is not None else b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


@dataclass
class _Counters:
    rows_seen: int = 0
    created: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0
    scenarios: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, line: int, field_name: str, message: str) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append({"line": line, "field": field_name, "message": message})


class _Abort(Exception):
    """Roll back the import's transaction (all-or-nothing mode with rejected rows)."""


@contextmanager
def _progress_connection() -> Iterator[psycopg.Connection | None]:
    """A second, autocommit connection for progress writes; None if it cannot connect."""
    db = connection.settings_dict
    params: dict[str, Any] = {"dbname": db["NAME"], "user": db["USER"], "autocommit": True}
    if db.get("HOST"):
        params["host"] = db["HOST"]
    if db.get("PORT"):
        params["port"] = db["PORT"]
    if db.get("PASSWORD"):
        params["password"] = db["PASSWORD"]
    try:
        conn = psycopg.connect(**params, connect_timeout=5)
    except psycopg.Error:
        # Progress is a convenience: the import itself must not fail for it.
        yield None
        return
    try:
        yield conn
    finally:
        conn.close()


# COPY text format: backslash, newline, CR and tab must be escaped; JSON text already escapes
# control characters, so only its backslashes need doubling.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})
_TRANSCRIPT_COLUMNS = (
    "workspace_id, source, import_run_id, created_at, messages, message_count, content_hash, "
    "external_id, model, metadata, tags, pair_key, variant"
)


def _copy_text(value: str) -> str:
    # translate() is slow per call; most values (ids, model names) need no escaping at all.
    if "\\" in value or "\n" in value or "\r" in value or "\t" in value:
        return value.translate(_COPY_ESCAPES)
    return value


def _dump_json(value: Any) -> bytes:
    """Compact JSON bytes for a jsonb column, escaped for COPY text format."""
    try:
        data = orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        # Integers beyond 64 bits and the like: the stdlib encoder handles them.
        data = json.dumps(value, ensure_ascii=False, default=str).encode()
    return data.replace(b"\\", b"\\\\")


def _copy_json(data: bytes) -> bytes:
    """JSON text as read from a file, escaped for COPY text format.

    Unlike our own encoder's output it may hold tabs or carriage returns between tokens (a line holds
    no newline).
    """
    data = data.replace(b"\\", b"\\\\")
    if b"\t" in data or b"\r" in data:
        data = data.replace(b"\t", b"\\t").replace(b"\r", b"\\r")
    return data


@dataclass(slots=True)
class _Row:
    """One transcript ready for COPY: the checks need its hash, id and line; COPY needs ``data``."""

    line: int
    content_hash: str
    external_id: str
    data: bytes


@dataclass
class _Batch:
    rows: list[_Row] = field(default_factory=list)
    scenarios: list[Record] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    items: int = 0


def _tags_text(tags: tuple[str, ...]) -> bytes | None:
    if any(type(t) is not str or len(t) > _MAX_TAG for t in tags):
        return None
    quoted = ",".join('"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"' for t in tags)
    return _copy_text("{" + quoted + "}").encode()


def _model_text(model: str) -> bytes | None:
    return None if len(model) > _MAX_MODEL else _copy_text(model).encode()


def _remember(
    cache: dict[Any, bytes | None], key: Any, make: Callable[[Any], bytes | None]
) -> bytes | None:
    """``make(key)``, computed once per distinct key: files repeat a few tag lists and model
    names over and over. The cache stops growing at 10,000 keys (a file of all-distinct values)."""
    try:
        return cache[key]
    except KeyError:
        value = make(key)
        if len(cache) < 10_000:
            cache[key] = value
        return value


class _RowBuilder:
    """Turns records into COPY lines (runs on the parser thread, so it touches no database)."""

    def __init__(self, import_run: TranscriptImport) -> None:
        self.prefix = import_run.id_prefix
        self.import_tags = list(import_run.tags)
        # Columns every row shares, formatted once.
        self.constant = (
            f"{import_run.workspace_id}\t{_copy_text(import_run.source or '')}\t"
            f"{import_run.pk}\t{timezone.now().isoformat()}\t"
        ).encode()
        self._tags_cache: dict[Any, bytes | None] = {}
        self._model_cache: dict[Any, bytes | None] = {}

    def _tags(self, tags: list[str]) -> bytes | None:
        """The COPY text of a tag list; None if a tag is not text of at most _MAX_TAG chars."""
        return _remember(self._tags_cache, tuple(tags), _tags_text)

    def _model(self, model: str) -> bytes | None:
        """The COPY text of a model name; None if it is too long."""
        return _remember(self._model_cache, model, _model_text)

    def build(self, record: Record) -> _Row | RowError:
        external_id = record.external_id
        if external_id and self.prefix:
            external_id = self.prefix + external_id
        if len(external_id) > _MAX_EXTERNAL_ID:
            return RowError(
                record.line, "external_id", f"longer than {_MAX_EXTERNAL_ID} characters"
            )
        model = self._model(record.model)
        if model is None:
            return RowError(record.line, "model", f"longer than {_MAX_MODEL} characters")
        tags = record.tags
        if self.import_tags:
            tags = (
                [*tags, *(t for t in self.import_tags if t not in tags)]
                if tags
                else self.import_tags
            )
        tags_text = self._tags(tags)
        if tags_text is None:
            return RowError(record.line, "tags", f"each tag must be text of ≤ {_MAX_TAG} chars")
        pair_key = record.pair_key
        if pair_key:
            if self.prefix:
                pair_key = self.prefix + pair_key
            pair_text = _copy_text(pair_key[:_MAX_PAIR_KEY]).encode()
        else:
            pair_text = b""
        variant = record.variant
        metadata = record.metadata_json
        data = b"%b%b\t%d\t%b\t%b\t%b\t%b\t%b\t%b\t%b\n" % (
            self.constant,
            # The canonical JSON that was hashed: compact, so it holds no raw tab or newline.
            record.messages_json.replace(b"\\", b"\\\\"),
            record.message_count,
            record.content_hash.encode(),
            _copy_text(external_id).encode() if external_id else b"",
            model,
            _copy_json(metadata) if metadata is not None else _dump_json(record.metadata),
            tags_text,
            pair_text,
            _copy_text(variant[:_MAX_VARIANT]).encode() if variant else b"",
        )
        return _Row(record.line, record.content_hash, external_id, data)


class _Writer:
    """Writes one import's transcripts on the caller's (Django) connection, in its transaction.

    Per batch: one query finds which hashes and external ids already exist in the workspace (earlier
    batches of this import included: same transaction); duplicates are dropped, clashing external
    ids rejected, and the rest goes to ``COPY`` straight into ``reviews_transcript``.

    Overlap without threads: a batch's rows are not sent at once but streamed into an open ``COPY``
    a few rows at a time while the *next* batch is being parsed (:meth:`feed`), so PostgreSQL
    parses and indexes them on another core while Python parses. (A parser thread was tried: the
    GIL hand-offs on every socket wait made it slower.) Imports into one workspace take an advisory
    lock so two cannot race between the check and the COPY; if some other writer still does, the
    batch's savepoint rolls back and it is checked and written again.
    """

    SEEN_CAP = 1_000_000

    def __init__(self, import_run: TranscriptImport, counters: _Counters) -> None:
        self.run = import_run
        self.counters = counters
        self.workspace_id = import_run.workspace_id
        self.cursor = connection.cursor()
        self.cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", [_ADVISORY_NAMESPACE, self.workspace_id]
        )
        # A workspace with no transcripts yet (the usual first import) needs no lookups: duplicates
        # can only come from this file, and a set of the hashes written so far finds them. Past
        # SEEN_CAP hashes the set is dropped and lookups take over (they see earlier batches:
        # same transaction), so memory stays bounded on huge files.
        cursor = self.cursor
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM reviews_transcript WHERE workspace_id = %s)",
            [self.workspace_id],
        )
        self.lookups = bool(cursor.fetchone()[0])
        self.replica = self._plan_key_checks()
        self.seen: set[str] = set()
        self.pending: list[bytes] = []  # checked rows of the last batch, not yet sent
        self.sent = 0
        self.tick = 0
        self.batch_rows: list[_Row] = []  # that batch, kept for a retry
        self.copy: Any = None
        self.copy_context: Any = None
        self.savepoint: str | None = None

    def _plan_key_checks(self) -> bool:
        """Decide how the foreign keys of the COPYed rows get checked; True: by one lock up front.

        Django's foreign keys are DEFERRABLE INITIALLY DEFERRED, so PostgreSQL queues two checks per
        row (workspace, import run) and runs all 200,000 of a 100k import at COMMIT, after the
        parsing is over: seconds in which nothing else happens. Every one of those checks asks the
        same thing: do these two rows exist, and are they locked against deletion until we commit?
        Where the role may set ``session_replication_role`` (a superuser, or a role granted ``SET``
        on it), one ``FOR KEY SHARE`` lock on the two rows answers that for all rows, and the COPYs
        run in replica mode, which skips the per-row checks. Other roles make the checks immediate
        instead, so they at least run during the COPY, overlapped with parsing.
        """
        cursor = self.cursor
        cursor.execute("SELECT has_parameter_privilege('session_replication_role', 'SET')")
        if cursor.fetchone()[0]:
            cursor.execute(
                """
                SELECT (SELECT count(*) FROM (SELECT 1 FROM clausebook_workspace
                                              WHERE id = %s FOR KEY SHARE) AS w),
                       (SELECT count(*) FROM (SELECT 1 FROM reviews_transcriptimport
                                              WHERE id = %s FOR KEY SHARE) AS i)
                """,
                [self.workspace_id, self.run.pk],
            )
            if cursor.fetchone() == (1, 1):
                return True
            # Deleted under us: the ordinary checks below fail the import with PostgreSQL's error.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        return False

    def _start_copy(self) -> Any:
        if self.replica:
            # SET LOCAL: back to normal at the end of the transaction even if we never reset it.
            self.cursor.execute("SET LOCAL session_replication_role = replica")
        return self.cursor.copy(f"COPY reviews_transcript ({_TRANSCRIPT_COLUMNS}) FROM STDIN")

    def _end_copy(self) -> None:
        if self.replica:
            self.cursor.execute("SET LOCAL session_replication_role = origin")

    # -- streaming ------------------------------------------------------------------------------
    def _open(self) -> None:
        self.savepoint = transaction.savepoint_create()
        self.copy_context = self._start_copy()
        self.copy = self.copy_context.__enter__()

    def feed(self) -> None:
        """Call once per parsed record: every FEED_ROWS calls, FEED_ROWS pending rows are sent.

        Sending at the pace of parsing spreads a batch over the parsing of the next one, so
        PostgreSQL gets a steady stream instead of a burst that fills the socket, blocks us, then
        leaves the server idle while we parse.
        """
        self.tick += 1
        if self.tick == FEED_ROWS:
            self.tick = 0
            if self.sent < len(self.pending):
                end = self.sent + FEED_ROWS
                self.copy.write(b"".join(self.pending[self.sent : end]))
                self.sent = end

    def _finish(self) -> None:
        """Send what is left of the pending batch and end its COPY; retry it after a conflict."""
        if self.copy is None:
            return
        copy, self.copy = self.copy, None
        try:
            if self.sent < len(self.pending):
                copy.write(b"".join(self.pending[self.sent :]))
            self.copy_context.__exit__(None, None, None)
        except _UNIQUE_ERRORS:
            # Another writer stored one of these conversations meanwhile: look up, rewrite.
            transaction.savepoint_rollback(self.savepoint)
            self._end_copy()
            self.lookups, self.seen = True, set()
            self._rewrite(self.batch_rows)
        else:
            transaction.savepoint_commit(self.savepoint)
            self._end_copy()
            self.counters.created += len(self.pending)
        self.pending, self.sent, self.batch_rows = [], 0, []

    def _rewrite(self, rows: list[_Row]) -> None:
        for attempt in range(3):
            savepoint = transaction.savepoint_create()
            try:
                fresh = self._check(rows)
                if fresh:
                    with self._start_copy() as copy:
                        copy.write(b"".join(fresh))
            except _UNIQUE_ERRORS:
                transaction.savepoint_rollback(savepoint)
                self._end_copy()
                if attempt == 2:
                    raise
            else:
                transaction.savepoint_commit(savepoint)
                self._end_copy()
                self.counters.created += len(fresh)
                return

    def abort(self) -> None:
        """End an open COPY after an error (the transaction is rolling back anyway)."""
        if self.copy is not None:
            self.copy = None
            with suppress(Exception):
                self.copy_context.__exit__(_Abort, _Abort(), None)

    # -- batches --------------------------------------------------------------------------------
    def add_batch(self, batch: _Batch, *, stop_on_reject: bool) -> None:
        """Finish sending the previous batch, then check this one and start streaming it.

        With ``stop_on_reject`` (all-or-nothing) nothing more is written once any row was rejected:
        the import will roll back, and reading on only serves to report every bad row.
        """
        for error in batch.errors:
            self.counters.reject(error.line, error.field, error.message)
        self._finish()
        if stop_on_reject and self.counters.rejected:
            return
        # Scenarios first: nothing else may use the connection while a COPY is open.
        if batch.scenarios:
            self._write_scenarios(batch.scenarios)
        if batch.rows:
            fresh = self._check(batch.rows)
            if stop_on_reject and self.counters.rejected:
                return
            if fresh:
                self.pending, self.sent, self.batch_rows = fresh, 0, batch.rows
                self._open()

    def close(self) -> None:
        self._finish()
        self.cursor.close()

    def _check(self, rows: list[_Row]) -> list[bytes]:
        """The COPY lines of ``rows`` that are new; counts duplicates and rejects id clashes."""
        if not self.lookups:
            if len(self.seen) + len(rows) <= self.SEEN_CAP:
                return self._check_in_memory(rows)
            self.lookups, self.seen = True, set()
        cursor = self.cursor
        cursor.execute(
            """
            SELECT content_hash, external_id, id FROM reviews_transcript
            WHERE workspace_id = %s AND content_hash = ANY(%s)
            UNION ALL
            SELECT content_hash, external_id, id FROM reviews_transcript
            WHERE workspace_id = %s AND external_id <> '' AND external_id = ANY(%s)
            """,
            [
                self.workspace_id,
                [r.content_hash for r in rows],
                self.workspace_id,
                [r.external_id for r in rows if r.external_id],
            ],
        )
        known_hashes: set[str] = set()
        id_owner: dict[str, tuple[str, int]] = {}
        for digest, external_id, pk in cursor.fetchall():
            known_hashes.add(digest)
            if external_id:
                id_owner[external_id] = (digest, pk)
        seen: set[str] = set()
        fresh: list[bytes] = []
        for row in rows:
            digest = row.content_hash
            if digest in known_hashes or digest in seen:
                self.counters.duplicates += 1
                continue
            owner = id_owner.get(row.external_id) if row.external_id else None
            if owner is not None and owner[0] != digest:
                self.counters.reject(
                    row.line,
                    "external_id",
                    f"external_id {row.external_id!r} already used by transcript {owner[1]} "
                    "with different content",
                )
                continue
            seen.add(digest)
            fresh.append(row.data)
        return fresh

    def _check_in_memory(self, rows: list[_Row]) -> list[bytes]:
        seen = self.seen
        fresh: list[bytes] = []
        for row in rows:
            if row.content_hash in seen:
                self.counters.duplicates += 1
                continue
            seen.add(row.content_hash)
            fresh.append(row.data)
        return fresh

    def _write_scenarios(self, records: list[Record]) -> None:
        from transcripts.models import Scenario

        hashes = {r.content_hash for r in records}
        existing = set(
            Scenario.objects.filter(
                workspace_id=self.workspace_id, clause__isnull=True, content_hash__in=hashes
            ).values_list("content_hash", flat=True)
        )
        fresh: dict[str, Scenario] = {}
        now = timezone.now()
        for record in records:
            if record.content_hash in existing or record.content_hash in fresh:
                self.counters.duplicates += 1
                continue
            first_user = next((m["content"] for m in record.messages if m["role"] == "user"), "")
            fresh[record.content_hash] = Scenario(
                workspace_id=self.workspace_id,
                clause=None,
                source=Scenario.Source.IMPORT,
                title=first_user[:200],
                messages=record.messages,
                content_hash=record.content_hash,
                external_id=(self.run.id_prefix + record.external_id)[:200]
                if record.external_id
                else "",
                metadata=record.metadata,
                import_run=self.run,
                created_at=now,
            )
        # ignore_conflicts: a concurrent import of the same prompt must not fail this one.
        Scenario.objects.bulk_create(list(fresh.values()), ignore_conflicts=True)
        self.counters.scenarios += len(fresh)


def transcript_import_run(
    *,
    import_run: TranscriptImport,
    stream: IO[bytes] | None = None,
    progress: ProgressCallback | None = None,
) -> TranscriptImport:
    """Run a claimed import to completion and return it with final status and counters.

    Reads ``stream`` if given, else the stored upload. Never raises for bad input: a
    :class:`~transcripts.formats.FormatError` (unknown format, limits) or, in ``all_or_nothing`` mode,
    any rejected row leaves 0 rows written and status ``failed`` with ``error_message`` and ``errors``
    (every rejected row's line, field and message, the first 1,000 stored). Records one audit event.
    ``progress`` is called after every batch with the import (counters updated, not saved).
    """
    counters = _Counters()
    stats = ImportStats()
    all_or_nothing = import_run.mode == TranscriptImport.Mode.ALL_OR_NOTHING
    error_message = ""
    started = time.monotonic()
    if import_run.started_at is None:
        import_run.started_at = timezone.now()
    owned_stream = None
    if stream is None:
        owned_stream = stream = open(import_run.stored_path, "rb")  # noqa: SIM115 - closed below
    reader = _CountingReader(stream)
    try:
        with _progress_connection() as progress_db, transaction.atomic():
            writer = _Writer(import_run, counters)
            _load(
                import_run,
                reader,
                writer,
                counters,
                stats,
                all_or_nothing=all_or_nothing,
                on_batch=lambda: _report(import_run, reader, counters, progress_db, progress),
            )
            if all_or_nothing and counters.rejected:
                raise _Abort
            audit.record(
                verb="transcript_import.succeed",
                actor=import_run.created_by,
                workspace=import_run.workspace,
                target=import_run,
                summary=f"Imported {counters.created} transcripts from "
                f"{import_run.filename or 'a file'}",
                data={
                    "created": counters.created,
                    "duplicates": counters.duplicates,
                    "rejected": counters.rejected,
                    "scenarios": counters.scenarios,
                },
            )
    except _Abort:
        error_message = (
            f"{counters.rejected} row{'s' if counters.rejected != 1 else ''} rejected; "
            "nothing was imported (all-or-nothing). Fix them, or import the valid rows only."
        )
    except FormatError as exc:
        error_message = str(exc)
    finally:
        if owned_stream is not None:
            owned_stream.close()
    if owned_stream is not None:
        # The upload was only a carrier: what it held is now in the database (or was refused, and
        # a failed import is never re-run: the user uploads again). Keeping it would only fill
        # the disk with copies of people's data.
        Path(import_run.stored_path).unlink(missing_ok=True)
        import_run.stored_path = ""
    failed = bool(error_message)
    if failed:
        # The transaction rolled back: nothing of this import is stored.
        counters.created = counters.duplicates = counters.scenarios = 0
    import_run.format = import_run.format or stats.format
    import_run.rows_seen = stats.rows or counters.rows_seen
    import_run.bytes_read = reader.count
    import_run.size_bytes = max(import_run.size_bytes, reader.count)
    import_run.created_count = counters.created
    import_run.duplicate_count = counters.duplicates
    import_run.rejected_count = counters.rejected
    import_run.skipped_count = stats.skipped
    import_run.scenario_count = counters.scenarios
    import_run.errors = counters.errors
    import_run.error_message = error_message
    import_run.status = (
        TranscriptImport.Status.FAILED if failed else TranscriptImport.Status.SUCCEEDED
    )
    import_run.finished_at = timezone.now()
    with transaction.atomic():
        import_run.save()
        if failed:
            audit.record(
                verb="transcript_import.fail",
                actor=import_run.created_by,
                workspace=import_run.workspace,
                target=import_run,
                summary=error_message,
                data={"rejected": counters.rejected, "seconds": time.monotonic() - started},
            )
    if progress is not None:
        progress(import_run)
    return import_run


def _load(
    import_run: TranscriptImport,
    reader: _CountingReader,
    writer: _Writer,
    counters: _Counters,
    stats: ImportStats,
    *,
    all_or_nothing: bool,
    on_batch: Callable[[], None],
) -> None:
    """Parse the file into batches; the writer streams each batch while the next is parsed."""
    items = iter_records(
        reader,  # type: ignore[arg-type]
        format=import_run.format or None,
        filename=import_run.filename,
        limits=import_limits(),
        stats=stats,
    )
    builder = _RowBuilder(import_run)
    batch = _Batch()
    feed = writer.feed
    limit = FIRST_BATCH
    try:
        for item in items:
            batch.items += 1
            if type(item) is RowError:
                batch.errors.append(item)
            elif item.kind == "scenario":
                batch.scenarios.append(item)
            else:
                row = builder.build(item)
                if type(row) is RowError:
                    batch.errors.append(row)
                else:
                    batch.rows.append(row)
            feed()
            if batch.items >= limit:
                counters.rows_seen += batch.items
                writer.add_batch(batch, stop_on_reject=all_or_nothing)
                batch = _Batch()
                limit = min(limit * 2, BATCH_SIZE)
                on_batch()
        counters.rows_seen += batch.items
        writer.add_batch(batch, stop_on_reject=all_or_nothing)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    on_batch()


def _report(
    import_run: TranscriptImport,
    reader: _CountingReader,
    counters: _Counters,
    progress_db: psycopg.Connection | None,
    progress: ProgressCallback | None,
) -> None:
    """Publish counters after a batch: on the import row (other connection) and to ``progress``."""
    import_run.bytes_read = reader.count
    import_run.rows_seen = counters.rows_seen
    import_run.created_count = counters.created
    import_run.duplicate_count = counters.duplicates
    import_run.rejected_count = counters.rejected
    import_run.scenario_count = counters.scenarios
    if progress_db is not None:
        with suppress(psycopg.Error):
            progress_db.execute(
                """
                UPDATE reviews_transcriptimport
                SET bytes_read = %s, rows_seen = %s, created_count = %s, duplicate_count = %s,
                    rejected_count = %s, scenario_count = %s
                WHERE id = %s AND status = 'running'
                """,
                [
                    reader.count,
                    counters.rows_seen,
                    counters.created,
                    counters.duplicates,
                    counters.rejected,
                    counters.scenarios,
                    import_run.pk,
                ],
            )
    if progress is not None:
        progress(import_run)


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
