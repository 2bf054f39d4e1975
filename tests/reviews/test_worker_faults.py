"""Re-run jobs survive their worker's faults, on a real worker, PostgreSQL and broker (T32, T35,
T36): a worker child killed with SIGKILL mid-job (Redis as broker) is redelivered and resumes; a
job whose worker keeps dying is failed, not looped; a second delivery of a running job changes
nothing; a broker that is down gives a 503 and no half-created job; a database connection
killed under the task makes it retry and finish. The model is the Clausebook local model
server (development tool), whose own request log is the record of which calls were made."""

from __future__ import annotations

import hashlib
import signal
import threading
from collections.abc import Iterator

import psutil
import pytest
from django.db import connection, connections
from django.urls import reverse

from clausebook import secrets
from clausebook.models import Workspace
from devtools.local_model_server import LocalModelServer, digest
from reviews.models import JobStatus, ModelEndpoint, ModelRun, RerunJob
from reviews.services import reruns as services
from tests.conftest import wait_for
from transcripts.models import Scenario, Transcript

LATENCY = "latency=300ms"


@pytest.fixture
def two_attempts(monkeypatch: pytest.MonkeyPatch) -> int:
    """Workers started after this give a job two claims (the default is three)."""
    monkeypatch.setenv("CLAUSEBOOK_RERUN_MAX_ATTEMPTS", "2")
    return 2


def scenarios(workspace: Workspace, count: int) -> list[Scenario]:
    """Distinct conversations: with one endpoint and one sample, a conversation is one call."""
    return [
        Scenario.objects.create(
            workspace=workspace,
            source=Scenario.Source.IMPORT,
            messages=[{"role": "user", "content": f"Fault question {n}?"}],
            content_hash=hashlib.sha256(f"fault-{n}".encode()).hexdigest(),
        )
        for n in range(count)
    ]


def endpoint(workspace: Workspace, server: LocalModelServer, concurrency: int = 4) -> ModelEndpoint:
    # The model name carries the server's per-request latency: every call is in flight a while.
    return ModelEndpoint.objects.create(
        workspace=workspace,
        name="local (development tool)",
        base_url=server.base_url,
        model=f"fault:{LATENCY}",
        concurrency=concurrency,
        secret_encrypted=secrets.encrypt("sk-fault-test"),
    )


def call_key(scenario: Scenario) -> str:
    """The server's key of a scenario's call: the digest of the messages it was sent."""
    return digest(services._prompt(scenario.messages))


def stored_keys(job: RerunJob) -> set[str]:
    return {
        call_key(run.scenario)
        for run in ModelRun.objects.filter(job=job, transcript__isnull=False).select_related(
            "scenario"
        )
    }


def worker_child(worker: psutil.Process | int) -> psutil.Process:
    """The worker's one prefork child (the process running tasks)."""
    parent = worker if isinstance(worker, psutil.Process) else psutil.Process(worker)
    return wait_for(lambda: next(iter(parent.children(recursive=False)), None), timeout=20)


def kill_child_mid_job(
    worker_pid: int, job: RerunJob, server: LocalModelServer, stored_at_least: int
) -> tuple[set[str], dict[str, int]]:
    """SIGKILL the worker's child once the job has stored some answers and has calls in
    flight; the calls whose answers were stored by then, and the server's counts then."""
    wait_for(
        lambda: (
            ModelRun.objects.filter(job=job, transcript__isnull=False).count() >= stored_at_least
            and server.state.in_flight > 0
        ),
        timeout=60,
        interval=0.05,
    )
    child = worker_child(worker_pid)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    # The dead process stores nothing more; what is stored now must never be called again.
    return stored_keys(job), server.requests_by_messages()


