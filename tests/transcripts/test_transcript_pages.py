"""Transcript and import pages: access, escaping, htmx partials, query counts."""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import pytest
from django.urls import reverse

from transcripts.models import Transcript, TranscriptImport
from transcripts.services import (
    transcript_import_claim,
    transcript_import_create,
    transcript_import_run,
)

pytestmark = pytest.mark.django_db

XSS = '<script>window.__pwn=1</script><img src=x onerror="window.__pwn=1">'
HTMX = '<div hx-get="/api/v1/me/" hx-trigger="load">x</div> <a hx-on:click="alert(1)" data-hx-post="/x">y</a>'


def make_transcripts(
    workspace, count: int = 3, content: str = "Hello", **fields
) -> list[Transcript]:
    out = []
    for n in range(count):
        messages = [
            {"role": "user", "content": f"{content} {n}"},
            {"role": "assistant", "content": f"Reply {n}"},
        ]
        out.append(
            Transcript.objects.create(
                workspace=workspace,
                messages=messages,
                message_count=2,
                content_hash=hashlib.sha256(f"{workspace.pk}-{content}-{n}".encode()).hexdigest(),
                source=fields.get("source", "unit"),
                tags=fields.get("tags", ["t"]),
                metadata=fields.get("metadata", {"k": n}),
            )
        )
    return out


def import_bytes(workspace, data: bytes, **options) -> TranscriptImport:
    run, _ = transcript_import_create(
        workspace=workspace,
        actor=None,
        upload=io.BytesIO(data),
        filename="f.jsonl",
        enqueue=False,
        **options,
    )
    return transcript_import_run(import_run=transcript_import_claim(import_id=run.pk))


def urls(workspace, transcript_id: int, import_id: int) -> dict[str, str]:
    slug = workspace.slug
    return {
        "transcript-list": reverse("transcripts:transcript-list", args=[slug]),
        "transcript-detail": reverse("transcripts:transcript-detail", args=[slug, transcript_id]),
        "import-list": reverse("transcripts:import-list", args=[slug]),
        "import-create": reverse("transcripts:import-create", args=[slug]),
        "import-detail": reverse("transcripts:import-detail", args=[slug, import_id]),
    }


def test_t07_an_outsider_gets_404_on_every_transcript_route(personas):
    (transcript,) = make_transcripts(personas.workspace, 1)
    run = import_bytes(
        personas.workspace,
        b'{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}\n',
    )
    client = personas.client_for(personas.outsider)
    for name, url in urls(personas.workspace, transcript.pk, run.pk).items():
        assert client.get(url).status_code == 404, name
    # And ids from another workspace under the outsider's own workspace are 404 too.
    own = urls(personas.other_workspace, transcript.pk, run.pk)
    assert client.get(own["transcript-detail"]).status_code == 404
    assert client.get(own["import-detail"]).status_code == 404
    assert client.get(own["import-detail"], headers={"HX-Request": "true"}).status_code == 404


def test_t08_viewers_read_transcripts_and_reviewers_cannot_import(personas):
    (transcript,) = make_transcripts(personas.workspace, 1)
    run = import_bytes(
        personas.workspace,
        b'{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}\n',
    )
    routes = urls(personas.workspace, transcript.pk, run.pk)
    viewer = personas.client_for(personas.viewer)  # the permission map: transcripts.read
    for name in ("transcript-list", "transcript-detail", "import-list", "import-detail"):
        assert viewer.get(routes[name]).status_code == 200, name
    assert viewer.get(routes["import-create"]).status_code == 403
    reviewer = personas.client_for(personas.reviewer)
    assert reviewer.get(routes["import-create"]).status_code == 403
    assert reviewer.post(routes["import-create"], {"file": io.BytesIO(b"x")}).status_code == 403
    for name in ("transcript-list", "transcript-detail", "import-list", "import-detail"):
        assert reviewer.get(routes[name]).status_code == 200, name
    assert personas.client_for(personas.editor).get(routes["import-create"]).status_code == 200


def test_the_transcript_list_filters_searches_and_pins_its_query_count(
    personas, django_assert_num_queries
):
    make_transcripts(personas.workspace, 30, content="Alpha", tags=["alpha"], source="s1")
    make_transcripts(personas.workspace, 30, content="Beta", tags=["beta"], source="s2")
    make_transcripts(personas.other_workspace, 5, content="Alpha")
    client = personas.client_for(personas.reviewer)
    url = reverse("transcripts:transcript-list", args=[personas.workspace.slug])
    # session, user, membership, nav workspaces, count, page, sources
    with django_assert_num_queries(7):
        response = client.get(url)
    assert response.status_code == 200
    assert "60 transcripts" in response.text
    assert client.get(url, {"tag": "beta"}).text.count("Beta ") == 30
    searched = client.get(url, {"q": "alpha 7"})
    assert "Alpha 7" in searched.text and "Beta" not in searched.text
    assert "1 transcript " in searched.text
    # Unknown parameters are ignored, never passed to the ORM (T10).
    assert client.get(url, {"workspace__slug": "other-org", "ordering": "x"}).status_code == 200


def test_the_transcript_page_pins_its_query_count(personas, django_assert_num_queries):
    (transcript,) = make_transcripts(personas.workspace, 1)
    client = personas.client_for(personas.reviewer)
    url = reverse("transcripts:transcript-detail", args=[personas.workspace.slug, transcript.pk])
    # session, user, membership, nav workspaces, transcript with its provenance
    with django_assert_num_queries(5):
        assert client.get(url).status_code == 200


