"""An import's counters, and publishing them while the import's own transaction is still open.

Progress goes through a second, autocommit connection so the page's progress bar moves while the
import's transaction is open. That connection only ever touches the import row, which the import's
transaction never updates before it ends, so neither waits on the other.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import IO, Any

import psycopg
from django.db import connection

from transcripts.models import TranscriptImport

#: Rejected rows kept on the import row (the count is always exact).
MAX_STORED_ERRORS = 1000
#: Seconds between two progress writes: a bar polled a few times a second needs no more, and a
#: 100k import no longer pays a round trip for each of its 50 batches.
PUBLISH_INTERVAL = 0.25

ProgressCallback = Callable[[TranscriptImport], None]

# Only while running: a late write must never overwrite the final counters. (The table name
# comes from the model; every value is a parameter.)
_UPDATE = (
    f"UPDATE {TranscriptImport._meta.db_table} "  # noqa: S608
    "SET bytes_read = %s, rows_seen = %s, created_count = %s, duplicate_count = %s, "
    "rejected_count = %s, scenario_count = %s "
    "WHERE id = %s AND status = 'running'"
)


class CountingReader:
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
class Counters:
    """What an import did so far; ``errors`` keeps the first :data:`MAX_STORED_ERRORS` rejections."""

    rows_seen: int = 0
    created: int = 0
    duplicates: int = 0
    rejected: int = 0
    scenarios: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, line: int, field_name: str, message: str) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append({"line": line, "field": field_name, "message": message})


@contextmanager
def progress_connection() -> Iterator[psycopg.Connection | None]:
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


class ProgressPublisher:
    """Publishes counters after a batch, at most every :data:`PUBLISH_INTERVAL` seconds (and
    always at the end): on the import row (other connection) and to ``callback`` (the CLI's
    progress bar)."""

    def __init__(
        self,
        import_run: TranscriptImport,
        reader: CountingReader,
        counters: Counters,
        progress_db: psycopg.Connection | None,
        callback: ProgressCallback | None,
    ) -> None:
        self.import_run = import_run
        self.reader = reader
        self.counters = counters
        self.progress_db = progress_db
        self.callback = callback
        self.published = 0.0

    def __call__(self, final: bool = True) -> None:
        now = time.monotonic()
        if not final and now - self.published < PUBLISH_INTERVAL:
            return
        self.published = now
        import_run, counters = self.import_run, self.counters
        import_run.bytes_read = self.reader.count
        import_run.rows_seen = counters.rows_seen
        import_run.created_count = counters.created
        import_run.duplicate_count = counters.duplicates
        import_run.rejected_count = counters.rejected
        import_run.scenario_count = counters.scenarios
        if self.progress_db is not None:
            with suppress(psycopg.Error):
                self.progress_db.execute(
                    _UPDATE,  # type: ignore[arg-type]
                    [
                        self.reader.count,
                        counters.rows_seen,
                        counters.created,
                        counters.duplicates,
                        counters.rejected,
                        counters.scenarios,
                        import_run.pk,
                    ],
                )
        if self.callback is not None:
            self.callback(import_run)
