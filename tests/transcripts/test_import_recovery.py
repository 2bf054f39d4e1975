"""Imports that do not finish: a worker killed mid-import, unexpected errors, retries, the sweep.

The worker tests hold the workspace's import lock from the test, so the worker's import is
provably mid-run (claimed, inside its transaction, waiting) when the test SIGKILLs it: no timing
guesses about how long a file takes.
"""

from __future__ import annotations

import io
import json
import os
import time
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from clausebook.models import AuditEvent
from tests.conftest import wait_for
from tests.transcripts.conftest import kill_hard
from transcripts.importing.lease import lease_seconds
from transcripts.importing.writer import ADVISORY_NAMESPACE
from transcripts.models import Transcript, TranscriptImport
from transcripts.services import (
    ImportNotRetryable,
    transcript_import_claim,
    transcript_import_create,
    transcript_import_retry,
    transcript_import_run,
    transcript_import_sweep,
)

Failure = TranscriptImport.Failure


def chats(count: int, *, bad_lines: int = 0) -> bytes:
    rows = [
        json.dumps(
            {
                "external_id": f"r-{n}",
                "messages": [
                    {"role": "user", "content": f"Question {n}?"},
                    {"role": "assistant", "content": f"Answer {n}."},
                ],
            }
        ).encode()
        for n in range(count)
    ]
    rows += [b'{"messages": "not a list"}'] * bad_lines
    return b"\n".join(rows) + b"\n"


def after_the_lease() -> timezone.datetime:
    return timezone.now() + timedelta(seconds=lease_seconds() + 1)


def after_the_retention(settings) -> timezone.datetime:  # type: ignore[no-untyped-def]
    return timezone.now() + timedelta(days=settings.CLAUSEBOOK_IMPORT_KEEP_UPLOAD_DAYS + 1)


def page(client, run: TranscriptImport) -> str:  # type: ignore[no-untyped-def]
    url = reverse("transcripts:import-detail", args=[run.workspace.slug, run.pk])
    response = client.get(url)
    assert response.status_code == 200
    return response.text


def queued(workspace, data: bytes, **options) -> TranscriptImport:  # type: ignore[no-untyped-def]
    run, _ = transcript_import_create(
        workspace=workspace,
        actor=None,
        upload=io.BytesIO(data),
        filename="f.jsonl",
        enqueue=False,
        **options,
    )
    return run


def upload_files(settings) -> list[Path]:  # type: ignore[no-untyped-def]
    return sorted(Path(settings.UPLOAD_DIR).iterdir())


# --------------------------------------------------------------------------------------------------
# A real worker, killed mid-import
# --------------------------------------------------------------------------------------------------


class ImportLock:
    """The workspace's import lock, held by the test so that a worker's import waits inside its
    transaction (``Writer`` takes the same advisory lock)."""

    def __init__(self, workspace) -> None:  # type: ignore[no-untyped-def]
        self.keys = [ADVISORY_NAMESPACE, workspace.pk]

    def __enter__(self) -> ImportLock:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", self.keys)
        return self

    def __exit__(self, *exc: object) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", self.keys)

    def someone_waits(self) -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
                "AND NOT granted AND classid = %s AND objid = %s AND objsubid = 2)",
                self.keys,
            )
            return cursor.fetchone()[0]


