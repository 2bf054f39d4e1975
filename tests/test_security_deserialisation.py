"""T23: nothing we read is deserialised into code: not YAML tags, not pickles, not broker messages."""

from __future__ import annotations

import io
import pickle

import pytest

from clausebook.models import Invitation
from tests.conftest import WORKER_LOG, wait_for
from transcripts.models import Transcript, TranscriptImport
from transcripts.services import transcript_import_create, transcript_import_run

YAML_PAYLOAD = b"- !!python/object/apply:os.system ['touch /tmp/clausebook-pwned']\n"


class Boom:
    def __reduce__(self):  # pragma: no cover - must never run
        return (print, ("unpickled!",))


def run_import(personas, payload: bytes, filename: str) -> TranscriptImport:
    upload = io.BytesIO(payload)
    upload.name = filename
    import_run, _ = transcript_import_create(
        workspace=personas.workspace,
        actor=personas.editor,
        upload=upload,
        filename=filename,
        enqueue=False,
    )
    transcript_import_run(import_run=import_run)
    import_run.refresh_from_db()
    return import_run


@pytest.mark.django_db
def test_t23_a_yaml_file_with_python_tags_is_refused_as_an_unknown_format(personas):
    import_run = run_import(personas, YAML_PAYLOAD, "evil.yaml")
    assert import_run.status == TranscriptImport.Status.FAILED
    assert "format" in import_run.error_message.lower()
    assert not Transcript.objects.exists()


@pytest.mark.django_db
def test_t23_pickle_bytes_named_jsonl_are_rejected_not_unpickled(personas, capsys):
    payload = pickle.dumps([{"messages": [{"role": "user", "content": "hi"}]}, Boom()])
    import_run = run_import(personas, payload, "data.jsonl")
    assert import_run.status == TranscriptImport.Status.FAILED
    assert not Transcript.objects.exists()
    assert "unpickled!" not in capsys.readouterr().out


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_t23_the_worker_refuses_a_pickled_task_message(celery_worker, personas):
    from clausebook.celery import app

    invitation = Invitation.objects.create(
        workspace=personas.workspace,
        email="pickle@policy.test",
        role=20,
        token_hash="0" * 64,
        invited_by=personas.owner,
        expires_at="2099-01-01T00:00:00Z",
    )
    # Someone with access to the broker pushes a pickle-serialised message.
    app.send_task(
        "clausebook.send_invitation_email",
        args=[invitation.pk, "raw-token"],
        serializer="pickle",
    )
    # The worker logs the refusal as it drops the message, so nothing of it can run afterwards.
    wait_for(lambda: "untrusted content" in WORKER_LOG.read_text(), timeout=30)
    invitation.refresh_from_db()
    assert invitation.sent_at is None, "the pickled task must not have run"