def test_t01_the_transcript_page_escapes_script_and_event_handlers(personas):
    (transcript,) = make_transcripts(personas.workspace, 1, content=XSS, metadata={"note": XSS})
    transcript.messages.append({"role": "tool", "content": XSS, "tool_call_id": XSS, "name": XSS})
    transcript.save()
    response = personas.client_for(personas.reviewer).get(
        reverse("transcripts:transcript-detail", args=[personas.workspace.slug, transcript.pk])
    )
    html = response.text
    assert "<script>window.__pwn" not in html
    assert "<img" not in html  # the tag arrives as text, never as an element
    assert "&lt;script&gt;window.__pwn=1&lt;/script&gt;" in html
    csp = response.headers["Content-Security-Policy"]
    assert "'nonce-" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_t03_htmx_attributes_in_content_are_stripped_and_the_region_is_hx_disabled(personas):
    (transcript,) = make_transcripts(personas.workspace, 1, content=HTMX)
    html = (
        personas.client_for(personas.reviewer)
        .get(
            reverse("transcripts:transcript-detail", args=[personas.workspace.slug, transcript.pk])
        )
        .text
    )
    conversation = html.split('aria-label="Conversation"', 1)[1].split("</section>", 1)[0]
    # Only as escaped text: no element in the region carries an hx- attribute.
    assert not re.search(r"<[a-z][^>]*\s(data-)?hx-", conversation)
    assert "&lt;div hx-get" in conversation
    assert 'aria-label="Conversation" hx-disable' in html


def test_long_messages_fold_and_tool_calls_show_as_code(personas):
    (transcript,) = make_transcripts(personas.workspace, 1)
    transcript.messages = [
        {"role": "user", "content": "word " * 1000},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_9",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q": 1}'},
                }
            ],
        },
    ]
    transcript.save()
    html = (
        personas.client_for(personas.reviewer)
        .get(
            reverse("transcripts:transcript-detail", args=[personas.workspace.slug, transcript.pk])
        )
        .text
    )
    assert '<details class="fold">' in html and "5000 characters" in html
    assert "lookup" in html and "&quot;q&quot;: 1" in html


def test_the_import_page_renders_only_its_progress_partial_for_htmx(personas):
    run = TranscriptImport.objects.create(
        workspace=personas.workspace,
        filename="a.jsonl",
        status="running",
        size_bytes=1000,
        bytes_read=420,
    )
    client = personas.client_for(personas.reviewer)
    url = reverse("transcripts:import-detail", args=[personas.workspace.slug, run.pk])
    partial = client.get(url, headers={"HX-Request": "true"}).text
    assert "<html" not in partial and 'id="import-progress"' in partial
    assert 'hx-trigger="every 1s"' in partial and "42%" in partial
    run.status = "succeeded"
    run.save()
    done = client.get(url, headers={"HX-Request": "true"}).text
    assert "hx-trigger" not in done and "100%" in done
    full = client.get(url).text
    assert "<html" in full and 'id="import-progress"' in full


def test_the_import_page_lists_rejected_rows_with_line_numbers_escaped(personas):
    run = import_bytes(
        personas.workspace,
        b'{"messages":[{"role":"<b>x</b>","content":"a"}]}\n',
    )
    html = (
        personas.client_for(personas.reviewer)
        .get(reverse("transcripts:import-detail", args=[personas.workspace.slug, run.pk]))
        .text
    )
    assert "Failed" in html and "messages[0].role" in html
    assert "<b>x</b>" not in html


def test_import_list_pins_its_query_count(personas, django_assert_num_queries):
    for _ in range(5):
        TranscriptImport.objects.create(workspace=personas.workspace, created_by=personas.editor)
    client = personas.client_for(personas.reviewer)
    # session, user, membership, nav workspaces, count, page with users
    with django_assert_num_queries(6):
        assert (
            client.get(
                reverse("transcripts:import-list", args=[personas.workspace.slug])
            ).status_code
            == 200
        )


def test_t21_uploading_through_the_form_stores_a_server_named_file_and_queues_the_import(
    personas, settings, tmp_path
):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    client = personas.client_for(personas.editor)
    upload = io.BytesIO(json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode())
    upload.name = "../../evil name.jsonl"
    response = client.post(
        reverse("transcripts:import-create", args=[personas.workspace.slug]),
        {"file": upload, "format": "", "tags": "a, b", "source": "form"},
    )
    run = TranscriptImport.objects.get(workspace=personas.workspace)
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "transcripts:import-detail", args=[personas.workspace.slug, run.pk]
    )
    assert (run.status, run.tags, run.source, run.filename) == (
        "queued",
        ["a", "b"],
        "form",
        "evil name.jsonl",
    )
    assert Path(run.stored_path).parent == tmp_path / "uploads"
    assert "evil" not in run.stored_path


def test_an_upload_over_the_limit_gets_a_clear_message(personas, settings, tmp_path):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    settings.CLAUSEBOOK_MAX_UPLOAD_BYTES = 100
    upload = io.BytesIO(b"x" * 500)
    upload.name = "big.jsonl"
    response = personas.client_for(personas.editor).post(
        reverse("transcripts:import-create", args=[personas.workspace.slug]), {"file": upload}
    )
    assert response.status_code == 200
    assert "the limit is 100 bytes" in response.text
    assert not TranscriptImport.objects.exists()
