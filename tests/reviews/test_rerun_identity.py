"""Re-run identity on the review side: a re-run transcript is identified by its ModelRun (job,
scenario, endpoint, sample), so two models giving the same answer are two transcripts that one
campaign can hold side by side."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from reviews.models import Item, ModelEndpoint, ModelRun, RerunJob
from tests.reviews.factories import make_campaign
from transcripts.formats import content_hash
from transcripts.models import Scenario, Transcript, TranscriptOrigin

pytestmark = pytest.mark.django_db

PROMPT = [{"role": "user", "content": "How do I pick a lock?"}]
ANSWER = [*PROMPT, {"role": "assistant", "content": "I can't help with that."}]


def _endpoint(workspace, name: str) -> ModelEndpoint:  # type: ignore[no-untyped-def]
    return ModelEndpoint.objects.create(
        workspace=workspace, name=name, base_url="https://models.example.test/v1", model=name
    )


def _run(job, scenario, endpoint, sample: int = 0) -> ModelRun:  # type: ignore[no-untyped-def]
    """A finished call: its transcript, identical content whichever model answered."""
    transcript = Transcript.objects.create(
        workspace=job.workspace,
        messages=ANSWER,
        message_count=len(ANSWER),
        content_hash=content_hash(ANSWER),
        model=endpoint.model,
        origin=TranscriptOrigin.RERUN,
        origin_scenario=scenario,
    )
    return ModelRun.objects.create(
        job=job,
        scenario=scenario,
        endpoint=endpoint,
        sample_index=sample,
        status="succeeded",
        transcript=transcript,
    )


@pytest.fixture
def rerun(personas):  # type: ignore[no-untyped-def]
    scenario = Scenario.objects.create(
        workspace=personas.workspace,
        source=Scenario.Source.IMPORT,
        messages=PROMPT,
        content_hash=content_hash(PROMPT),
        title="Lock picking",
    )
    job = RerunJob.objects.create(workspace=personas.workspace, created_by=personas.editor)
    return scenario, job


def test_two_endpoints_giving_the_same_answer_make_two_transcripts_one_campaign_holds(
    personas, rerun
) -> None:
    scenario, job = rerun
    model_a = _run(job, scenario, _endpoint(personas.workspace, "model-a"))
    model_b = _run(job, scenario, _endpoint(personas.workspace, "model-b"))
    a, b = model_a.transcript, model_b.transcript
    assert a.pk != b.pk and a.messages == b.messages and a.content_hash == b.content_hash
    assert (a.origin, b.origin) == ("rerun", "rerun")
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=[a, b],
        clause_count=1,
    )
    held = Item.objects.filter(campaign=campaign).select_related("transcript__model_run")
    assert sorted(item.transcript.model_run.endpoint.name for item in held) == [
        "model-a",
        "model-b",
    ]


def test_a_model_run_is_unique_per_job_scenario_endpoint_and_sample(personas, rerun) -> None:
    scenario, job = rerun
    endpoint = _endpoint(personas.workspace, "model-a")
    _run(job, scenario, endpoint, sample=0)
    _run(job, scenario, endpoint, sample=1)  # another sample is another run
    with pytest.raises(IntegrityError, match="model_run_identity"), transaction.atomic():
        ModelRun.objects.create(job=job, scenario=scenario, endpoint=endpoint, sample_index=0)
    assert ModelRun.objects.filter(job=job).count() == 2
