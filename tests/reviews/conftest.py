"""Fixtures the review tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from clausebook import secrets
from devtools.local_model_server import LocalModelServer

#: The key endpoints' secrets are encrypted with, here and in the workers the tests start.
WORKER_SECRET_KEY = secrets.generate_key()
#: The lease test workers run under: short, so work whose worker died is taken over in seconds.
WORKER_LEASE_SECONDS = 3


@pytest.fixture
def worker_model_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalModelServer]:
    """The Clausebook local model server (development tool), and what a worker process started
    after this needs to reach it: the private-host allow-list, the secret key and a short lease
    (the test process gets the same allow-list and key)."""
    with LocalModelServer() as server:
        monkeypatch.setenv("CLAUSEBOOK_ALLOW_PRIVATE_HOSTS", server.host_port)
        monkeypatch.setenv("CLAUSEBOOK_SECRET_KEYS", WORKER_SECRET_KEY)
        monkeypatch.setenv("CLAUSEBOOK_RERUN_LEASE_SECONDS", str(WORKER_LEASE_SECONDS))
        with override_settings(
            ALLOW_PRIVATE_HOSTS=[server.host_port], SECRET_KEYS=[WORKER_SECRET_KEY]
        ):
            yield server
