"""Transcript identity: imports de-duplicate by content, re-runs are told apart by what made them.

(The re-run side's own key, one transcript per job, scenario, endpoint and sample, is
``reviews.ModelRun``'s and is tested with it.)
"""

from __future__ import annotations

import io
import json

import pytest
from django.db import IntegrityError, transaction

from transcripts.formats import content_hash
from transcripts.models import Transcript, TranscriptOrigin
from transcripts.services import (
    transcript_import_claim,
    transcript_import_create,
    transcript_import_run,
)

pytestmark = pytest.mark.django_db

ANSWER = [
    {"role": "user", "content": "Is it safe to mix bleach and ammonia?"},
    {"role": "assistant", "content": "No. It releases toxic chloramine gas."},
]


def rerun(workspace, **fields) -> Transcript:
    """A transcript as a re-run stores it: the model's answer, origin ``rerun``."""
    return Transcript.objects.create(
        workspace=workspace,
        messages=ANSWER,
        message_count=len(ANSWER),
        content_hash=content_hash(ANSWER),
        origin=TranscriptOrigin.RERUN,
        **fields,
    )


def import_answer(workspace, **options):
    run, _ = transcript_import_create(
        workspace=workspace,
        actor=None,
        upload=io.BytesIO(json.dumps({"messages": ANSWER, **options}).encode() + b"\n"),
        filename="answer.jsonl",
        enqueue=False,
    )
    return transcript_import_run(import_run=transcript_import_claim(import_id=run.pk))


def test_two_models_giving_the_same_answer_are_two_rerun_transcripts(personas):
    model_a = rerun(personas.workspace, model="model-a")
    model_b = rerun(personas.workspace, model="model-b")
    assert model_a.pk != model_b.pk
    assert model_a.content_hash == model_b.content_hash
    stored = Transcript.objects.filter(workspace=personas.workspace, origin="rerun")
    assert sorted(stored.values_list("model", flat=True)) == ["model-a", "model-b"]


def test_importing_identical_content_still_deduplicates_beside_the_reruns(personas):
    rerun(personas.workspace, model="model-a")
    rerun(personas.workspace, model="model-b")
    first = import_answer(personas.workspace)
    again = import_answer(personas.workspace)
    # A re-run that happens to match is not a duplicate of an import; a second import is.
    assert (first.status, first.created_count, first.duplicate_count) == ("succeeded", 1, 0)
    assert (again.status, again.created_count, again.duplicate_count) == ("succeeded", 0, 1)
    origins = Transcript.objects.filter(workspace=personas.workspace).values_list(
        "origin", flat=True
    )
    assert sorted(origins) == ["import", "rerun", "rerun"]


def test_the_database_refuses_a_second_imported_copy_of_a_conversation(personas):
    Transcript.objects.create(
        workspace=personas.workspace,
        messages=ANSWER,
        message_count=2,
        content_hash=content_hash(ANSWER),
    )
    with pytest.raises(IntegrityError, match="transcript_content_unique"), transaction.atomic():
        Transcript.objects.create(
            workspace=personas.workspace,
            messages=ANSWER,
            message_count=2,
            content_hash=content_hash(ANSWER),
        )


def test_an_import_may_not_take_an_external_id_a_rerun_already_has(personas):
    owner = rerun(personas.workspace, external_id="run-7")
    run, _ = transcript_import_create(
        workspace=personas.workspace,
        actor=None,
        upload=io.BytesIO(
            json.dumps({"messages": ANSWER, "external_id": "run-7"}).encode() + b"\n"
        ),
        filename="answer.jsonl",
        mode="valid_rows",
        enqueue=False,
    )
    done = transcript_import_run(import_run=transcript_import_claim(import_id=run.pk))
    assert (done.status, done.created_count) == ("succeeded", 0)
    assert done.errors == [
        {
            "line": 1,
            "field": "external_id",
            "message": f"external_id 'run-7' already used by transcript {owner.pk} "
            "(a model re-run)",
        }
    ]