def upload_and_kill_the_worker_mid_import(client, personas, worker) -> TranscriptImport:  # type: ignore[no-untyped-def]
    """Upload through the page, let the worker get inside the import, then SIGKILL it."""
    upload = io.BytesIO(chats(40))
    upload.name = "forty.jsonl"
    with ImportLock(personas.workspace) as lock:
        response = client.post(
            reverse("transcripts:import-create", args=[personas.workspace.slug]),
            {"file": upload, "source": "kill test"},
        )
        assert response.status_code == 302
        run = TranscriptImport.objects.get()
        wait_for(lock.someone_waits, timeout=60)
        kill_hard(worker)
    run.refresh_from_db()
    return run


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_import_whose_worker_was_killed_is_run_again_by_the_sweep_and_succeeds(
    celery_worker, start_worker, personas, settings, tmp_path
):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    client = personas.client_for(personas.editor)
    run = upload_and_kill_the_worker_mid_import(client, personas, celery_worker)
    # The dead worker's claim is still on the row, and its lease is still running: a redelivered
    # message must not take it over yet.
    assert (run.status, run.attempts) == ("running", 1)
    assert transcript_import_claim(import_id=run.pk) is None

    report = transcript_import_sweep(now=after_the_lease())

    assert report.requeued == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("queued", 1)
    assert "queued again (run 2 of 3)" in page(client, run)
    assert AuditEvent.objects.filter(verb="transcript_import.requeue", target_id=str(run.pk))
    stored = Path(run.stored_path)
    assert stored.is_file()

    start_worker()  # the sweep's message waits in the broker for it
    done = wait_for(
        lambda: TranscriptImport.objects.filter(pk=run.pk, status="succeeded").first(), timeout=60
    )
    assert (done.created_count, done.attempts) == (40, 2)
    assert Transcript.objects.filter(import_run=run).count() == 40
    # The upload was only a carrier: gone once its rows are in.
    assert not stored.exists() and done.stored_path == ""
    assert upload_files(settings) == []


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_import_whose_worker_keeps_dying_fails_with_a_reason_and_a_retry_runs_it_again(
    celery_worker, start_worker, personas, settings, tmp_path
):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    settings.CLAUSEBOOK_IMPORT_MAX_ATTEMPTS = 1
    client = personas.client_for(personas.editor)
    run = upload_and_kill_the_worker_mid_import(client, personas, celery_worker)

    report = transcript_import_sweep(now=after_the_lease())

    assert report.failed == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.failure) == ("failed", Failure.STOPPED)
    assert "stopped responding" in run.error_message
    html = page(client, run)
    # Failed reads as failed: a red callout with the reason, no progress bar stuck short of 100 %,
    # no polling, and a way to run it again without uploading.
    assert 'data-testid="import-failure"' in html and "stopped responding" in html
    assert "<progress" not in html and "hx-trigger" not in html
    assert "Retry import" in html
    reviewer_html = page(personas.client_for(personas.reviewer), run)
    assert "stopped responding" in reviewer_html and "Retry import" not in reviewer_html

    retry_url = reverse("transcripts:import-retry", args=[personas.workspace.slug, run.pk])
    assert personas.client_for(personas.reviewer).post(retry_url).status_code == 403
    response = client.post(retry_url)
    assert response.status_code == 302
    run.refresh_from_db()
    assert (run.status, run.attempts, run.error_message) == ("queued", 0, "")
    assert AuditEvent.objects.filter(verb="transcript_import.retry", actor=personas.editor)

    start_worker()
    done = wait_for(
        lambda: TranscriptImport.objects.filter(pk=run.pk, status="succeeded").first(), timeout=60
    )
    assert done.created_count == 40 and done.stored_path == ""
    assert upload_files(settings) == []
    assert "100%" in page(client, done)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_started_with_sweeps_runs_the_sweep_itself_with_no_beat_process(
    start_worker, personas, settings, tmp_path
):
    # make demo's worker: a queued import whose message never reached a worker (not enqueued,
    # its claim window over) is found by the worker's own sweep, enqueued again and imported.
    settings.UPLOAD_DIR = tmp_path / "uploads"
    run = queued(personas.workspace, chats(5))
    TranscriptImport.objects.filter(pk=run.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )

    worker = start_worker("--sweeps", CLAUSEBOOK_IMPORT_SWEEP_SECONDS="1")

    done = wait_for(
        lambda: TranscriptImport.objects.filter(pk=run.pk, status="succeeded").first(), timeout=60
    )
    assert done.created_count == 5
    # Its one pool process, and no beat process beside it (``-B`` would fork one).
    assert len(psutil.Process(worker.pid).children()) == 1


def test_the_sweep_runs_every_minute_from_celery_beat():
    import transcripts.tasks  # noqa: F401 - registers the task as the worker's autodiscovery does
    from clausebook.celery import app

    entries = [
        e for e in app.conf.beat_schedule.values() if e["task"] == "transcripts.sweep_imports"
    ]
    assert len(entries) == 1
    assert 0 < float(entries[0]["schedule"]) <= 60
    assert "transcripts.sweep_imports" in app.tasks


# --------------------------------------------------------------------------------------------------
# Claims and leases (in process)
# --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_redelivered_task_takes_over_an_import_whose_lease_ran_out(personas, settings, tmp_path):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    run = queued(personas.workspace, chats(3))
    first = transcript_import_claim(import_id=run.pk)
    assert first is not None and first.attempts == 1
    assert transcript_import_claim(import_id=run.pk) is None  # the lease is live

    TranscriptImport.objects.filter(pk=run.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    second = transcript_import_claim(import_id=run.pk)

    assert second is not None and second.attempts == 2
    assert second.lease_expires_at > timezone.now()
    done = transcript_import_run(import_run=second)
    assert (done.status, done.created_count) == ("succeeded", 3)


@pytest.mark.django_db
def test_a_run_that_lost_its_claim_to_another_run_writes_nothing(personas, settings, tmp_path):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    run = queued(personas.workspace, chats(3))
    stale = transcript_import_claim(import_id=run.pk)
    # Meanwhile its lease ran out and another worker claimed it (attempt 2).
    TranscriptImport.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now())
    assert transcript_import_claim(import_id=run.pk).attempts == 2

    result = transcript_import_run(import_run=stale)

    assert (result.status, result.attempts) == ("running", 2)  # as the other run holds it
    assert not Transcript.objects.filter(import_run=run).exists()
    assert not AuditEvent.objects.filter(verb__startswith="transcript_import.succeed")
    assert Path(result.stored_path).is_file()  # the other run still needs the upload


