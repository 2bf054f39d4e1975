"""Re-run jobs against the Clausebook local model server (development tool): faults are retried
or recorded as the endpoint's contract says, each (job, scenario, endpoint, sample) gets exactly
one transcript however often the task runs, a cancel stops new calls, and the secret never
travels with the task."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings
from django.utils import timezone

from clausebook import netguard, secrets
from devtools.local_model_server import LEAK_MARKER, LocalModelServer
from reviews.models import Item, JobStatus, ModelEndpoint, ModelRun, RerunJob
from reviews.selectors.reruns import rerun_job_progress
from reviews.services.campaigns import campaign_items_add
from reviews.services.limiter import DatabaseLimiter, Permit
from reviews.services.reruns import (
    rerun_job_cancel,
    rerun_job_create,
    rerun_job_run,
)
from reviews.tasks import run_rerun_job
from transcripts.models import Scenario, Transcript, TranscriptOrigin

SECRET = "sk-rerun-test-SECRETVALUE-42"  # noqa: S105 - a sample
KEY = secrets.generate_key()


@pytest.fixture(autouse=True)
def _keys() -> Iterator[None]:
    with override_settings(SECRET_KEYS=[KEY]):
        yield


@pytest.fixture(scope="module")
def model_server() -> Iterator[LocalModelServer]:
    with LocalModelServer() as server:
        yield server


@pytest.fixture
def server(model_server: LocalModelServer) -> Iterator[LocalModelServer]:
    model_server.reset()
    with override_settings(ALLOW_PRIVATE_HOSTS=[model_server.host_port]):
        yield model_server


class FaultScript:
    """Chooses the local server's fault for each request in turn (its ``X-Fault`` header):
    ``["429;retry-after=1", ""]`` answers 429 first, then normally."""

    def __init__(self, server: LocalModelServer) -> None:
        self.faults: list[str] = []
        self.client = netguard.guarded_client(
            allowed=netguard.parse_allow_list([server.host_port]),
            event_hooks={"request": [self._choose]},
        )

    def _choose(self, request: httpx.Request) -> None:
        if self.faults:
            request.headers["X-Fault"] = self.faults.pop(0)


@pytest.fixture
def script(server: LocalModelServer) -> Iterator[FaultScript]:
    faults = FaultScript(server)
    yield faults
    faults.client.close()


def scenario(workspace, text: str = "Is it safe to mix bleach and ammonia?") -> Scenario:  # type: ignore[no-untyped-def]
    messages = [{"role": "user", "content": text}]
    return Scenario.objects.create(
        workspace=workspace,
        source=Scenario.Source.IMPORT,
        title=text[:40],
        messages=messages,
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
    )


def endpoint(workspace, server: LocalModelServer, model: str = "local", **fields) -> ModelEndpoint:  # type: ignore[no-untyped-def]
    values = {
        "name": model,
        "base_url": server.base_url,
        "model": model,
        "secret_encrypted": secrets.encrypt(SECRET),
        "timeout_seconds": 5,
        **fields,
    }
    return ModelEndpoint.objects.create(workspace=workspace, **values)


def job_for(personas, scenarios, endpoints, **options) -> RerunJob:  # type: ignore[no-untyped-def]
    return rerun_job_create(
        workspace=personas.workspace,
        actor=personas.adjudicator,
        scenario_ids=[s.pk for s in scenarios],
        endpoint_ids=[e.pk for e in endpoints],
        **options,
    )


def only_run(job: RerunJob) -> ModelRun:
    return ModelRun.objects.get(job=job)


# --- creating --------------------------------------------------------------------------------


def test_a_job_has_one_queued_run_per_scenario_endpoint_and_sample(personas, server):
    a, b = scenario(personas.workspace, "One?"), scenario(personas.workspace, "Two?")
    first = endpoint(personas.workspace, server, "first")
    second = endpoint(personas.workspace, server, "second")
    job = job_for(personas, [a, b], [first, second], samples=3, parameters={"temperature": 0.7})
    assert job.runs.count() == 12
    assert set(job.runs.values_list("status", flat=True)) == {JobStatus.QUEUED}
    assert job.parameters == {"temperature": 0.7}


def test_a_reviewer_may_not_start_a_job(personas, server):
    with pytest.raises(PermissionDenied):
        rerun_job_create(
            workspace=personas.workspace,
            actor=personas.reviewer,
            scenario_ids=[scenario(personas.workspace).pk],
            endpoint_ids=[endpoint(personas.workspace, server).pk],
        )


def test_another_workspaces_endpoint_is_not_found(personas, server):
    theirs = endpoint(personas.other_workspace, server)
    with pytest.raises(ValidationError) as raised:
        job_for(personas, [scenario(personas.workspace)], [theirs])
    assert "endpoint_ids" in raised.value.message_dict


def test_a_temperature_out_of_range_is_refused_by_name(personas, server):
    with pytest.raises(ValidationError) as raised:
        job_for(
            personas,
            [scenario(personas.workspace)],
            [endpoint(personas.workspace, server)],
            parameters={"temperature": 9},
        )
    assert "temperature" in raised.value.message_dict["parameters"][0]


# --- running: answers and faults ----------------------------------------------------------------


def test_a_job_stores_each_answer_as_a_rerun_transcript_with_its_token_usage(
    personas, server, script
):
    local = endpoint(personas.workspace, server)
    job = job_for(personas, [scenario(personas.workspace)], [local], samples=2)
    finished = rerun_job_run(job_id=job.pk, client=script.client)
    assert finished.status == JobStatus.SUCCEEDED
    runs = list(job.runs.select_related("transcript"))
    assert [run.status for run in runs] == [JobStatus.SUCCEEDED] * 2
    for run in runs:
        assert run.transcript.origin == TranscriptOrigin.RERUN
        assert run.transcript.origin_scenario_id == run.scenario_id
        assert run.transcript.messages[-1]["role"] == "assistant"
        assert run.completion_tokens and run.prompt_tokens
    # Identical answers from two samples are still two transcripts.
    assert runs[0].transcript_id != runs[1].transcript_id
    totals = rerun_job_progress(job=finished)
    assert totals.done == totals.total == 2
    assert totals.completion_tokens == sum(run.completion_tokens for run in runs)


def test_a_429_is_retried_after_its_retry_after(personas, server, script):
    job = job_for(personas, [scenario(personas.workspace)], [endpoint(personas.workspace, server)])
    script.faults = ["429;retry-after=1", ""]
    rerun_job_run(job_id=job.pk, client=script.client)
    run = only_run(job)
    assert run.status == JobStatus.SUCCEEDED
    assert run.attempts == 2
    assert server.chat_requests == 2


def test_a_500_is_retried(personas, server, script):
    job = job_for(personas, [scenario(personas.workspace)], [endpoint(personas.workspace, server)])
    script.faults = ["500", "503", ""]
    rerun_job_run(job_id=job.pk, client=script.client)
    run = only_run(job)
    assert (run.status, run.attempts) == (JobStatus.SUCCEEDED, 3)


def test_a_timeout_is_retried(personas, server, script):
    slow = endpoint(personas.workspace, server, timeout_seconds=1)
    job = job_for(personas, [scenario(personas.workspace)], [slow])
    script.faults = ["timeout=3s", ""]
    rerun_job_run(job_id=job.pk, client=script.client)
    assert only_run(job).status == JobStatus.SUCCEEDED
    assert server.chat_requests == 2


@pytest.mark.parametrize("status", ["400", "401"])
def test_a_refused_request_fails_at_once_without_retrying(personas, server, script, status):
    job = job_for(personas, [scenario(personas.workspace)], [endpoint(personas.workspace, server)])
    script.faults = [status, ""]
    finished = rerun_job_run(job_id=job.pk, client=script.client)
    run = only_run(job)
    assert run.status == JobStatus.FAILED
    assert f"({status})" in run.error
    assert LEAK_MARKER not in run.error
    assert server.chat_requests == 1
    assert finished.status == JobStatus.FAILED
    assert not Transcript.objects.filter(origin=TranscriptOrigin.RERUN).exists()


@pytest.mark.parametrize(
    ("fault", "words"), [("oversized", "larger than"), ("invalid-json", "not JSON")]
)
def test_an_oversized_or_invalid_answer_is_recorded_as_an_error(
    personas, server, script, fault, words
):
    job = job_for(personas, [scenario(personas.workspace)], [endpoint(personas.workspace, server)])
    script.faults = [fault]
    rerun_job_run(job_id=job.pk, client=script.client)
    run = only_run(job)
    assert run.status == JobStatus.FAILED
    assert words in run.error
    assert LEAK_MARKER not in run.error
    progress = rerun_job_progress(job=job)
    assert progress.endpoints[0].errors[0][0] == run.error


# --- idempotency ---------------------------------------------------------------------------------


def test_the_task_run_twice_makes_exactly_one_transcript_per_run(personas, server):
    local = endpoint(personas.workspace, server)
    job = job_for(
        personas,
        [scenario(personas.workspace, "A?"), scenario(personas.workspace, "B?")],
        [local],
        samples=2,
    )
    assert run_rerun_job.run(job.pk) == JobStatus.SUCCEEDED
    assert run_rerun_job.run(job.pk) == "not claimed"
    assert server.chat_requests == 4
    assert Transcript.objects.filter(origin=TranscriptOrigin.RERUN).count() == 4
    assert ModelRun.objects.filter(job=job, transcript__isnull=False).count() == 4


def test_a_redelivery_after_a_worker_died_calls_only_the_runs_without_an_answer(
    personas, server, script
):
    local = endpoint(personas.workspace, server)
    job = job_for(
        personas, [scenario(personas.workspace, "A?"), scenario(personas.workspace, "B?")], [local]
    )
    rerun_job_run(job_id=job.pk, client=script.client)
    answered, lost = job.runs.order_by("id")
    # As a killed worker leaves things: the job and one call running under lapsed leases, the
    # call's answer never stored; the other call answered before the kill.
    lapsed = timezone.now() - timedelta(minutes=5)
    RerunJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, lease_expires_at=lapsed)
    lost_transcript = lost.transcript
    ModelRun.objects.filter(pk=lost.pk).update(
        status=JobStatus.RUNNING, transcript=None, lease_holder="dead:1:x", lease_expires_at=lapsed
    )
    lost_transcript.delete()
    server.reset()

    assert rerun_job_run(job_id=job.pk, client=script.client).status == JobStatus.SUCCEEDED
    assert server.chat_requests == 1
    assert ModelRun.objects.get(pk=answered.pk).transcript_id == answered.transcript_id
    assert ModelRun.objects.get(pk=lost.pk).transcript_id is not None
    assert Transcript.objects.filter(origin=TranscriptOrigin.RERUN).count() == 2


# --- cancel ------------------------------------------------------------------------------------


def test_cancel_stops_new_calls(personas, server, script):
    local = endpoint(personas.workspace, server, concurrency=1)
    scenarios = [scenario(personas.workspace, f"Question {i}?") for i in range(6)]
    job = job_for(personas, scenarios, [local])
    seen: list[int] = []

    def cancel_after_two(done: int, total: int) -> None:
        seen.append(done)
        if done == 2:
            assert rerun_job_cancel(job=job, actor=personas.adjudicator)

    finished = rerun_job_run(job_id=job.pk, client=script.client, progress=cancel_after_two)
    assert finished.status == JobStatus.CANCELLED
    assert server.chat_requests <= 3  # at most the call already in flight when it was cancelled
    statuses = list(job.runs.values_list("status", flat=True))
    assert statuses.count(JobStatus.CANCELLED) >= 3
    assert statuses.count(JobStatus.SUCCEEDED) == server.chat_requests


def test_a_finished_job_cannot_be_cancelled(personas, server, script):
    job = job_for(personas, [scenario(personas.workspace)], [endpoint(personas.workspace, server)])
    rerun_job_run(job_id=job.pk, client=script.client)
    job.refresh_from_db()
    assert rerun_job_cancel(job=job, actor=personas.adjudicator) is False


# --- the limiter ---------------------------------------------------------------------------------


def test_two_limiters_share_an_endpoints_slots(personas, server):
    local = endpoint(personas.workspace, server, concurrency=2)
    first, second = DatabaseLimiter(), DatabaseLimiter()
    a = first.try_acquire(endpoint_id=local.pk, concurrency=2, rate_per_minute=0)
    b = second.try_acquire(endpoint_id=local.pk, concurrency=2, rate_per_minute=0)
    assert isinstance(a, Permit) and isinstance(b, Permit)
    assert not isinstance(
        first.try_acquire(endpoint_id=local.pk, concurrency=2, rate_per_minute=0), Permit
    )
    second.release(a)  # not second's: frees nothing
    assert not isinstance(
        second.try_acquire(endpoint_id=local.pk, concurrency=2, rate_per_minute=0), Permit
    )
    first.release(a)
    assert isinstance(
        second.try_acquire(endpoint_id=local.pk, concurrency=2, rate_per_minute=0), Permit
    )


def test_the_rate_limit_is_shared_and_says_how_long_to_wait(personas, server):
    local = endpoint(personas.workspace, server, concurrency=50)
    first, second = DatabaseLimiter(), DatabaseLimiter()
    # 60 a minute allows a burst of 6, whichever worker asks.
    granted = 0
    for limiter in [first, second] * 4:
        if isinstance(
            limiter.try_acquire(endpoint_id=local.pk, concurrency=50, rate_per_minute=60), Permit
        ):
            granted += 1
    assert granted == 6
    wait = first.try_acquire(endpoint_id=local.pk, concurrency=50, rate_per_minute=60)
    assert isinstance(wait, float) and 0 < wait <= 1.0


# --- campaigns and the secret -------------------------------------------------------------------


def test_results_can_be_added_to_a_campaign(personas, server, script):
    from tests.reviews.factories import make_campaign

    campaign = make_campaign(personas.workspace, created_by=personas.owner, transcripts=1)
    job = job_for(
        personas,
        [scenario(personas.workspace)],
        [endpoint(personas.workspace, server)],
        samples=2,
        campaign_id=campaign.pk,
    )
    rerun_job_run(job_id=job.pk, client=script.client)
    items = Item.objects.filter(campaign=campaign).order_by("position")
    assert items.count() == 3
    assert campaign_items_add(campaign=campaign, transcript_ids=[items[2].transcript_id]) == 0
    campaign.refresh_from_db()
    assert campaign.item_count == 3  # the queue's progress counts the added items


def test_the_secret_never_travels_with_the_task(
    personas, server, django_capture_on_commit_callbacks, monkeypatch
):
    sent: list[dict] = []
    monkeypatch.setattr(
        run_rerun_job,
        "apply_async",
        lambda args=None, kwargs=None, **options: sent.append(
            {"args": args, "kwargs": kwargs, **options}
        ),
    )
    with django_capture_on_commit_callbacks(execute=True):
        job = job_for(
            personas, [scenario(personas.workspace)], [endpoint(personas.workspace, server)]
        )
    assert sent and sent[0]["args"] == (job.pk,)
    assert SECRET not in json.dumps(sent, default=str)
    assert secrets.encrypt(SECRET)[:10] not in json.dumps(sent, default=str)


def test_answers_stored_before_a_cancel_are_added_to_the_campaign(personas, server, script):
    from tests.reviews.factories import make_campaign

    campaign = make_campaign(personas.workspace, created_by=personas.owner, transcripts=1)
    local = endpoint(personas.workspace, server, concurrency=1)
    questions = [scenario(personas.workspace, f"Campaign question {i}?") for i in range(6)]
    before = set(Item.objects.filter(campaign=campaign).values_list("transcript_id", flat=True))
    job = job_for(personas, questions, [local], campaign_id=campaign.pk)

    def cancel_after_two(done: int, total: int) -> None:
        if done == 2:
            assert rerun_job_cancel(job=job, actor=personas.adjudicator)

    finished = rerun_job_run(job_id=job.pk, client=script.client, progress=cancel_after_two)
    assert finished.status == JobStatus.CANCELLED
    answered = set(
        job.runs.filter(transcript__isnull=False).values_list("transcript_id", flat=True)
    )
    assert 2 <= len(answered) < 6
    added = (
        set(Item.objects.filter(campaign=campaign).values_list("transcript_id", flat=True)) - before
    )
    # Every stored answer is an item of the campaign, and nothing else came with them.
    assert added == answered
    campaign.refresh_from_db()
    assert campaign.item_count == 1 + len(answered)


def test_answers_of_a_job_cancelled_after_its_worker_died_are_added_to_the_campaign(
    personas, server, script
):
    from tests.reviews.factories import make_campaign

    campaign = make_campaign(personas.workspace, created_by=personas.owner, transcripts=1)
    before = list(Item.objects.filter(campaign=campaign).values_list("transcript_id", flat=True))
    local = endpoint(personas.workspace, server)
    job = job_for(
        personas, [scenario(personas.workspace, "A?"), scenario(personas.workspace, "B?")], [local]
    )
    rerun_job_run(job_id=job.pk, client=script.client)
    answered, lost = job.runs.order_by("id")
    # As a killed worker leaves a job for its campaign: running under a lapsed lease, one answer
    # stored, nothing added to the campaign yet (its worker died before finishing the job).
    lapsed = timezone.now() - timedelta(minutes=5)
    RerunJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, lease_expires_at=lapsed, campaign=campaign
    )
    lost_transcript = lost.transcript
    ModelRun.objects.filter(pk=lost.pk).update(
        status=JobStatus.RUNNING, transcript=None, lease_holder="dead:1:x", lease_expires_at=lapsed
    )
    lost_transcript.delete()

    job.refresh_from_db()
    assert rerun_job_cancel(job=job, actor=personas.adjudicator)
    # Nobody else will finish this job: the cancel itself adds what it stored.
    items = Item.objects.filter(campaign=campaign).order_by("position")
    assert list(items.values_list("transcript_id", flat=True)) == [*before, answered.transcript_id]
