"""A running import's lease: how long a worker may hold it without a sign of life, and the
heartbeat that renews it while the import works.

Why a lease: a worker that is killed (OOM, SIGKILL, a lost machine) runs no clean-up code, and the
zero-setup broker does not redeliver its message. Without a lease its import would stay
``running`` forever. With one, ``lease_expires_at`` in the past means "nobody is working on this";
a claim may take it over and the sweep re-queues or fails it.

The heartbeat is a thread with its own connection, not a call between batches: an import can be
busy for a long time without finishing a batch (waiting for the workspace's import lock behind
another import, or committing a large transaction), and that is work, not death. A process that
is really stuck is ended by Celery's hard time limit, which kills the thread with it.

The worker's claim is fenced by ``attempts``: each claim increments it, the heartbeat only renews
the row while ``attempts`` is still the one it claimed, and the import's final write checks the
same (``transcripts.services``), so a worker that lost its lease can never overwrite the result
of the one that took over.
"""

from __future__ import annotations

import logging
import threading
from contextlib import suppress
from datetime import datetime, timedelta
from types import TracebackType

import psycopg
from django.conf import settings
from django.utils import timezone

from transcripts.importing.progress import progress_connection
from transcripts.models import TranscriptImport

logger = logging.getLogger(__name__)

_RENEW = (
    f"UPDATE {TranscriptImport._meta.db_table} SET lease_expires_at = %s "  # noqa: S608
    "WHERE id = %s AND status = 'running' AND attempts = %s"
)


def lease_seconds() -> int:
    """How long a claim holds without renewal (``CLAUSEBOOK_IMPORT_LEASE_SECONDS``)."""
    return max(2, int(getattr(settings, "CLAUSEBOOK_IMPORT_LEASE_SECONDS", 120)))


def max_attempts() -> int:
    """Worker runs an import gets before a lost one is failed (``CLAUSEBOOK_IMPORT_MAX_ATTEMPTS``)."""
    return max(1, int(getattr(settings, "CLAUSEBOOK_IMPORT_MAX_ATTEMPTS", 3)))


def upload_retention() -> timedelta:
    """How long a failed import keeps its upload for a retry (``CLAUSEBOOK_IMPORT_KEEP_UPLOAD_DAYS``)."""
    return timedelta(days=max(0, int(getattr(settings, "CLAUSEBOOK_IMPORT_KEEP_UPLOAD_DAYS", 7))))


def lease_until(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) + timedelta(seconds=lease_seconds())


class Heartbeat:
    """Renews ``import_run``'s lease every quarter lease while the ``with`` block runs.

    Renewal is best effort: if the database is briefly unreachable the lease may run out, and the
    import's final, fenced write finds out (it never commits over another worker's claim).
    """

    def __init__(self, import_run: TranscriptImport) -> None:
        self.import_id = import_run.pk
        self.attempt = import_run.attempts
        self.interval = lease_seconds() / 4
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        self._thread = threading.Thread(
            target=self._run, name=f"import-{self.import_id}-lease", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop renewing and wait for the thread (call before the import's final write: the
        thread must not be waiting on the row that write locks)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        with progress_connection() as db:
            if db is None:
                logger.warning("import %s: no connection for its lease heartbeat", self.import_id)
                return
            while not self._stop.wait(self.interval):
                with suppress(psycopg.Error):
                    db.execute(_RENEW, [lease_until(), self.import_id, self.attempt])
