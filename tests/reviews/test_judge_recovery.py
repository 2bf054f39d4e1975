"""Judge runs recover like re-run jobs: a lease their worker renews, a redelivery after the
worker child is killed (Redis as broker) that labels only the pairs still missing and calls the
endpoint for nothing already labeled, a sweep for runs whose worker died, and cancel from the
run's page and the API (403 without the right, 404 across workspaces, 409 once finished). The
model is the Clausebook local model server (development tool)."""

from __future__ import annotations

import re
import signal
from datetime import timedelta

import psutil
import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from devtools.local_model_server import LocalModelServer
from reviews.models import JobStatus, JudgeRun, Label, LabelSource, ModelEndpoint
from reviews.services import judges as services
from reviews.services import reruns
from tests.conftest import WORKER_LOG, wait_for
from tests.reviews.factories import make_campaign

CONCURRENCY = 2
ITEMS, CLAUSES = 6, 4


def judge_campaign(personas):  # type: ignore[no-untyped-def]
    return make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer],
        transcripts=ITEMS,
        clause_count=CLAUSES,
    )


def slow_endpoint(personas, server: LocalModelServer) -> ModelEndpoint:  # type: ignore[no-untyped-def]
    return ModelEndpoint.objects.create(
        workspace=personas.workspace,
        name="judge (development tool)",
        base_url=server.base_url,
        model="fault:latency=300ms",
        concurrency=CONCURRENCY,
    )


def start(personas, server):  # type: ignore[no-untyped-def]
    run, calls = services.judge_run_create(
        campaign=judge_campaign(personas),
        endpoint=slow_endpoint(personas, server),
        actor=personas.adjudicator,
    )
    assert calls == ITEMS * CLAUSES
    return run


def labels(run: JudgeRun) -> int:
    return Label.objects.filter(judge_run=run, source=LabelSource.JUDGE).count()


