"""``make demo`` serves with gunicorn and Ctrl-C leaves nothing behind.

The demo runs as a user runs it: ``manage.py demo`` with no DATABASE_URL (so on an embedded
PostgreSQL of its own, in a temporary var/ folder, never the developer's), in a session of its
own like a terminal's foreground job, stopped by a SIGINT to that process group. Before the
SIGINT, a process that joined the embedded database (a ``manage.py shell``) and a gunicorn worker
are SIGKILLed: a stale registration must not keep PostgreSQL running.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from clausebook import serving
from clausebook.demo import DEMO_PASSWORD
from tests.conftest import ROOT

pytestmark = pytest.mark.demo

START_TIMEOUT = 180.0  # a fresh var/: migrate and seed, slow on a busy machine
STOP_DEADLINE = 12.0  # Ctrl-C to nothing left: "a few seconds", with room for a busy machine


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_is_free(port: int) -> bool:
    """Nothing listens: a new server could bind it (as servers do, past TIME_WAIT sockets)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - local server
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _processes_marked(marker: str) -> dict[int, str]:
    """Live processes (zombies excluded) whose environment holds ``marker`` (the demo's tree and
    the joined shell) or whose command line names its folder (PostgreSQL overwrites its
    environment with its process titles, but its postmaster's command line keeps ``-D``)."""
    folder = marker.split("=", 1)[1]
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        named = marker.encode() in environ.split(b"\0") or folder in cmdline
        if state not in {"Z", "X"} and named:
            found[int(entry.name)] = cmdline
    return found


def _wait_until(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout} s")


@pytest.fixture
def demo(request, tmp_path: Path) -> Iterator[dict]:  # type: ignore[no-untyped-def,type-arg]
    """``manage.py demo`` on a free port, with var/ in a temporary folder with a space in it;
    an indirect parameter adds environment variables."""
    var = tmp_path / "var dir"
    var.mkdir()
    port = _free_port()
    drop = {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", "CLAUSEBOOK_BROKER_DIR", "CLAUSEBOOK_PGDATA"}
    env = {key: value for key, value in os.environ.items() if key not in drop}
    marker = f"CLAUSEBOOK_VAR_DIR={var}"
    env.update(
        DEBUG="true",
        CLAUSEBOOK_VAR_DIR=str(var),
        CLAUSEBOOK_LOCAL_DIR=str(var),
        STATIC_ROOT=str(
            var / "static"
        ),  # collectstatic (DEBUG off) writes here, not in the checkout
        PYTHONUNBUFFERED="1",
    )
    env.update(getattr(request, "param", {}))
    log = open(tmp_path / "demo.log", "w+")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "manage.py", "demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if process.poll() is not None:
            pytest.fail("manage.py demo exited:\n" + (tmp_path / "demo.log").read_text())
        try:
            return _get(f"{base}/healthz")[0] == 200
        except OSError:
            return False

    try:
        _wait_until(answers, START_TIMEOUT, "the demo did not answer HTTP")
        yield {
            "process": process,
            "base": base,
            "port": port,
            "env": env,
            "var": var,
            "marker": marker,
            "log": tmp_path / "demo.log",
        }
    finally:
        # A failed assertion must not leave the demo (or its PostgreSQL) running.
        for pid in _processes_marked(marker):
            if pid != os.getpid():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        process.wait(timeout=10)
        log.close()


def test_the_demo_serves_pages_and_static_files_with_gunicorn(demo) -> None:  # type: ignore[no-untyped-def]
    status, headers, body = _get(demo["base"] + "/accounts/login/")
    assert status == 200
    assert headers.get("Server", "").startswith("gunicorn"), headers
    assert b"Sign in" in body or b"sign in" in body.lower()

    status, headers, body = _get(demo["base"] + "/static/css/app.css")
    assert status == 200, "static files are served"
    assert headers["Content-Type"].startswith("text/css")
    assert body == (ROOT / "static" / "css" / "app.css").read_bytes()

    _wait_until(lambda: "Press Ctrl-C" in demo["log"].read_text(), 30, "no banner")
    running = _processes_marked(demo["marker"]).values()
    assert any("gunicorn" in cmd and "--workers" in cmd for cmd in running), running
    assert not any("runserver" in cmd for cmd in running), "not the development server"
    # One worker per core and a spare (the embedded server's 100 connections allow far more).
    workers = serving.cores() + 1
    assert f"Web server: gunicorn, {workers} workers × 4 threads" in demo["log"].read_text()
    assert sum("gunicorn" in cmd for cmd in running) == workers + 1, running  # and the master


def test_the_worker_runs_below_the_web_server_and_needs_no_beat_process(demo) -> None:  # type: ignore[no-untyped-def]
    import psutil

    from clausebook.management.commands.demo import WORKER_CONCURRENCY, WORKER_NICENESS

    def started() -> list[psutil.Process]:
        roots = [
            p
            for p in psutil.Process(demo["process"].pid).children()
            if "celery" in p.name() or "celery" in " ".join(p.cmdline())
        ]
        return roots if roots and roots[0].children() else []

    (worker,) = _wait_until(started, 60, "no Celery worker with its pool")
    assert "--sweeps" in worker.cmdline()
    web = next(
        p
        for p in psutil.Process(demo["process"].pid).children()
        if "gunicorn" in " ".join(p.cmdline())
    )
    assert worker.nice() - web.nice() == WORKER_NICENESS
    # Its pool, and nothing else: the sweeps come from the worker's own timer, not a beat child.
    pool = worker.children()
    assert len(pool) == WORKER_CONCURRENCY, [" ".join(p.cmdline()) for p in pool]
    assert all(p.nice() == worker.nice() for p in pool)


def test_ctrl_c_stops_everything_also_after_a_joined_process_was_killed(demo) -> None:  # type: ignore[no-untyped-def]
    process = demo["process"]
    pgdata = demo["var"] / "pgdata"
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])

    # A shell that joins the embedded database (it registers itself), then dies hard.
    joined = demo["var"] / "shell.out"
    shell = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.db import connection; connection.ensure_connection(); "
            "print('joined', flush=True); import time; time.sleep(600)",
        ],
        cwd=ROOT,
        env=demo["env"],
        stdout=joined.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    _wait_until(
        lambda: "joined" in joined.read_text().split(), 30, "the shell did not reach the database"
    )
    registered = (pgdata / ".handle_pids.json").read_text()
    assert str(shell.pid) in registered, "the shell registered with the embedded server"
    shell.kill()
    shell.wait(timeout=10)

    # And one of gunicorn's workers (the master starts another).
    before = _processes_marked(demo["marker"])
    workers = [pid for pid, cmd in before.items() if "gunicorn" in cmd]
    assert len(workers) >= 2, before
    os.kill(max(workers), signal.SIGKILL)
    assert any("celery" in cmd for cmd in before.values()), "the Celery worker runs"
    assert postmaster in before, "the embedded PostgreSQL runs"

    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the demo's terminal
    started = time.monotonic()
    process.wait(timeout=STOP_DEADLINE)
    _wait_until(
        lambda: not _processes_marked(demo["marker"]),
        max(0.5, STOP_DEADLINE - (time.monotonic() - started)),
        "no process of the demo (web server, worker, PostgreSQL) may be left",
    )
    assert process.returncode == 0, demo["log"].read_text()
    assert not (pgdata / "postmaster.pid").exists(), "PostgreSQL shut down cleanly"
    assert not Path(f"/proc/{postmaster}").exists()
    assert _port_is_free(demo["port"])
    assert "Stopped." in demo["log"].read_text()


