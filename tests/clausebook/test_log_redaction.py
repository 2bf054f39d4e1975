"""Secrets in URLs never reach the access logs of runserver or gunicorn (issue 9).

On 0a5a311 every invitation link (``/invitations/<token>/``) was printed whole by the server.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from clausebook import logfilters
from tests.conftest import ROOT, database_url_for_subprocess

TOKEN = "Zq3-secretTOKENvalue_0123456789abcdefghijklmnop"  # noqa: S105 - a sample


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            f'"GET /invitations/{TOKEN}/ HTTP/1.1" 302 0',
            '"GET /invitations/[redacted]/ HTTP/1.1" 302 0',
        ),
        ("GET /invitations/12/accept/ 200", "GET /invitations/12/accept/ 200"),
        (
            f"GET /accounts/confirm-email/{TOKEN}/ 200",
            "GET /accounts/confirm-email/[redacted]/ 200",
        ),
        (
            f"GET /accounts/password/reset/key/1-{TOKEN}/ 302",
            "GET /accounts/password/reset/key/[redacted]/ 302",
        ),
        (f"GET /x/?a=1&token={TOKEN}&b=2 200", "GET /x/?a=1&token=[redacted]&b=2 200"),
        (f"GET /oidc/?code={TOKEN} 302", "GET /oidc/?code=[redacted] 302"),
        ("GET /w/policy-team/specs/ 200", "GET /w/policy-team/specs/ 200"),
    ],
)
def test_redact_replaces_only_the_secret(line: str, expected: str) -> None:
    assert logfilters.redact(line) == expected


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.mark.parametrize("name", logfilters.LOGGERS)
def test_the_filter_sits_on_every_logger_that_prints_request_lines(name: str) -> None:
    logger = logging.getLogger(name)
    capture = _Capture()
    logger.addHandler(capture)
    try:
        logger.warning('"%s" %s %s', f"GET /invitations/{TOKEN}/ HTTP/1.1", "302", "0")
    finally:
        logger.removeHandler(capture)
    assert capture.lines == ['"GET /invitations/[redacted]/ HTTP/1.1" 302 0']


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - local server
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _serve(command: list[str], port: int) -> Iterator[subprocess.Popen[str]]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail("the server exited: " + (process.stdout.read() if process.stdout else ""))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    yield process
    process.terminate()


SERVERS = {
    "gunicorn": lambda port: (
        [sys.executable, "-m", "gunicorn", "clausebook.wsgi:application"]
        + ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--access-logfile", "-"]
    ),
    "runserver": lambda port: (
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"] + ["--noreload"]
    ),
}


@pytest.fixture(params=list(SERVERS))
def server(request, db) -> Iterator[tuple[int, subprocess.Popen[str]]]:  # type: ignore[no-untyped-def]
    """gunicorn (production) or runserver (make demo) on the test database, on a free port."""
    port = _free_port()
    for process in _serve(SERVERS[request.param](port), port):
        yield port, process


@pytest.mark.django_db
def test_the_server_logs_invitation_links_without_their_token(server) -> None:  # type: ignore[no-untyped-def]
    port, process = server
    base = f"http://127.0.0.1:{port}"
    assert _get(f"{base}/invitations/{TOKEN}/") == 404  # unknown token: the page says so
    assert _get(f"{base}/accounts/confirm-email/{TOKEN}/") in {200, 404}
    assert _get(f"{base}/healthz?token={TOKEN}") == 200
    time.sleep(0.5)  # let the server write its access lines
    process.terminate()
    output, _ = process.communicate(timeout=20)
    assert "/invitations/[redacted]/" in output, output
    assert "/accounts/confirm-email/[redacted]/" in output
    assert "token=[redacted]" in output
    assert TOKEN not in output
