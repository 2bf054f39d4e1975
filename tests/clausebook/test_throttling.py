"""Throttles (issue 10): named by their sustained rates, counted in a store that every server
process shares (the database cache table without Redis).

The rates are checked on the store itself with a simulated clock (a script at exactly 50 writes
a second for a long while), and the sharing with two real server processes on the test
database: the (N+1)-th request across both is the one refused."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from clausebook.models import Membership
from clausebook.services import api_token_create
from clausebook.throttling import Rate, parse_rate, take
from tests.conftest import database_url_for_subprocess

ROOT = Path(__file__).resolve().parents[2]


def test_rates_read_as_sustained_rates_with_a_burst() -> None:
    assert parse_rate("50/s burst 500") == Rate(requests=50, seconds=1, burst=500)
    assert parse_rate("3000/min") == Rate(requests=3000, seconds=60, burst=3000)
    assert parse_rate("1/10s, burst 4") == Rate(requests=1, seconds=10, burst=4)
    with pytest.raises(ImproperlyConfigured, match="'fast'"):
        parse_rate("fast")


def test_the_configured_rates_let_a_script_write_50_times_a_second() -> None:
    from clausebook import settings as production_settings

    rates = production_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    writes = parse_rate(rates["writes"])
    assert writes.requests / writes.seconds >= 50
    assert settings.CACHES["throttle"]["BACKEND"].endswith(("DatabaseCache", "RedisCache"))


@pytest.mark.django_db
def test_a_script_at_the_sustained_rate_never_meets_a_429() -> None:
    rate = parse_rate("50/s burst 500")
    start = 1_000_000.0
    # A script writing exactly 50 times a second for 30 s (three times its burst).
    refused = [take("throttle:test:steady", rate, now=start + n / 50) for n in range(1_500)]
    assert not any(refused)


@pytest.mark.django_db
def test_a_reviewer_at_two_items_a_second_never_meets_a_429() -> None:
    rate = parse_rate("50/s burst 500")
    # Each item: its last autosaves plus the one-request submit, a burst of five, twice a second.
    moments = [1_000.0 + item / 2 + save / 100 for item in range(300) for save in range(5)]
    assert not any(take("throttle:test:reviewer", rate, now=at) for at in moments)


@pytest.mark.django_db
def test_a_client_above_the_rate_is_refused_once_its_burst_is_spent_and_told_when_to_return():
    rate = parse_rate("10/s burst 20")
    at = 5_000.0
    answers = [take("throttle:test:flood", rate, now=at) for _ in range(21)]
    assert answers[:20] == [0.0] * 20
    assert answers[20] == pytest.approx(0.1, abs=1e-3)
    assert take("throttle:test:flood", rate, now=at + 0.1) == 0.0  # welcome again, on time


# --------------------------------------------------------------------------------------------------
# Two server processes on one database
# --------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def two_servers(transactional_db: None, tmp_path: Path) -> Iterator[list[str]]:
    """Two gunicorn processes (one worker each) on the test database, with writes throttled at
    3 an hour (a burst of 3), and no Redis: the production settings' database fallback."""
    env = {key: value for key, value in os.environ.items() if key not in {"REDIS_URL"}} | {
        "DATABASE_URL": database_url_for_subprocess(),
        "DJANGO_SETTINGS_MODULE": "clausebook.settings",
        "DEBUG": "true",
        "API_WRITE_RATE": "3/h",
    }
    servers, urls = [], []
    for index in range(2):
        port = _free_port()
        log = open(tmp_path / f"server-{index}.log", "w")  # noqa: SIM115 - closed below
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "clausebook.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        servers.append((process, log))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for (process, _log), url in zip(servers, urls, strict=True):
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    pytest.fail("A server exited at start:\n" + _logs(tmp_path))
                try:
                    urllib.request.urlopen(f"{url}/accounts/login/", timeout=2)  # noqa: S310
                    break
                except OSError:  # not listening yet, or the first request (imports) is slow
                    if time.monotonic() > deadline:
                        pytest.fail("A server did not answer within 30 s:\n" + _logs(tmp_path))
                    time.sleep(0.2)
        yield urls
    finally:
        for process, log in servers:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()


def _logs(folder: Path) -> str:
    return "\n".join(path.read_text() for path in sorted(folder.glob("server-*.log")))


def _patch(url: str, secret: str, body: dict) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(  # noqa: S310 - a local test server
        url,
        data=json.dumps(body).encode(),
        method="PATCH",
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def test_throttle_counts_are_shared_across_two_server_processes(two_servers, personas) -> None:
    _token, secret = api_token_create(user=personas.owner, name="script")
    target = Membership.objects.get(workspace=personas.workspace, user=personas.viewer)
    path = f"/api/v1/workspaces/{personas.workspace.slug}/members/{target.pk}/"
    first, second = two_servers

    answers = [
        _patch(server + path, secret, {"role": "viewer"})
        for server in (first, second, first, second)
    ]

    codes = [code for code, _headers in answers]
    # Three writes allowed in all (one process alone has seen only two), the fourth refused.
    assert codes == [200, 200, 200, 429], _logs_hint(answers)
    assert int(answers[3][1]["Retry-After"]) > 0
    # Reads are not throttled, on either process.
    read = urllib.request.Request(  # noqa: S310
        first + path, headers={"Authorization": f"Bearer {secret}"}
    )
    with urllib.request.urlopen(read, timeout=10) as response:  # noqa: S310
        assert response.status == 200


def _logs_hint(answers: list[tuple[int, dict[str, str]]]) -> str:
    return repr(answers)