# --------------------------------------------------------------------------------------------------
# Failures: the reason, the upload, the retry
# --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_unexpected_error_fails_the_import_with_a_reason_and_keeps_the_upload_for_a_retry(
    personas, settings, tmp_path
):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    run = queued(personas.workspace, chats(3))
    table = Transcript._meta.db_table
    with connection.cursor() as cursor:
        # Something nobody planned for: the database refuses every row (rolled back with the test).
        cursor.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT h9_refuse_all CHECK (message_count < 0) NOT VALID"
        )

    failed = transcript_import_run(import_run=transcript_import_claim(import_id=run.pk))

    assert (failed.status, failed.failure) == ("failed", Failure.ERROR)
    assert failed.error_message.startswith("The import stopped on an unexpected error")
    assert f"import #{run.pk}" in failed.error_message
    assert Path(failed.stored_path).is_file() and failed.can_retry
    html = page(personas.client_for(personas.editor), failed)
    assert "unexpected error" in html and "Retry import" in html
    for leak in ("Traceback", "h9_refuse_all", "CheckViolation", "IntegrityError"):
        assert leak not in html and leak not in failed.error_message
    assert AuditEvent.objects.filter(verb="transcript_import.fail", target_id=str(run.pk))

    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT h9_refuse_all")
    retried = transcript_import_retry(import_run=failed, actor=personas.editor)
    assert (retried.status, retried.failure, retried.attempts) == ("queued", "", 0)
    done = transcript_import_run(import_run=transcript_import_claim(import_id=run.pk))
    assert (done.status, done.created_count) == ("succeeded", 3)
    assert upload_files(settings) == []


@pytest.mark.django_db
def test_rejected_rows_keep_the_upload_so_the_valid_rows_import_without_uploading_again(
    personas, settings, tmp_path
):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    run = queued(personas.workspace, chats(4, bad_lines=1))
    failed = transcript_import_run(import_run=transcript_import_claim(import_id=run.pk))
    assert (failed.status, failed.failure) == ("failed", Failure.REJECTED)
    html = page(personas.client_for(personas.editor), failed)
    assert "Import the valid rows only" in html and "<progress" not in html
    # The same run again would refuse the same row.
    with pytest.raises(ImportNotRetryable, match="reject them again"):
        transcript_import_retry(import_run=failed, actor=personas.editor)

    response = personas.client_for(personas.editor).post(
        reverse("transcripts:import-retry", args=[personas.workspace.slug, run.pk]),
        {"mode": "valid_rows"},
    )

    assert response.status_code == 302
    done = transcript_import_run(import_run=transcript_import_claim(import_id=run.pk))
    assert (done.status, done.mode, done.created_count, done.rejected_count) == (
        "succeeded",
        "valid_rows",
        4,
        1,
    )
    assert upload_files(settings) == []


@pytest.mark.django_db
def test_a_retry_says_why_when_there_is_nothing_to_retry(personas, settings, tmp_path):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    run = queued(personas.workspace, chats(2))
    done = transcript_import_run(import_run=transcript_import_claim(import_id=run.pk))
    client = personas.client_for(personas.editor)
    url = reverse("transcripts:import-retry", args=[personas.workspace.slug, run.pk])

    response = client.post(url, follow=True)

    assert "succeeded; there is nothing to retry" in response.text
    api = reverse("api-import-retry", args=[personas.workspace.slug, run.pk])
    conflict = client.post(api, {}, content_type="application/json")
    assert conflict.status_code == 409
    assert "nothing to retry" in json.dumps(conflict.json())
    bad = client.post(api, {"mode": "sometimes"}, content_type="application/json")
    assert bad.status_code == 400 and "mode" in json.dumps(bad.json())
    done.refresh_from_db()
    assert done.status == "succeeded"