def task_finished() -> None:
    """Wait until the worker logged a judge-run task as finished (the run's loop has ended)."""
    finished = re.compile(r"Task reviews\.run_judge\[[^\]]+\] succeeded in")
    wait_for(lambda: finished.search(WORKER_LOG.read_text()), timeout=60)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_judge_run_cancelled_mid_run_starts_no_new_call(
    worker_model_server, celery_worker, personas
):
    server = worker_model_server
    run = start(personas, server)
    wait_for(lambda: labels(run) >= 2 and server.state.in_flight > 0, timeout=60, interval=0.05)
    client = personas.client_for(personas.adjudicator)
    response = client.post(
        reverse("reviews:judge-run-cancel", args=[personas.workspace.slug, run.pk])
    )
    assert response.status_code == 302
    requests_at_cancel = server.chat_requests
    task_finished()

    run.refresh_from_db()
    assert run.status == JobStatus.CANCELLED
    assert run.lease_expires_at is None
    total = ITEMS * CLAUSES
    # Calls in flight when the cancel was noticed finish (and are kept); no other starts.
    assert server.chat_requests - requests_at_cancel <= CONCURRENCY
    assert server.chat_requests < total
    assert labels(run) == server.chat_requests - run.invalid_count - run.failed_count
    page = client.get(reverse("reviews:judge-run-detail", args=[personas.workspace.slug, run.pk]))
    assert "Cancelled" in page.text and 'data-testid="judge-cancel"' not in page.text


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_judge_run_whose_worker_child_is_killed_resumes_and_labels_each_pair_once(
    worker_model_server, redis_celery_worker, personas
):
    server = worker_model_server
    run = start(personas, server)
    wait_for(lambda: labels(run) >= 4 and server.state.in_flight > 0, timeout=60, interval=0.05)
    child = psutil.Process(redis_celery_worker.pid).children()[0]
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    labeled_at_kill, requests_at_kill = labels(run), server.chat_requests

    done = wait_for(
        lambda: JudgeRun.objects.filter(pk=run.pk, status=JobStatus.SUCCEEDED).first(),
        timeout=90,
    )
    total = ITEMS * CLAUSES
    assert done.attempts == 2, "the redelivered task took the run over"
    assert labels(done) == total
    pairs = Label.objects.filter(judge_run=done).values_list("item_id", "clause_id")
    assert len(set(pairs)) == total, "one label per (item, clause) of the run"
    # After the kill, exactly the pairs still unlabeled were asked for, once each.
    assert server.chat_requests - requests_at_kill == total - labeled_at_kill
    assert max(server.requests_by_messages().values()) <= 2
    assert done.calls_done == total


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_sweep_requeues_a_lapsed_judge_run_and_fails_one_out_of_claims(
    worker_model_server, celery_worker, personas
):
    server = worker_model_server
    campaign = judge_campaign(personas)
    endpoint = slow_endpoint(personas, server)
    past = timezone.now() - timedelta(minutes=5)
    # Two runs whose worker died without a redelivery (the filesystem broker loses the task).
    lapsed = JudgeRun.objects.create(
        workspace=personas.workspace,
        campaign=campaign,
        endpoint=endpoint,
        prompt_version="v",
        created_by=personas.adjudicator,
        status=JobStatus.RUNNING,
        calls_total=ITEMS * CLAUSES,
        lease_expires_at=past,
        attempts=1,
    )
    exhausted = JudgeRun.objects.create(
        workspace=personas.workspace,
        campaign=campaign,
        endpoint=endpoint,
        prompt_version="v",
        created_by=personas.adjudicator,
        status=JobStatus.RUNNING,
        calls_total=ITEMS * CLAUSES,
        lease_expires_at=past,
        attempts=reruns.MAX_JOB_ATTEMPTS,
    )
    assert services.judge_run_sweep() == 2
    exhausted.refresh_from_db()
    assert exhausted.status == JobStatus.FAILED
    assert f"stopped {reruns.MAX_JOB_ATTEMPTS} times" in exhausted.error
    done = wait_for(
        lambda: JudgeRun.objects.filter(pk=lapsed.pk, status=JobStatus.SUCCEEDED).first(),
        timeout=90,
    )
    assert done.attempts == 2
    assert labels(done) == ITEMS * CLAUSES
    assert labels(exhausted) == 0


@pytest.mark.django_db
def test_cancel_needs_the_right_stays_in_its_workspace_and_refuses_a_finished_run(personas):
    campaign = judge_campaign(personas)
    endpoint = ModelEndpoint.objects.create(
        workspace=personas.workspace, name="e", base_url="https://1.1.1.1/v1", model="m"
    )
    run = JudgeRun.objects.create(
        workspace=personas.workspace,
        campaign=campaign,
        endpoint=endpoint,
        prompt_version="v",
        created_by=personas.adjudicator,
        calls_total=1,
    )
    page = reverse("reviews:judge-run-cancel", args=[personas.workspace.slug, run.pk])
    api = reverse(
        "api-judge-run-cancel",
        kwargs={"workspace": personas.workspace.slug, "judge_run_id": run.pk},
    )

    def api_as(user):  # type: ignore[no-untyped-def]
        client = APIClient()
        client.force_authenticate(user)
        return client

    assert personas.client_for(personas.reviewer).post(page).status_code == 403
    assert api_as(personas.reviewer).post(api).status_code == 403
    assert personas.client_for(personas.outsider).post(page).status_code == 404
    assert api_as(personas.outsider).post(api).status_code == 404
    other = reverse(
        "api-judge-run-cancel",
        kwargs={"workspace": personas.other_workspace.slug, "judge_run_id": run.pk},
    )
    assert api_as(personas.outsider).post(other).status_code == 404
    run.refresh_from_db()
    assert run.status == JobStatus.QUEUED

    answer = api_as(personas.adjudicator).post(api)
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
    again = api_as(personas.adjudicator).post(api)
    assert again.status_code == 409
    assert "already finished" in again.json()["detail"]
    assert again.json()["current"]["status"] == "cancelled"
    assert personas.client_for(personas.adjudicator).post(page).status_code == 409
