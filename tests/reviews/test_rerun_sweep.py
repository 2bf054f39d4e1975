"""The beat sweep (``reviews.sweep_runs`` → ``rerun_job_sweep``) takes over re-run jobs whose
worker vanished and no redelivery came: a lapsed job is queued again and a real worker finishes
it, calling only what has no stored answer; a job out of claims is failed, saying why on its
page; a job under a live lease is left alone; sweeping twice makes nothing twice. The model is
the Clausebook local model server (development tool), whose request log records every call."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from clausebook import netguard
from devtools.local_model_server import LocalModelServer, digest
from reviews.models import Item, JobStatus, JudgeRun, ModelRun, RerunJob
from reviews.services import reruns as services
from reviews.tasks import run_rerun_job, sweep_runs
from tests.conftest import WORKER_LOG, wait_for
from tests.reviews.test_reruns import KEY, endpoint, job_for, scenario
from transcripts.models import Transcript


class WorkerDied(Exception):
    """Raised from the progress callback: the in-process run stops as a killed worker does."""


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The job ids the sweep sends to the broker (they are still sent: this only records)."""
    sent: list[int] = []
    original = run_rerun_job.delay

    def record(job_id: int) -> object:
        sent.append(job_id)
        return original(job_id)

    monkeypatch.setattr(run_rerun_job, "delay", record)
    return sent


def lapse(job: RerunJob) -> None:
    """Leave the job as a dead worker does: running, its leases (the job's and its claimed
    runs') no longer renewed and now in the past."""
    lapsed = timezone.now() - timedelta(minutes=5)
    RerunJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, lease_expires_at=lapsed)
    ModelRun.objects.filter(job=job, status=JobStatus.RUNNING).update(lease_expires_at=lapsed)


def die_after_first_answer(job: RerunJob, client) -> None:  # type: ignore[no-untyped-def]
    """Run the job in this process until its first answer is stored, then stop as if killed:
    nothing finalized, the rest of its runs still claimed by this "worker"."""

    def die(done: int, total: int) -> None:
        raise WorkerDied

    with pytest.raises(WorkerDied):
        services.rerun_job_run(job_id=job.pk, client=client, progress=die)


