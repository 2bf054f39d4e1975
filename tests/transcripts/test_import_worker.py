"""A real Celery worker runs uploads' imports; and the browser sees it happen."""

from __future__ import annotations

import io
import json

import pytest
from django.db import transaction
from django.urls import reverse

from tests.conftest import wait_for
from tests.factories import TEST_PASSWORD
from transcripts.models import Transcript, TranscriptImport
from transcripts.services import transcript_import_create

XSS = '<script>window.__pwn=1</script><img src=x onerror="window.__pwn=1">'


def chats(count: int, start: int = 0) -> bytes:
    return b"".join(
        json.dumps(
            {
                "external_id": f"w-{n}",
                "messages": [
                    {"role": "user", "content": f"Question {n}?"},
                    {"role": "assistant", "content": f"Answer {n}."},
                ],
            }
        ).encode()
        + b"\n"
        for n in range(start, start + count)
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_t33_a_real_worker_runs_an_upload_and_the_progress_partial_reaches_100(
    celery_worker, personas, settings, tmp_path
):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    # An import created in a transaction that rolls back is never enqueued, so never runs.
    with pytest.raises(RuntimeError), transaction.atomic():
        transcript_import_create(
            workspace=personas.workspace,
            actor=personas.editor,
            upload=io.BytesIO(chats(3, start=100)),
            filename="rolled-back.jsonl",
        )
        raise RuntimeError("the request failed after creating the import")
    assert not TranscriptImport.objects.exists()

    client = personas.client_for(personas.editor)
    upload = io.BytesIO(chats(40))
    upload.name = "forty.jsonl"
    response = client.post(
        reverse("transcripts:import-create", args=[personas.workspace.slug]),
        {"file": upload, "source": "worker test"},
    )
    assert response.status_code == 302
    run = TranscriptImport.objects.get()
    done = wait_for(
        lambda: TranscriptImport.objects.filter(pk=run.pk, status="succeeded").first(), timeout=60
    )
    assert done.created_count == 40
    partial = client.get(response["Location"], headers={"HX-Request": "true"}).text
    assert "100%" in partial and "hx-trigger" not in partial
    # Nothing from the rolled-back request ever ran.
    assert not Transcript.objects.filter(external_id="w-100").exists()
    assert TranscriptImport.objects.count() == 1
    assert celery_worker.poll() is None


def sign_in(page, live_server, user) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_t01_the_canary_stays_undefined_on_the_transcript_page(
    live_server, page, personas, screenshot
):
    from tests.transcripts.test_transcript_pages import import_bytes

    messages = [
        {"role": "system", "content": "You are a careful assistant."},
        {"role": "user", "content": "Show me some **markdown** and " + XSS},
        {
            "role": "assistant",
            "content": "Here is code:\n\n```python\nprint('hi')\n```\n\n"
            + XSS
            + '\n\n<div hx-get="/api/v1/me/" hx-trigger="load">x</div>',
        },
    ]
    run = import_bytes(
        personas.workspace,
        json.dumps({"messages": messages, "metadata": {"note": XSS}, "model": "demo"}).encode()
        + b"\n",
    )
    transcript = Transcript.objects.get(import_run=run)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    requests: list[str] = []
    sign_in(page, live_server, personas.reviewer)
    page.on("request", lambda request: requests.append(request.url))
    page.goto(
        live_server.url
        + reverse("transcripts:transcript-detail", args=[personas.workspace.slug, transcript.pk])
    )
    page.wait_for_load_state("networkidle")
    assert page.evaluate("typeof window.__pwn") == "undefined"
    assert dialogs == []
    assert not [url for url in requests if "/api/v1/me/" in url]  # T03: no htmx request fired
    assert page.locator(".msg-assistant pre code").count() == 1
    screenshot("transcript", full_page=True)


@pytest.mark.browser
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_uploading_a_file_shows_a_progress_bar_that_reaches_done(
    celery_worker, live_server, page, personas, screenshot, settings, tmp_path
):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    path = tmp_path / "upload.jsonl"
    path.write_bytes(chats(200))
    sign_in(page, live_server, personas.editor)
    page.goto(
        live_server.url + reverse("transcripts:import-create", args=[personas.workspace.slug])
    )
    page.set_input_files("input[name=file]", str(path))
    page.fill("input[name=source]", "browser upload")
    page.click("form.import-form button[type=submit]")
    page.wait_for_selector("[data-testid=import-status]:has-text('Succeeded')", timeout=60_000)
    assert page.inner_text("[data-testid=import-percent]") == "100%"
    assert "200" in page.inner_text(".import-counters")
    screenshot("import-progress")


@pytest.mark.browser
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_failed_import_shows_red_with_its_reason_and_a_retry_runs_it_in_the_browser(
    celery_worker, live_server, page, personas, screenshot, settings, tmp_path
):
    from django.db import connection

    from transcripts.services import transcript_import_claim, transcript_import_run

    settings.UPLOAD_DIR = tmp_path / "uploads"
    run, _ = transcript_import_create(
        workspace=personas.workspace,
        actor=personas.editor,
        upload=io.BytesIO(chats(25)),
        filename="twenty-five.jsonl",
        enqueue=False,
    )
    table = Transcript._meta.db_table
    with connection.cursor() as cursor:
        # An error nobody planned for, on the first run only.
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT refuse_all CHECK (message_count < 0)")
        try:
            failed = transcript_import_run(import_run=transcript_import_claim(import_id=run.pk))
        finally:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT refuse_all")
    assert failed.status == "failed"
    sign_in(page, live_server, personas.editor)
    page.goto(
        live_server.url
        + reverse("transcripts:import-detail", args=[personas.workspace.slug, run.pk])
    )

    failure = page.locator("[data-testid=import-failure]")
    assert failure.is_visible() and "unexpected error" in failure.inner_text()
    color = failure.evaluate("element => getComputedStyle(element).backgroundColor")
    red, green, blue = (int(c) for c in color[color.index("(") + 1 : -1].split(",")[:3])
    assert red > green and red > blue, color  # red, not the running blue
    assert page.locator("progress").count() == 0
    screenshot("import-failed")

    page.click("button:has-text('Retry import')")
    page.wait_for_selector("[data-testid=import-status]:has-text('Succeeded')", timeout=60_000)
    assert page.inner_text("[data-testid=import-percent]") == "100%"
    assert Transcript.objects.filter(import_run=run).count() == 25
    assert list((tmp_path / "uploads").iterdir()) == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_viewer_opens_the_imported_scenarios_from_the_navigation(
    live_server, page, personas, screenshot, settings, tmp_path
):
    from pathlib import Path

    from django.conf import settings as django_settings

    from transcripts.services import transcript_import_claim, transcript_import_run

    settings.UPLOAD_DIR = tmp_path / "uploads"
    data = (
        Path(django_settings.BASE_DIR) / "data/transcripts/mt-bench/question.jsonl"
    ).read_bytes()
    run, _ = transcript_import_create(
        workspace=personas.workspace,
        actor=personas.editor,
        upload=io.BytesIO(data),
        filename="question.jsonl",
        source="MT-Bench",
        enqueue=False,
    )
    transcript_import_run(import_run=transcript_import_claim(import_id=run.pk))
    sign_in(page, live_server, personas.viewer)
    page.goto(live_server.url + reverse("workspace-dashboard", args=[personas.workspace.slug]))

    nav = page.get_by_role("navigation", name="Workspace")
    nav.get_by_text("More", exact=True).click()  # Scenarios sits in the less-used sections' menu
    nav.get_by_role("link", name="Scenarios").click()

    page.wait_for_load_state("networkidle")
    assert "80 scenarios" in page.inner_text("main")
    screenshot("scenarios")
    page.click(".scenario-table a.preview >> nth=0")
    page.wait_for_load_state("networkidle")
    assert page.locator(".conversation .msg-user").count() == 1
    assert "Imported prompt" in page.inner_text("[data-testid=scenario-source]")
