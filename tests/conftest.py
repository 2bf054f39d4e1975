"""Shared fixtures: personas, a real Celery worker, and Chromium for Playwright."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.personas import Personas, make_personas

# Playwright runs an event loop in the test thread; without this, Django refuses the ORM calls
# (and the test database setup) that happen there. The project has no async code to protect.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "docs" / "screenshots"
WORKER_LOG = ROOT / "var" / f"test-worker-{os.getpid()}.log"


@pytest.fixture(autouse=True)
def _empty_process_caches() -> None:
    """Every test starts with cold render caches, so query counts never depend on test order."""
    from clausebook.caching import clear_all

    clear_all()


@pytest.fixture
def personas(db: None) -> Personas:
    return make_personas()


# --- Browser -------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        # A missing browser is a failure, never a skip: CI must not pass without browser tests.
        pytest.fail(
            f"Chromium not found at {CHROMIUM}; install Debian's chromium or set CHROMIUM_PATH"
        )
    return {
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args() -> dict:
    return {"viewport": {"width": 1360, "height": 860}}


@pytest.fixture
def screenshot(page):  # type: ignore[no-untyped-def]
    """Save a screenshot for the user guide: ``screenshot("spec-clause")``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str, full_page: bool = False) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


def database_url_for_subprocess() -> str:
    """The test database as a URL, for subprocesses (workers, CLI runs) that must see it."""
    from django.db import connection

    db = connection.settings_dict
    host = db["HOST"] or ""
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    if host.startswith("/"):
        return f"postgres://{auth}@/{db['NAME']}?host={host}"
    return f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def worker_argv(hostname: str) -> list[str]:
    """The command line of a test Celery worker: one prefork child, no chatter between workers."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "clausebook.celery",
        "worker",
        "--loglevel",
        "INFO",
        "--concurrency",
        "1",
        "--pool",
        "prefork",
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
        "--hostname",
        hostname,
    ]


# --- Celery worker -----------------------------------------------------------------------
@pytest.fixture
def worker_outbox(tmp_path: Path) -> Path:
    """The folder where the worker process writes the emails it sends, one file per message."""
    outbox = tmp_path / "worker-outbox"
    outbox.mkdir()
    return outbox


def read_outbox(outbox: Path) -> list[EmailMessage]:
    """The messages Django's file-based backend wrote to ``outbox``, oldest first."""
    messages = []
    for path in sorted(outbox.iterdir()):
        # Each file holds one or more messages, each followed by a line of 79 dashes.
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                messages.append(message_from_bytes(chunk, policy=email_policy.default))
    return messages


@pytest.fixture
def celery_worker(transactional_db: None, worker_outbox: Path) -> Iterator[subprocess.Popen]:
    """A real ``celery worker`` process on the test database and the configured broker."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "CLAUSEBOOK_TEST_OUTBOX": str(worker_outbox),
    }
    from clausebook.celery import app

    WORKER_LOG.parent.mkdir(parents=True, exist_ok=True)

    app.control.purge()
    log = open(WORKER_LOG, "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        worker_argv(f"test-{os.getpid()}@%h"),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.3)
        if process.poll() is not None:
            log.close()
            pytest.fail("The Celery worker exited at start:\n" + (WORKER_LOG).read_text())
        if "ready." in (WORKER_LOG).read_text():
            break
    else:
        process.kill()
        pytest.fail("The Celery worker did not become ready within 30 s")
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns a truthy value or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


# --- Redis as broker, whatever the run's broker ----------------------------------------------
#: The Redis the broker-specific tests use when the run's broker is the filesystem one: the
#: machine's, on a database number of its own (CI runs the suite on both brokers).
REDIS_TEST_URL = os.environ.get("CLAUSEBOOK_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def switch_celery_broker(url: str, transport_options: dict) -> tuple[str, dict]:
    """Point the test process's Celery app at another broker (what ``delay_on_commit`` and
    ``control.purge`` use); the previous URL and options, to switch back. Celery reads the
    URL from the environment's CELERY_BROKER_URL first: change that after, not before."""
    from kombu import pools

    from clausebook.celery import app

    previous = (app.conf.broker_url, dict(app.conf.broker_transport_options or {}))
    # kombu keeps its pools by connection in a registry of its own: close and forget them all.
    pools.reset()
    app.conf.broker_url = url
    app.conf.broker_transport_options = transport_options
    # The connection and producer pools were made for the old URL.
    app._pool = None
    app.amqp._producer_pool = None
    return previous


@pytest.fixture
def redis_broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Redis as the broker for this test and the workers it starts: the run's own when it is
    Redis, else :data:`REDIS_TEST_URL`. Unreachable Redis is a failure, never a skip."""
    import redis

    configured = os.environ.get("CELERY_BROKER_URL", "")
    url = configured if configured.startswith("redis://") else REDIS_TEST_URL
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.exceptions.RedisError as error:
        pytest.fail(f"This test needs Redis as broker and {url} is unreachable: {error}")
    options = {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", 7200))}
    from django.test import override_settings

    # Before the environment changes: Celery's broker_url prefers CELERY_BROKER_URL from it.
    previous = switch_celery_broker(url, options)
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    try:
        with override_settings(CELERY_BROKER_URL=url, CELERY_BROKER_TRANSPORT_OPTIONS=options):
            yield url
    finally:
        switch_celery_broker(*previous)


@pytest.fixture
def redis_celery_worker(redis_broker: str, celery_worker: subprocess.Popen) -> subprocess.Popen:
    """The ``celery_worker`` fixture's worker, on Redis as broker (see :func:`redis_broker`)."""
    return celery_worker


def start_worker_process(hostname: str, log_path: Path) -> subprocess.Popen:
    """Another real worker on the test database and the broker the environment names, ready
    when this returns (the caller stops it). For tests that need more than one worker."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w")  # noqa: SIM115 - the process owns it until it exits
    process = subprocess.Popen(
        worker_argv(hostname), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.3)
        if process.poll() is not None:
            pytest.fail(f"The Celery worker {hostname} exited at start:\n" + log_path.read_text())
        if "ready." in log_path.read_text():
            return process
    process.kill()
    pytest.fail(f"The Celery worker {hostname} did not become ready within 30 s")


def stop_worker_process(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
