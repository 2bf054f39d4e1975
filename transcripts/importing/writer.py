"""The import's writer: checked batches of COPY lines into the transcript table, and the loop that
feeds it from the readers.

Everything happens on the caller's (Django) connection, inside the import's one transaction:

* each batch is checked against what the workspace already holds (one query per batch), then
  ``COPY``-ed straight into the transcript table, so duplicates (same content among the
  workspace's imported transcripts, including earlier in the same file) are counted, never stored
  twice, and a concurrent import of the same content cannot fail the batch;
* in ``all_or_nothing`` mode the caller rolls the transaction back when any row was rejected; in
  ``valid_rows`` mode the rejected rows are reported and the rest commit.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import IO, Any

import psycopg
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from clausebook.models import Workspace
from transcripts.formats import ImportLimits, ImportStats, Record, RowError, iter_records
from transcripts.formats.limits import MAX_EXTERNAL_ID, SCENARIO_TITLE_CHARS
from transcripts.importing.copy_encoding import COPY_COLUMNS, IMPORT_ORIGIN, Row, RowBuilder
from transcripts.importing.progress import Counters
from transcripts.models import Scenario, Transcript, TranscriptImport

#: Records per COPY batch: large enough to amortise round trips, small enough to bound memory and
#: the tail (the last batch is written after parsing ends, with nothing left to overlap it).
BATCH_SIZE = 2000
#: The first batch is small so that PostgreSQL has work within milliseconds; sizes then double.
FIRST_BATCH = 250
#: Rows per write into an open COPY (~50 KB): fewer round trips through psycopg than one per row,
#: yet a steady stream to the server.
FEED_ROWS = 32
#: First key of the advisory lock that serialises imports into one workspace (second: its id).
ADVISORY_NAMESPACE = 7_310_001

TRANSCRIPTS = Transcript._meta.db_table
IMPORTS = TranscriptImport._meta.db_table
WORKSPACES = Workspace._meta.db_table
# COPY runs on psycopg directly, so its errors arrive unwrapped by Django.
_UNIQUE_ERRORS = (IntegrityError, psycopg.errors.IntegrityError)

# The queries, built once. Table names come from the models' metadata and the origin is a
# constant (written literally so the planner can match the partial indexes); every value that
# varies is a parameter.
_ANY_CLASH_POSSIBLE = f"""
    SELECT EXISTS (SELECT 1 FROM {TRANSCRIPTS}
                   WHERE workspace_id = %s AND origin = '{IMPORT_ORIGIN}')
        OR EXISTS (SELECT 1 FROM {TRANSCRIPTS} WHERE workspace_id = %s AND external_id <> '')
"""  # noqa: S608
_LOCK_PARENTS = f"""
    SELECT (SELECT count(*) FROM (SELECT 1 FROM {WORKSPACES} WHERE id = %s FOR KEY SHARE) AS w),
           (SELECT count(*) FROM (SELECT 1 FROM {IMPORTS} WHERE id = %s FOR KEY SHARE) AS i)
"""  # noqa: S608
# Duplicates are imported transcripts with the same content (a re-run that happens to give the
# same conversation is not one); an external id is unique across all origins.
_KNOWN = f"""
    SELECT content_hash, external_id, id, TRUE FROM {TRANSCRIPTS}
    WHERE workspace_id = %s AND origin = '{IMPORT_ORIGIN}' AND content_hash = ANY(%s)
    UNION ALL
    SELECT content_hash, external_id, id, origin = '{IMPORT_ORIGIN}' FROM {TRANSCRIPTS}
    WHERE workspace_id = %s AND external_id <> '' AND external_id = ANY(%s)
"""  # noqa: S608


class Abort(Exception):
    """Roll back the import's transaction (all-or-nothing mode with rejected rows)."""


@dataclass
class Batch:
    rows: list[Row] = field(default_factory=list)
    scenarios: list[Record] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    items: int = 0


