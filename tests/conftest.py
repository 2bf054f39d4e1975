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
