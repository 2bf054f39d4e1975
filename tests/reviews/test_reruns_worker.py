"""A real Celery worker runs a small re-run job end to end against the Clausebook local model
server (development tool), and the job page shows it finished."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from django.test import override_settings
from django.urls import reverse

from clausebook import secrets
from devtools.local_model_server import LocalModelServer
from reviews.models import JobStatus, ModelEndpoint, ModelRun, RerunJob
from tests.conftest import wait_for
from transcripts.models import Scenario, ScenarioFlag, TranscriptOrigin

KEY = secrets.generate_key()


@pytest.fixture
def worker_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalModelServer]:
    """The local server, and the environment the worker process needs to reach it."""
    with LocalModelServer() as server:
        monkeypatch.setenv("CLAUSEBOOK_ALLOW_PRIVATE_HOSTS", server.host_port)
        monkeypatch.setenv("CLAUSEBOOK_SECRET_KEYS", KEY)
        with override_settings(ALLOW_PRIVATE_HOSTS=[server.host_port], SECRET_KEYS=[KEY]):
            yield server


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_job_and_its_page_shows_it_done(worker_env, celery_worker, personas):
    server = worker_env
    scenarios = [
        Scenario.objects.create(
            workspace=personas.workspace,
            source=Scenario.Source.IMPORT,
            messages=[{"role": "user", "content": f"Question {n}?"}],
            content_hash=hashlib.sha256(f"q{n}".encode()).hexdigest(),
        )
        for n in range(3)
    ]
    for flagged in scenarios:
        # The job form offers the scenarios reviewers flagged.
        ScenarioFlag.objects.create(
            scenario=flagged, flagged_by=personas.reviewer, reason="Check this again"
        )
    endpoint = ModelEndpoint.objects.create(
        workspace=personas.workspace,
        name="local",
        base_url=server.base_url,
        model="local",
        secret_encrypted=secrets.encrypt("sk-worker-test"),
    )
    client = personas.client_for(personas.adjudicator)
    response = client.post(
        reverse("reviews:rerun-create", args=[personas.workspace.slug]),
        {
            "scenarios": [s.pk for s in scenarios],
            "endpoints": [endpoint.pk],
            "samples": "2",
            "temperature": "0.5",
        },
    )
    assert response.status_code == 302
    job = RerunJob.objects.get()
    done = wait_for(
        lambda: (
            RerunJob.objects.filter(pk=job.pk).exclude(status__in=["queued", "running"]).first()
        ),
        timeout=60,
    )
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert ModelRun.objects.filter(job=job, transcript__origin=TranscriptOrigin.RERUN).count() == 6
    assert server.chat_requests == 6
    partial = client.get(response["Location"], headers={"HX-Request": "true"}).text
    assert "6 of 6" in partial and "hx-trigger" not in partial
    assert celery_worker.poll() is None
