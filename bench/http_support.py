"""Helpers for the HTTP benchmarks: a database of their own, ``manage.py demo`` on a free port,
fast generated transcripts, and request timing.

The server runs in child processes against ``<bench database>_http`` (``clausebook_bench_http``;
with ``BENCH_DATABASE_NAME`` set, named after it, so two runs side by side never drop each other's
database); this process prepares data in the same database through :func:`use_database`, which
points Django's default connection there for the duration of a block and back afterwards (the
other benchmark modules keep the bench database).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 240.0
# Raised for the benchmark only: it sends writes faster than a person would, and a 429 would
# measure the throttle instead of the request.
UNTHROTTLED = "100000/s burst 100000"


def database_name() -> str:
    """The HTTP benchmarks' database: the bench database's name with ``_http``."""
    from django.conf import settings

    return f"{settings.DATABASES['default']['NAME']}_http"


def var_dir() -> Path:
    """The server's var folder (broker, uploads, beat schedule): its own, so a ``make demo``
    running elsewhere on the machine never picks up this server's import tasks, nor it theirs."""
    return Path("/tmp") / database_name().replace("_", "-")  # noqa: S108 - scratch, per run


def _admin_params() -> dict[str, Any]:
    """Connection parameters for the server the other benchmarks use (``DATABASE_URL``, or the
    embedded one), on its ``postgres`` database."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    params: dict[str, Any] = {
        "dbname": "postgres",
        "user": db["USER"] or "postgres",
        "host": db["HOST"] or None,
        "autocommit": True,
    }
    if db.get("PORT"):
        params["port"] = db["PORT"]
    if db.get("PASSWORD"):
        params["password"] = db["PASSWORD"]
    return params


def database_url() -> str:
    """A ``DATABASE_URL`` for the server's processes: the same server, the HTTP database."""
    params = _admin_params()
    user = quote(params["user"], safe="")
    password = f":{quote(params['password'], safe='')}" if params.get("password") else ""
    host = params["host"] or ""
    query = {}
    if host.startswith("/"):  # a socket folder (the embedded server): ?host=, as the demo does
        query["host"], host = host, ""
    if params.get("port"):
        if host:
            host = f"{host}:{params['port']}"
        else:
            query["port"] = str(params["port"])
    suffix = f"?{urlencode(query)}" if query else ""
    return f"postgres://{user}{password}@{host}/{database_name()}{suffix}"


def recreate_database() -> None:
    """Drop and create the HTTP benchmarks' database (migrated by ``manage.py demo``)."""
    import psycopg

    name = database_name()
    with psycopg.connect(**_admin_params()) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


@contextlib.contextmanager
def use_database() -> Iterator[None]:
    """Within the block, Django's default connection (ORM, services) uses the HTTP database."""
    from django.db import connection

    name = database_name()
    connection.close()
    saved = connection.settings_dict["NAME"]
    connection.settings_dict["NAME"] = name
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["NAME"] = saved


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DemoServer:
    """``manage.py demo`` (gunicorn and a Celery worker, as ``make demo``) on a free port."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.var_dir = var_dir()
        self.log = self.var_dir / "demo.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.banner = ""

    def start(self) -> float:
        """Start it and wait for the login page's 200: the seconds that took."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        env.update(
            DEBUG="true",  # as `make demo`
            DATABASE_URL=database_url(),
            CLAUSEBOOK_VAR_DIR=str(self.var_dir),
            API_WRITE_RATE=UNTHROTTLED,
            API_ANON_RATE=UNTHROTTLED,
        )
        env.pop("CLAUSEBOOK_BROKER_DIR", None)  # under the var folder
        started = time.perf_counter()
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv
                [sys.executable, "manage.py", "demo", "--port", str(self.port)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C goes to the demo only, as in a terminal
            )
        url = f"{self.base}/accounts/login/"
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"manage.py demo exited with {self.process.returncode}; see {self.log}"
                )
            if time.perf_counter() - started > STARTUP_TIMEOUT:
                raise RuntimeError(f"no 200 from {url} within {STARTUP_TIMEOUT:.0f} s")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        self.banner = next(
            (
                line.strip()
                for line in self.log.read_text(errors="replace").splitlines()
                if line.startswith("Web server:")
            ),
            "",
        )
        return elapsed

    def stop(self) -> None:
        """Ctrl-C, as a person would; then whatever is left of the tree is killed."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            tree = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            tree = []
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for child in tree:
            with contextlib.suppress(psutil.Error):
                child.kill()


# Six messages of ~250 characters each: ~1.5 KB a transcript, as the figures.
TEMPLATE_MESSAGES = [
    {
        "role": "user" if m % 2 else "assistant",
        "content": f"Message {m} of a generated conversation: "
        + "words about careful behaviour " * 7,
    }
    for m in range(1, 7)
]


def insert_interleaved(*, mine: int, others: list[int], count: int, every: int, tag: str) -> None:
    """``count`` transcripts for workspace ``mine``, one row in ``every``; the rows between go to
    ``others`` in turn, so ids interleave as when workspaces import side by side.

    One ``INSERT … SELECT generate_series`` of a template payload, with the foreign-key triggers
    off for the statement's transaction (``session_replication_role``: the workspaces exist).
    """
    from django.db import connection, transaction

    from transcripts.models import Transcript

    table = Transcript._meta.db_table
    other_case = " ".join(
        f"WHEN {i} THEN {pk}" for i, pk in enumerate(others)
    )  # ints, not user input
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            f"""
            INSERT INTO {table} (workspace_id, messages, message_count, content_hash,
                external_id, source, model, metadata, tags, pair_key, variant, origin, created_at)
            SELECT CASE WHEN g %% %(every)s = 0 THEN %(mine)s
                        ELSE CASE g %% %(n_others)s {other_case} END END,
                %(messages)s::jsonb, 6, md5(%(tag)s || '-' || g), '', 'bench-http', '',
                '{{}}'::jsonb, '{{}}', '', '', 'import', now()
            FROM generate_series(1, %(rows)s) AS g
            ORDER BY g
            """,  # noqa: S608 - the table name is the model's, the CASE holds ints
            {
                "every": every,
                "mine": mine,
                "n_others": len(others),
                "messages": json.dumps(TEMPLATE_MESSAGES),
                "tag": tag,
                "rows": count * every,
            },
        )


def timed(
    fn: Callable[[], object],
    *,
    runs: int,
    warmup: int = 5,
    before: Callable[[], object] | None = None,
    after: Callable[[object], object] | None = None,
) -> list[float]:
    """Milliseconds of ``fn`` over ``runs`` runs after ``warmup``; ``before``/``after`` untimed."""
    samples = []
    for run in range(warmup + runs):
        if before:
            before()
        start = time.perf_counter()
        value = fn()
        elapsed = (time.perf_counter() - start) * 1000
        if after:
            after(value)
        if run >= warmup:
            samples.append(elapsed)
    return samples


def expect(response: httpx.Response, *codes: int) -> httpx.Response:
    """The response, when its status is one of ``codes`` (200 by default); else an error that
    shows what the server said."""
    if response.status_code not in (codes or (200,)):
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:300]}"
        )
    return response