@pytest.mark.django_db
def test_the_api_retries_a_failed_import_once(personas, settings, tmp_path):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    run = queued(personas.workspace, chats(2))
    # As the sweep leaves an import whose worker died too often (upload kept).
    TranscriptImport.objects.filter(pk=run.pk).update(
        status="failed", failure=Failure.STOPPED, error_message="stopped", attempts=3
    )
    api = reverse("api-import-retry", args=[personas.workspace.slug, run.pk])
    editor = personas.client_for(personas.editor)

    first = editor.post(api, {}, content_type="application/json")
    second = editor.post(api, {}, content_type="application/json")

    assert first.status_code == 202 and first.json()["status"] == "queued"
    assert second.status_code == 409 and "queued" in second.json()["detail"]
    assert second.json()["current"]["status"] == "queued"
    detail = editor.get(reverse("api-import-detail", args=[personas.workspace.slug, run.pk]))
    assert detail.json()["can_retry"] is False
    reviewer = personas.client_for(personas.reviewer)
    assert reviewer.post(api, {}, content_type="application/json").status_code == 403


# --------------------------------------------------------------------------------------------------
# The sweep (in process)
# --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_sweep_fails_a_cli_import_whose_process_died(personas, settings, tmp_path):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    run, _ = transcript_import_create(
        workspace=personas.workspace,
        actor=None,
        upload=None,
        filename="local.jsonl",
        enqueue=False,
        size_bytes=10,
    )
    transcript_import_claim(import_id=run.pk)  # the CLI claimed it, then was killed

    report = transcript_import_sweep(now=after_the_lease())

    run.refresh_from_db()
    assert report.failed == [run.pk]
    assert (run.status, run.failure) == ("failed", Failure.STOPPED)
    assert "Run the import again" in run.error_message and not run.can_retry


@pytest.mark.django_db
def test_a_live_lease_is_left_alone_by_the_sweep(personas, settings, tmp_path):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    run = queued(personas.workspace, chats(2))
    transcript_import_claim(import_id=run.pk)

    report = transcript_import_sweep()

    assert not any(report.counts().values())
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("running", 1)


@pytest.mark.django_db
def test_a_queued_import_no_worker_took_is_enqueued_again_then_expires(
    personas, settings, tmp_path
):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    run = queued(personas.workspace, chats(2))

    assert transcript_import_sweep().reenqueued == []  # still within its claim window
    assert transcript_import_sweep(now=after_the_lease()).reenqueued == [run.pk]
    run.refresh_from_db()
    assert run.status == "queued"

    report = transcript_import_sweep(now=after_the_retention(settings))

    run.refresh_from_db()
    assert report.expired == [run.pk]
    assert (run.status, run.failure, run.stored_path) == ("failed", Failure.EXPIRED, "")
    assert "No worker started this import" in run.error_message
    assert upload_files(settings) == []
    assert "Upload the file again" in page(personas.client_for(personas.editor), run)


@pytest.mark.django_db
def test_the_upload_of_a_failed_import_nobody_retried_is_removed_after_the_retention(
    personas, settings, tmp_path
):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    run = queued(personas.workspace, chats(2, bad_lines=1))
    failed = transcript_import_run(import_run=transcript_import_claim(import_id=run.pk))
    assert upload_files(settings) == [Path(failed.stored_path)]
    assert transcript_import_sweep().uploads_removed == []  # kept while a retry is likely

    report = transcript_import_sweep(now=after_the_retention(settings))

    assert report.uploads_removed == [run.pk]
    assert upload_files(settings) == []
    failed.refresh_from_db()
    assert failed.stored_path == "" and not failed.can_retry_valid_rows
    with pytest.raises(ImportNotRetryable, match="no longer kept"):
        transcript_import_retry(import_run=failed, actor=personas.editor, mode="valid_rows")
    assert AuditEvent.objects.filter(verb="transcript_import.upload_remove")


@pytest.mark.django_db
def test_the_sweep_removes_old_upload_files_that_no_import_refers_to(personas, settings, tmp_path):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    kept = Path(queued(personas.workspace, chats(2)).stored_path)
    orphan = Path(settings.UPLOAD_DIR) / ("0" * 32)
    orphan.write_bytes(b"left by a crash between storing and recording an import")
    fresh = Path(settings.UPLOAD_DIR) / ("1" * 32)
    fresh.write_bytes(b"being stored right now")
    week_ago = time.time() - 8 * 24 * 3600
    for path in (kept, orphan):
        os.utime(path, (week_ago, week_ago))

    report = transcript_import_sweep()

    assert report.orphans_removed == 1
    assert upload_files(settings) == sorted([kept, fresh])
