"""The idempotency key, checked in one place (the create service) for the API and the CLI alike."""

from __future__ import annotations

import io
import json
import threading

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from tests.conftest import wait_for
from transcripts.models import TranscriptImport
from transcripts.services import transcript_import_create


def chats(count: int) -> bytes:
    return b"".join(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": f"Question {n}?"},
                    {"role": "assistant", "content": f"Answer {n}."},
                ]
            }
        ).encode()
        + b"\n"
        for n in range(count)
    )


def sessions_waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_two_requests_racing_with_one_key_get_the_same_import(personas, settings, tmp_path):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    inserted, release = threading.Event(), threading.Event()
    results: dict[str, tuple[TranscriptImport, bool]] = {}
    failures: list[BaseException] = []

    def create(name: str) -> tuple[TranscriptImport, bool]:
        return transcript_import_create(
            workspace=personas.workspace,
            actor=personas.editor,
            upload=io.BytesIO(chats(2)),
            filename=f"{name}.jsonl",
            idempotency_key="retry-1",
            enqueue=False,
        )

    def first() -> None:
        try:
            # Holds its insert uncommitted until the second request is waiting behind it.
            with transaction.atomic():
                results["first"] = create("first")
                inserted.set()
                release.wait(30)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            failures.append(error)
        finally:
            inserted.set()
            connection.close()

    def second() -> None:
        try:
            results["second"] = create("second")
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            failures.append(error)
        finally:
            connection.close()

    thread_a = threading.Thread(target=first)
    thread_a.start()
    assert inserted.wait(30)
    thread_b = threading.Thread(target=second)
    thread_b.start()
    # The second request passed the lookup (nothing committed yet) and now waits on the unique
    # index for the first one's row: exactly the race the constraint has to settle.
    wait_for(lambda: sessions_waiting_on_a_lock() == 1, timeout=30)
    release.set()
    thread_a.join(30)
    thread_b.join(30)
    assert failures == []
    winner, created_first = results["first"]
    loser, created_second = results["second"]
    assert (created_first, created_second) == (True, False)
    assert (loser.pk, loser.filename) == (winner.pk, "first.jsonl")
    assert TranscriptImport.objects.count() == 1
    # The losing request's upload was stored before the race was lost, and then removed.
    assert [path.name for path in (tmp_path / "uploads").iterdir()] == [
        winner.stored_path.rsplit("/", 1)[-1]
    ]


@pytest.mark.django_db
def test_the_cli_and_the_api_share_one_idempotency_key_space(personas, tmp_path, capsys):
    client = personas.client_for(personas.editor)
    response = client.post(
        f"/api/v1/workspaces/{personas.workspace.slug}/imports/",
        {"records": [json.loads(line) for line in chats(2).splitlines()]},
        content_type="application/json",
        headers={"Idempotency-Key": "nightly-2026-12-01"},
    )
    assert response.status_code == 201
    path = tmp_path / "chats.jsonl"
    path.write_bytes(chats(2))
    call_command(
        "import_transcripts",
        str(path),
        "--workspace",
        personas.workspace.slug,
        "--idempotency-key",
        "nightly-2026-12-01",
        "--json",
    )
    summary = json.loads(capsys.readouterr().out)
    assert (summary["import_id"], summary["already_imported"]) == (response.json()["id"], True)
    assert TranscriptImport.objects.count() == 1


@pytest.mark.django_db
def test_an_idempotency_key_over_its_limit_is_a_400_naming_it(personas):
    response = personas.client_for(personas.editor).post(
        f"/api/v1/workspaces/{personas.workspace.slug}/imports/",
        {"records": [json.loads(chats(1))]},
        content_type="application/json",
        headers={"Idempotency-Key": "k" * 129},
    )
    assert response.status_code == 400
    assert response.json() == {
        "idempotency_key": ["The idempotency key is longer than 128 characters."]
    }
    assert not TranscriptImport.objects.exists()
