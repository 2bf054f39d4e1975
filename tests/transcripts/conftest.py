"""Worker fixtures for the import recovery tests: more workers after one was killed, and the kill.

The shared ``celery_worker`` fixture starts one worker per test; a test that kills it needs another
to prove the import runs again. These start more on the same test database and broker folder
(never purging it: the message the sweep sent must survive) and stop them at teardown.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, database_url_for_subprocess, worker_argv


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux ``/proc``): a prefork worker's pool processes."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def kill_hard(process: subprocess.Popen) -> None:
    """SIGKILL a worker and its pool processes at once, the way the OOM killer or a lost machine
    ends them: no shutdown code runs, nothing is acknowledged or requeued."""
    for child in _children(process.pid):
        os.kill(child, signal.SIGKILL)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


@pytest.fixture
def start_worker(
    transactional_db: None, tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start another real Celery worker; every one started is stopped after the test."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    started: list[tuple[subprocess.Popen, object]] = []

    def start(*options: str, **environ: str) -> subprocess.Popen:
        """Start one; ``options`` go to ``celery worker``, ``environ`` to its environment."""
        log_path = tmp_path / f"worker-{len(started)}.log"
        log = open(log_path, "w")  # noqa: SIM115 - closed at teardown
        process = subprocess.Popen(
            [*worker_argv(f"test-{os.getpid()}-{len(started)}@%h"), *options],
            cwd=ROOT,
            env={**env, **environ},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append((process, log))
        deadline = time.monotonic() + 30
        while "ready." not in log_path.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("The extra Celery worker did not start:\n" + log_path.read_text())
            time.sleep(0.3)
        return process

    yield start
    for process, log in started:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()  # type: ignore[attr-defined]