def deliveries(outcome: str) -> int:
    """How many ``reviews.run_rerun_job`` deliveries the worker finished with ``outcome``."""
    log = WORKER_LOG.read_text()
    return len(
        re.findall(rf"reviews\.run_rerun_job\[[^\]]+\] succeeded in [^:]+: '{outcome}'", log)
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_job_whose_worker_vanished_is_swept_and_finished_by_a_real_worker(
    worker_model_server, personas, request, enqueued
):
    server = worker_model_server
    local = endpoint(personas.workspace, server, concurrency=1)
    questions = [scenario(personas.workspace, f"Swept question {n}?") for n in range(4)]
    job = job_for(personas, questions, [local])
    # In-process "worker": stores one answer and dies. Its client is the test's guarded one.

    client = netguard.guarded_client(allowed=netguard.parse_allow_list([server.host_port]))
    try:
        die_after_first_answer(job, client)
    finally:
        client.close()
    lapse(job)
    stored = set(
        ModelRun.objects.filter(job=job, transcript__isnull=False).values_list("pk", flat=True)
    )
    assert len(stored) >= 1
    stored_calls = {
        digest(services._prompt(run.scenario.messages))
        for run in ModelRun.objects.filter(pk__in=stored).select_related("scenario")
    }
    # The worker starts only now, on a purged broker: the job's own message is gone, as on a
    # broker that lost it. Nothing but the sweep will ever start this job again.
    worker = request.getfixturevalue("celery_worker")

    assert sweep_runs.run() >= 1
    # A second sweep (the next minute's, or a second beat) before or after the worker's claim.
    sweep_runs.run()
    assert job.pk in enqueued

    done = wait_for(
        lambda: (
            RerunJob.objects.filter(pk=job.pk)
            .exclude(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
            .first()
        ),
        timeout=60,
    )
    assert done.status == JobStatus.SUCCEEDED, done.error
    # Every message the sweeps sent has been delivered and settled (one that found the job
    # busy comes back once the lease lapses, and finds it finished).
    wait_for(lambda: deliveries("succeeded") + deliveries("not claimed") >= len(enqueued), 60)
    runs = ModelRun.objects.filter(job=job)
    assert runs.count() == 4
    assert runs.filter(status=JobStatus.SUCCEEDED, transcript__isnull=False).count() == 4
    # Exactly one transcript per (job, scenario, endpoint, sample), and none left over.
    assert runs.values("transcript").distinct().count() == 4
    assert Transcript.objects.filter(source=f"rerun job {job.pk}").count() == 4
    # A call whose answer was stored before the worker died was never made again.
    calls = server.requests_by_messages()
    assert all(calls[key] == 1 for key in stored_calls)
    assert worker.poll() is None


def test_a_lapsed_job_out_of_claims_is_failed_with_its_reason_and_keeps_its_answers(
    personas, enqueued
):
    from tests.reviews.factories import make_campaign

    with (
        LocalModelServer() as server,
        override_settings(ALLOW_PRIVATE_HOSTS=[server.host_port], SECRET_KEYS=[KEY]),
    ):
        campaign = make_campaign(personas.workspace, created_by=personas.owner, transcripts=1)
        local = endpoint(personas.workspace, server, concurrency=1)
        questions = [scenario(personas.workspace, f"Exhausted question {n}?") for n in range(3)]
        job = job_for(personas, questions, [local], campaign_id=campaign.pk)
        client = netguard.guarded_client(allowed=netguard.parse_allow_list([server.host_port]))
        try:
            die_after_first_answer(job, client)
        finally:
            client.close()
    # Its worker died on it as many times as it may be claimed.
    RerunJob.objects.filter(pk=job.pk).update(attempts=services.MAX_JOB_ATTEMPTS)
    lapse(job)
    answered = set(
        ModelRun.objects.filter(job=job, transcript__isnull=False).values_list(
            "transcript_id", flat=True
        )
    )

    assert services.rerun_job_sweep() == 1
    assert enqueued == []  # failed, not queued again

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert f"stopped {services.MAX_JOB_ATTEMPTS} times" in job.error
    runs = ModelRun.objects.filter(job=job)
    assert not runs.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists()
    assert (
        set(runs.filter(status=JobStatus.SUCCEEDED).values_list("transcript_id", flat=True))
        == answered
    )
    assert runs.filter(status=JobStatus.FAILED, error__contains="stopped").count() == 3 - len(
        answered
    )
    # The answers it stored reach its campaign, like any finished job's.
    assert answered <= set(
        Item.objects.filter(campaign=campaign).values_list("transcript_id", flat=True)
    )
    page = personas.client_for(personas.adjudicator).get(
        reverse("reviews:rerun-detail", args=[personas.workspace.slug, job.pk])
    )
    assert f"stopped {services.MAX_JOB_ATTEMPTS} times" in page.text

    # Sweeping again finds nothing to do.
    assert services.rerun_job_sweep() == 0
    assert enqueued == []


def test_a_job_under_a_live_lease_is_left_alone(personas, enqueued):
    with (
        LocalModelServer() as server,
        override_settings(ALLOW_PRIVATE_HOSTS=[server.host_port], SECRET_KEYS=[KEY]),
    ):
        job = job_for(
            personas, [scenario(personas.workspace)], [endpoint(personas.workspace, server)]
        )
    # A live worker holds it: claimed, its lease renewed into the future.
    claimed = services.rerun_job_claim(job_id=job.pk)
    assert claimed is not None
    before = RerunJob.objects.get(pk=job.pk)
    assert before.lease_expires_at > timezone.now()

    assert services.rerun_job_sweep() == 0
    assert services.rerun_job_sweep() == 0

    assert enqueued == []
    after = RerunJob.objects.get(pk=job.pk)
    assert (after.status, after.attempts, after.lease_expires_at, after.error) == (
        JobStatus.RUNNING,
        before.attempts,
        before.lease_expires_at,
        "",
    )
    assert ModelRun.objects.get(job=job).status == JobStatus.QUEUED


def unclaimed(job: RerunJob | JudgeRun) -> None:
    """Leave a job as a lost message does: queued, created longer than a lease ago."""
    type(job).objects.filter(pk=job.pk).update(
        created_at=timezone.now() - timedelta(seconds=services.LEASE_SECONDS + 5)
    )


def test_a_queued_job_nobody_claimed_is_sent_again_once_per_lease(personas, enqueued):
    with (
        LocalModelServer() as server,
        override_settings(ALLOW_PRIVATE_HOSTS=[server.host_port], SECRET_KEYS=[KEY]),
    ):
        job = job_for(
            personas, [scenario(personas.workspace)], [endpoint(personas.workspace, server)]
        )
    fresh = job_for(personas, [scenario(personas.workspace, "Another?")], [job.runs.get().endpoint])
    unclaimed(job)

    assert services.rerun_job_sweep() == 1
    assert enqueued == [job.pk]  # the fresh one is still within its claim window
    assert services.rerun_job_sweep() == 0  # the next minute's sweep: already sent this lease
    later = timezone.now() + timedelta(seconds=services.LEASE_SECONDS + 1)
    assert services.rerun_job_sweep(now=later) == 2  # still unclaimed: again, and now the other
    assert sorted(enqueued) == sorted([job.pk, job.pk, fresh.pk])
    assert RerunJob.objects.get(pk=job.pk).status == JobStatus.QUEUED


def test_a_queued_judge_run_nobody_claimed_is_sent_again(personas, monkeypatch):
    from reviews.services.judges import judge_run_sweep
    from reviews.tasks import run_judge
    from tests.reviews.test_judge_recovery import judge_campaign

    sent: list[int] = []
    monkeypatch.setattr(run_judge, "delay", sent.append)
    with LocalModelServer() as server:
        run = JudgeRun.objects.create(
            workspace=personas.workspace,
            campaign=judge_campaign(personas),
            endpoint=endpoint(personas.workspace, server),
            prompt_version="v",
            created_by=personas.adjudicator,
        )
    assert judge_run_sweep() == 0
    unclaimed(run)

    assert judge_run_sweep() == 1
    assert judge_run_sweep() == 0
    assert sent == [run.pk]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_job_whose_message_was_lost_is_sent_again_by_the_sweep_and_finished(
    worker_model_server, personas, request, enqueued
):
    server = worker_model_server
    job = job_for(
        personas,
        [scenario(personas.workspace, f"Lost question {n}?") for n in range(2)],
        [endpoint(personas.workspace, server)],
    )
    unclaimed(job)
    # The worker starts on a purged broker: the job's message is gone and nobody claimed it.
    request.getfixturevalue("celery_worker")
    assert RerunJob.objects.get(pk=job.pk).status == JobStatus.QUEUED

    assert sweep_runs.run() == 1

    done = wait_for(
        lambda: RerunJob.objects.filter(pk=job.pk, status=JobStatus.SUCCEEDED).first(), timeout=60
    )
    assert (done.attempts, ModelRun.objects.filter(job=job, transcript__isnull=False).count()) == (
        1,
        2,
    )
