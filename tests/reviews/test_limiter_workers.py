"""An endpoint's concurrency limit holds across worker processes: two real Celery workers (one
prefork child each) run re-run jobs against one endpoint, and the Clausebook local model server
(development tool) never sees more calls at once than the endpoint allows, while both workers
make calls. On the database limiter (the filesystem broker's) and on the Redis one."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings

from clausebook import secrets
from devtools.local_model_server import LocalModelServer
from reviews.models import JobStatus, ModelEndpoint, ModelRun, RerunJob
from reviews.services import reruns as services
from tests.conftest import start_worker_process, stop_worker_process, wait_for
from transcripts.models import Scenario

KEY = secrets.generate_key()
CONCURRENCY = 2
RATE_PER_MINUTE = 600
JOBS = 4
CALLS_PER_JOB = 10


@pytest.fixture(params=["database", "redis"])
def limiter_store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which limiter the workers use: it follows the broker (Redis broker, Redis limiter)."""
    if request.param == "redis":
        request.getfixturevalue("redis_broker")
    elif os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
        # The database limiter is the filesystem broker's: run these workers on that broker.
        from tests.conftest import switch_celery_broker

        directory = Path(os.environ.get("CLAUSEBOOK_BROKER_DIR", "/tmp/clausebook-broker"))  # noqa: S108
        folders = {
            "data_folder_in": str(directory / "queue"),
            "data_folder_out": str(directory / "queue"),
            "processed_folder": str(directory / "processed"),
            "control_folder": str(directory / "control"),
            "store_processed": False,
            "polling_interval": 0.1,
        }
        for folder in ("queue", "processed", "control"):
            (directory / folder).mkdir(parents=True, exist_ok=True)
        previous = switch_celery_broker("filesystem://", folders)
        monkeypatch.delenv("CELERY_BROKER_URL")
        request.addfinalizer(lambda: switch_celery_broker(*previous))
    return request.param


@pytest.fixture
def two_workers(
    limiter_store: str,
    transactional_db: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[LocalModelServer, list]]:
    from clausebook.celery import app

    with LocalModelServer() as server:
        monkeypatch.setenv("CLAUSEBOOK_ALLOW_PRIVATE_HOSTS", server.host_port)
        monkeypatch.setenv("CLAUSEBOOK_SECRET_KEYS", KEY)
        with override_settings(ALLOW_PRIVATE_HOSTS=[server.host_port], SECRET_KEYS=[KEY]):
            app.control.purge()
            workers = []
            try:
                for name in ("one", "two"):
                    workers.append(
                        start_worker_process(
                            f"limiter-{name}-{os.getpid()}@%h", tmp_path / f"worker-{name}.log"
                        )
                    )
                yield server, workers
            finally:
                for worker in workers:
                    stop_worker_process(worker)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_two_workers_never_exceed_the_endpoints_concurrency_and_both_make_calls(
    two_workers, personas
):
    server, workers = two_workers
    endpoint = ModelEndpoint.objects.create(
        workspace=personas.workspace,
        name="shared (development tool)",
        base_url=server.base_url,
        model="fault:latency=300ms",
        concurrency=CONCURRENCY,
        rate_limit_per_minute=RATE_PER_MINUTE,
        secret_encrypted=secrets.encrypt("sk-limiter-test"),
    )
    jobs = []
    for j in range(JOBS):
        flagged = [
            Scenario.objects.create(
                workspace=personas.workspace,
                source=Scenario.Source.IMPORT,
                messages=[{"role": "user", "content": f"Job {j} question {n}?"}],
                content_hash=hashlib.sha256(f"limiter-{j}-{n}".encode()).hexdigest(),
            )
            for n in range(CALLS_PER_JOB)
        ]
        jobs.append(
            services.rerun_job_create(
                workspace=personas.workspace,
                actor=personas.adjudicator,
                scenario_ids=[s.pk for s in flagged],
                endpoint_ids=[endpoint.pk],
            )
        )
    wait_for(
        lambda: (
            not RerunJob.objects.filter(
                pk__in=[j.pk for j in jobs], status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
            ).exists()
        ),
        timeout=120,
    )
    assert set(
        RerunJob.objects.filter(pk__in=[j.pk for j in jobs]).values_list("status", flat=True)
    ) == {JobStatus.SUCCEEDED}
    assert server.chat_requests == JOBS * CALLS_PER_JOB
    # The server's own record: never more calls in flight at once than the endpoint allows.
    assert 1 <= server.max_in_flight <= CONCURRENCY
    # Each call's run names the process that made it (host:pid:…): both workers' children.
    processes = {
        holder.split(":")[1]
        for holder in ModelRun.objects.filter(job__in=jobs).values_list("lease_holder", flat=True)
    }
    assert len(processes) >= 2, "both workers made calls"
    assert all(worker.poll() is None for worker in workers)
