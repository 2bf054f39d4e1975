"""How many web server processes a machine and its database can carry.

gunicorn's rule of thumb is two workers per core plus one; each gthread worker holds up to one
database connection per thread (Django keeps one per thread). PostgreSQL refuses connections past
``max_connections``, and a refused connection is a 500 for a user, so the worker count is the
smaller of the two: what the cores suggest and what the database allows once the Celery worker,
``manage.py`` commands, a test run and the superuser reserve have their share.

Standard library only (plus an optional psycopg probe), so gunicorn's config module can import
it before Django is set up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# Threads per gunicorn worker: requests wait on PostgreSQL most of their time, so a few threads
# per process serve more requests for the same memory; keep-alive connections idle in the
# worker's poller without holding a thread.
DEFAULT_THREADS = 4
# Connections left for everything that is not the web server: manage.py commands and shells,
# a test run on the same server, the demo process itself, psql.
HEADROOM = 10
# PostgreSQL's own default, assumed when the server cannot be asked.
DEFAULT_MAX_CONNECTIONS = 100


@dataclass(frozen=True)
class DatabaseLimits:
    max_connections: int
    superuser_reserved: int = 3
    reserved: int = 0

    @property
    def usable(self) -> int:
        """Connections an ordinary role may open."""
        return self.max_connections - self.superuser_reserved - self.reserved


@dataclass(frozen=True)
class WebPlan:
    workers: int
    threads: int

    @property
    def connections(self) -> int:
        return self.workers * self.threads


def cores() -> int:
    """The cores this process may run on (its CPU affinity, as containers restrict it)."""
    if hasattr(os, "process_cpu_count"):  # Python 3.13
        return os.process_cpu_count() or 1
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def read_limits(cursor: object) -> DatabaseLimits:
    """The connection limits of the server behind a DB-API ``cursor``."""
    values = {}
    for name in ("max_connections", "superuser_reserved_connections", "reserved_connections"):
        try:
            cursor.execute(f"SHOW {name}")  # type: ignore[attr-defined]  # noqa: S608 - fixed names
            values[name] = int(cursor.fetchone()[0])  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - reserved_connections is PostgreSQL 16+
            if name == "max_connections":
                raise
            break
    return DatabaseLimits(
        max_connections=values["max_connections"],
        superuser_reserved=values.get("superuser_reserved_connections", 3),
        reserved=values.get("reserved_connections", 0),
    )


def probe_limits(database_url: str) -> DatabaseLimits:
    """Ask the server at ``database_url``; PostgreSQL's defaults when it does not answer."""
    try:
        import psycopg

        with psycopg.connect(database_url, connect_timeout=5) as conn, conn.cursor() as cursor:
            return read_limits(cursor)
    except Exception:  # noqa: BLE001 - a config module must not stop the server starting
        return DatabaseLimits(max_connections=DEFAULT_MAX_CONNECTIONS)


def plan(
    *,
    limits: DatabaseLimits,
    worker_concurrency: int,
    cpu_cores: int | None = None,
    threads: int = DEFAULT_THREADS,
    per_core: int = 2,
) -> WebPlan:
    """Workers and threads for gunicorn: ``min(per_core × cores + 1, database budget / threads)``.

    ``per_core=2`` is gunicorn's advice for a server (a request waiting on the network in one
    process while another computes). ``make demo`` passes 1, ``cores + 1``: the threads already
    cover the waits, one process per core lets every core run Python (the GIL), and the one
    extra keeps a page served while a worker is busy or being replaced; each further process
    costs memory and start time on a laptop serving one person.

    ``worker_concurrency`` is the Celery pool size sharing the database; its main process and
    beat take one connection each on top.
    """
    budget = limits.usable - (worker_concurrency + 2) - HEADROOM
    wanted = per_core * (cpu_cores or cores()) + 1
    if budget < threads:
        # A tiny server (max_connections near the reserve): one process, as many threads as fit.
        return WebPlan(workers=1, threads=max(1, budget))
    return WebPlan(workers=max(1, min(wanted, budget // threads)), threads=threads)