PLAIN_HTTP_LOCAL_INSTALL = {
    "DEBUG": "false",
    "PLAIN_HTTP": "true",
    "ALLOWED_HOSTS": "localhost,127.0.0.1",
    "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
}


@pytest.mark.parametrize("demo", [PLAIN_HTTP_LOCAL_INSTALL], indirect=True, ids=["no-debug"])
def test_without_debug_on_plain_http_a_local_install_signs_in_and_serves_static_files(
    demo,
) -> None:  # type: ignore[no-untyped-def]
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with opener.open(demo["base"] + "/accounts/login/", timeout=30) as response:
        assert response.url == demo["base"] + "/accounts/login/", "no redirect to https"
        assert "Strict-Transport-Security" not in response.headers
        page = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, "the login form carries its CSRF token"
    form = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": token.group(1),
            "login": "admin@example.com",
            "password": DEMO_PASSWORD,
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - local server
        demo["base"] + "/accounts/login/", data=form, headers={"Referer": demo["base"] + "/"}
    )
    with opener.open(request, timeout=30) as response:
        assert response.status == 200
        assert "/accounts/login/" not in response.url, "signed in: the cookies work on http://"

    status, headers, body = _get(demo["base"] + "/static/css/app.css")
    assert status == 200, "WhiteNoise serves the collected static files without DEBUG"
    assert body == (ROOT / "static" / "css" / "app.css").read_bytes()


@pytest.mark.django_db
def test_the_demo_migrates_when_a_migration_file_is_not_recorded_as_applied() -> None:
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    from clausebook.management.commands.demo import migrations_pending

    assert not migrations_pending(), "the test database has every migration: no migrate"
    latest = max(
        name for app, name in MigrationRecorder(connection).applied_migrations() if app == "reviews"
    )
    MigrationRecorder(connection).record_unapplied("reviews", latest)
    assert migrations_pending(), f"reviews.{latest} is on disk but not applied: migrate runs"