class Writer:
    """Writes one import's transcripts on the caller's (Django) connection, in its transaction.

    Per batch: one query finds which hashes and external ids already exist in the workspace (earlier
    batches of this import included: same transaction); duplicates are dropped, clashing external
    ids rejected, and the rest goes to ``COPY`` straight into the transcript table.

    Overlap without threads: a batch's rows are not sent at once but streamed into an open ``COPY``
    a few rows at a time while the *next* batch is being parsed (:meth:`feed`), so PostgreSQL
    parses and indexes them on another core while Python parses. (A parser thread was tried: the
    GIL hand-offs on every socket wait made it slower.) Imports into one workspace take an advisory
    lock so two cannot race between the check and the COPY; if some other writer still does, the
    batch's savepoint rolls back and it is checked and written again.
    """

    SEEN_CAP = 1_000_000

    def __init__(self, import_run: TranscriptImport, counters: Counters) -> None:
        self.run = import_run
        self.counters = counters
        self.workspace_id = import_run.workspace_id
        self.cursor = connection.cursor()
        self.cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY_NAMESPACE, self.workspace_id]
        )
        # A workspace with no imported transcripts and no external ids yet (the usual first
        # import) needs no lookups: duplicates can only come from this file, and a set of the
        # hashes written so far finds them. Past SEEN_CAP hashes the set is dropped and lookups
        # take over (they see earlier batches: same transaction), so memory stays bounded.
        cursor = self.cursor
        cursor.execute(_ANY_CLASH_POSSIBLE, [self.workspace_id, self.workspace_id])
        self.lookups = bool(cursor.fetchone()[0])
        self.replica = self._plan_key_checks()
        self.seen: set[str] = set()
        self.pending: list[bytes] = []  # checked rows of the last batch, not yet sent
        self.sent = 0
        self.tick = 0
        self.batch_rows: list[Row] = []  # that batch, kept for a retry
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
            cursor.execute(_LOCK_PARENTS, [self.workspace_id, self.run.pk])
            if cursor.fetchone() == (1, 1):
                return True
            # Deleted under us: the ordinary checks below fail the import with PostgreSQL's error.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        return False

    def _start_copy(self) -> Any:
        if self.replica:
            # SET LOCAL: back to normal at the end of the transaction even if we never reset it.
            self.cursor.execute("SET LOCAL session_replication_role = replica")
        return self.cursor.copy(f"COPY {TRANSCRIPTS} ({COPY_COLUMNS}) FROM STDIN")

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

    def _rewrite(self, rows: list[Row]) -> None:
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
                self.copy_context.__exit__(Abort, Abort(), None)

    # -- batches --------------------------------------------------------------------------------
    def add_batch(self, batch: Batch, *, stop_on_reject: bool) -> None:
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

    def _check(self, rows: list[Row]) -> list[bytes]:
        """The COPY lines of ``rows`` that are new; counts duplicates and rejects id clashes."""
        if not self.lookups:
            if len(self.seen) + len(rows) <= self.SEEN_CAP:
                return self._check_in_memory(rows)
            self.lookups, self.seen = True, set()
        cursor = self.cursor
        cursor.execute(
            _KNOWN,
            [
                self.workspace_id,
                [r.content_hash for r in rows],
                self.workspace_id,
                [r.external_id for r in rows if r.external_id],
            ],
        )
        known_hashes: set[str] = set()
        id_owner: dict[str, tuple[str, int, bool]] = {}
        for digest, external_id, pk, imported in cursor.fetchall():
            if imported:
                known_hashes.add(digest)
            if external_id:
                id_owner[external_id] = (digest, pk, imported)
        seen: set[str] = set()
        fresh: list[bytes] = []
        for row in rows:
            digest = row.content_hash
            if digest in known_hashes or digest in seen:
                self.counters.duplicates += 1
                continue
            owner = id_owner.get(row.external_id) if row.external_id else None
            if owner is not None:
                # Not a duplicate (that was checked above), so the id is someone else's.
                what = "with different content" if owner[2] else "(a model re-run)"
                self.counters.reject(
                    row.line,
                    "external_id",
                    f"external_id {row.external_id!r} already used by transcript {owner[1]} {what}",
                )
                continue
            seen.add(digest)
            fresh.append(row.data)
        return fresh

    def _check_in_memory(self, rows: list[Row]) -> list[bytes]:
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
        hashes = {r.content_hash for r in records}
        # Any scenario of the workspace with this prompt, whatever its source: one per content.
        existing = set(
            Scenario.objects.filter(
                workspace_id=self.workspace_id, content_hash__in=hashes
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
                source=Scenario.Source.IMPORT,
                title=first_user[:SCENARIO_TITLE_CHARS],
                messages=record.messages,
                content_hash=record.content_hash,
                external_id=(self.run.id_prefix + record.external_id)[:MAX_EXTERNAL_ID]
                if record.external_id
                else "",
                metadata=record.metadata,
                import_run=self.run,
                created_at=now,
            )
        # ignore_conflicts: a concurrent import of the same prompt must not fail this one.
        Scenario.objects.bulk_create(list(fresh.values()), ignore_conflicts=True)
        self.counters.scenarios += len(fresh)


def load(
    import_run: TranscriptImport,
    stream: IO[bytes],
    writer: Writer,
    counters: Counters,
    stats: ImportStats,
    *,
    limits: ImportLimits,
    all_or_nothing: bool,
    on_batch: Callable[[bool], None],
) -> None:
    """Parse ``stream`` into batches; the writer streams each batch while the next is parsed.

    ``on_batch(final)`` is called after every batch (``final=False``) and once at the end
    (``final=True``) to publish progress.
    """
    items = iter_records(
        stream,
        format=import_run.format or None,
        filename=import_run.filename,
        limits=limits,
        stats=stats,
    )
    builder = RowBuilder(
        workspace_id=import_run.workspace_id,
        import_id=import_run.pk,
        created_at=timezone.now(),
        source=import_run.source,
        id_prefix=import_run.id_prefix,
        tags=import_run.tags,
    )
    build = builder.build
    batch = Batch()
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
                row = build(item)
                if type(row) is RowError:
                    batch.errors.append(row)
                else:
                    batch.rows.append(row)
            feed()
            if batch.items >= limit:
                counters.rows_seen += batch.items
                writer.add_batch(batch, stop_on_reject=all_or_nothing)
                batch = Batch()
                limit = min(limit * 2, BATCH_SIZE)
                on_batch(False)
        counters.rows_seen += batch.items
        writer.add_batch(batch, stop_on_reject=all_or_nothing)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    on_batch(True)