def finished(job: RerunJob, timeout: float = 90) -> RerunJob:
    return wait_for(
        lambda: (
            RerunJob.objects.filter(pk=job.pk)
            .exclude(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
            .first()
        ),
        timeout=timeout,
    )


def assert_one_transcript_per_call(job: RerunJob, calls: int) -> None:
    runs = ModelRun.objects.filter(job=job)
    assert runs.count() == calls
    with_answer = runs.filter(transcript__isnull=False)
    assert with_answer.values("transcript").distinct().count() == with_answer.count()
    # No orphan: every transcript the job wrote is the answer of exactly one of its runs.
    assert Transcript.objects.filter(source=f"rerun job {job.pk}").count() == with_answer.count()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_t32_a_worker_child_killed_mid_job_is_redelivered_and_nothing_is_made_twice(
    worker_model_server, redis_celery_worker, personas
):
    server = worker_model_server
    flagged = scenarios(personas.workspace, 40)
    job = services.rerun_job_create(
        workspace=personas.workspace,
        actor=personas.adjudicator,
        scenario_ids=[s.pk for s in flagged],
        endpoint_ids=[endpoint(personas.workspace, server).pk],
    )
    first_child = worker_child(redis_celery_worker.pid).pid
    stored, counts_at_kill = kill_child_mid_job(redis_celery_worker.pid, job, server, 8)
    assert 8 <= len(stored) < 40, "the kill came mid-job"

    done = finished(job)
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.attempts == 2, "the redelivered task took the job over"
    assert_one_transcript_per_call(job, 40)
    assert ModelRun.objects.filter(job=job, status=JobStatus.SUCCEEDED).count() == 40
    counts = server.requests_by_messages()
    assert set(counts) == {call_key(s) for s in flagged}
    repeated = {key for key in stored if counts[key] != counts_at_kill[key]}
    assert not repeated, "a call whose answer was stored was made again"
    assert all(counts[key] == 1 for key in stored)
    # The worker lives on with a new child, and it was Redis that redelivered the task.
    assert redis_celery_worker.poll() is None
    assert worker_child(redis_celery_worker.pid).pid != first_child


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_t32_a_job_whose_worker_keeps_dying_is_failed_not_looped(
    two_attempts, worker_model_server, redis_celery_worker, personas
):
    server = worker_model_server
    flagged = scenarios(personas.workspace, 60)
    job = services.rerun_job_create(
        workspace=personas.workspace,
        actor=personas.adjudicator,
        scenario_ids=[s.pk for s in flagged],
        endpoint_ids=[endpoint(personas.workspace, server).pk],
    )
    kill_child_mid_job(redis_celery_worker.pid, job, server, 4)
    wait_for(lambda: RerunJob.objects.get(pk=job.pk).attempts == 2, timeout=30, interval=0.05)
    stored_before = len(stored_keys(job))
    stored, _ = kill_child_mid_job(redis_celery_worker.pid, job, server, stored_before + 4)

    done = finished(job)
    assert done.status == JobStatus.FAILED
    assert done.attempts == two_attempts
    assert f"stopped {two_attempts} times" in done.error
    runs = ModelRun.objects.filter(job=job)
    assert not runs.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists()
    # The answers stored before the second death are kept, and nothing after it was stored.
    assert stored_keys(job) == stored
    assert runs.filter(status=JobStatus.FAILED, error__contains="stopped").count() == 60 - len(
        stored
    )
    assert_one_transcript_per_call(job, 60)
    page = personas.client_for(personas.adjudicator).get(
        reverse("reviews:rerun-detail", args=[personas.workspace.slug, job.pk])
    )
    assert f"stopped {two_attempts} times" in page.text


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_t35_a_second_delivery_while_the_first_runs_makes_no_call_and_no_row_twice(
    worker_model_server, redis_celery_worker, personas
):
    """What Redis does when a task outlives its visibility timeout: the same job delivered
    again while the first delivery is still running it, here from another process (this one,
    through the task's own code) and once more through the broker."""
    from reviews.tasks import run_rerun_job

    server = worker_model_server
    flagged = scenarios(personas.workspace, 30)
    job = services.rerun_job_create(
        workspace=personas.workspace,
        actor=personas.adjudicator,
        scenario_ids=[s.pk for s in flagged],
        endpoint_ids=[endpoint(personas.workspace, server).pk],
    )
    wait_for(lambda: server.state.in_flight > 0, timeout=60, interval=0.05)
    # Two more deliveries at once, on two connections, while the worker holds the job.
    outcomes: list[str] = []

    def deliver() -> None:
        try:
            outcomes.append(run_rerun_job.run(job.pk))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert outcomes == ["busy", "busy"]
    run_rerun_job.delay(job.pk)  # and once more through the broker

    done = finished(job)
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.attempts == 1, "nobody took over a job whose worker was alive"
    assert_one_transcript_per_call(job, 30)
    counts = server.requests_by_messages()
    assert counts == {call_key(s): 1 for s in flagged}, "every call made exactly once"


@pytest.fixture
def broker_down(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The test process's Celery app pointed at a closed port, retrying only briefly."""
    from clausebook.celery import app
    from tests.conftest import switch_celery_broker

    closed = "redis://127.0.0.1:1/0"
    policy = app.conf.task_publish_retry_policy
    app.conf.task_publish_retry_policy = {
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.1,
        "interval_max": 0.1,
    }
    previous = switch_celery_broker(closed, {})
    # Celery takes the URL from the environment first (a run on the Redis broker sets it).
    monkeypatch.setenv("CELERY_BROKER_URL", closed)
    try:
        yield closed
    finally:
        switch_celery_broker(*previous)
        app.conf.task_publish_retry_policy = policy


@pytest.mark.django_db(transaction=True)
def test_t36_a_rerun_requested_while_the_broker_is_down_is_a_503_and_no_half_created_job(
    broker_down, personas
):
    from transcripts.models import ScenarioFlag

    flagged = scenarios(personas.workspace, 2)
    for scenario in flagged:
        ScenarioFlag.objects.create(
            scenario=scenario, flagged_by=personas.adjudicator, reason="check again"
        )
    local = ModelEndpoint.objects.create(
        workspace=personas.workspace,
        name="unreached",
        base_url="https://1.1.1.1/v1",
        model="m",
        secret_encrypted=secrets.encrypt("sk-never-used"),
    )
    client = personas.client_for(personas.adjudicator)

    page = client.post(
        reverse("reviews:rerun-create", args=[personas.workspace.slug]),
        {"scenarios": [s.pk for s in flagged], "endpoints": [local.pk], "samples": "1"},
    )
    assert page.status_code == 503
    assert "task queue is unreachable" in page.text

    api = client.post(
        reverse("api-rerun-list", kwargs={"workspace": personas.workspace.slug}),
        {"scenario_ids": [s.pk for s in flagged], "endpoint_ids": [local.pk]},
        content_type="application/json",
    )
    assert api.status_code == 503
    assert "task queue is unreachable" in api.json()["detail"]

    # Both jobs stay, visibly failed with the reason, with nothing left to run.
    jobs = list(RerunJob.objects.order_by("pk"))
    assert len(jobs) == 2
    for job in jobs:
        assert job.status == JobStatus.FAILED
        assert "task queue was unreachable" in job.error
        assert not ModelRun.objects.filter(
            job=job, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
        ).exists()
        detail = client.get(reverse("reviews:rerun-detail", args=[personas.workspace.slug, job.pk]))
        assert "task queue was unreachable" in detail.text


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_t36_the_database_connection_killed_under_a_running_job_is_retried_to_the_end(
    worker_model_server, celery_worker, personas
):
    """A real outage of the worker's PostgreSQL connection (pg_terminate_backend), on
    whichever broker this run uses: the task fails with OperationalError, is retried by its
    retry policy, takes its job over once the lease lapses, and finishes with nothing twice."""
    server = worker_model_server
    flagged = scenarios(personas.workspace, 40)
    job = services.rerun_job_create(
        workspace=personas.workspace,
        actor=personas.adjudicator,
        scenario_ids=[s.pk for s in flagged],
        endpoint_ids=[endpoint(personas.workspace, server).pk],
    )
    wait_for(
        lambda: (
            ModelRun.objects.filter(job=job, transcript__isnull=False).count() >= 8
            and server.state.in_flight > 0
        ),
        timeout=60,
        interval=0.05,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        killed = sum(1 for (ok,) in cursor.fetchall() if ok)
    assert killed >= 1, "the worker's connection was there to kill"
    stored, counts_at_outage = stored_keys(job), server.requests_by_messages()
    assert len(stored) < 40, "the outage came mid-job"

    done = finished(job)
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.attempts == 2, "the retried task took the job over"
    assert_one_transcript_per_call(job, 40)
    counts = server.requests_by_messages()
    assert set(counts) == {call_key(s) for s in flagged}
    assert all(counts[key] == counts_at_outage[key] == 1 for key in stored)
    assert celery_worker.poll() is None
