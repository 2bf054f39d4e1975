"""The transcripts/imports API and the import_transcripts command."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from transcripts.models import Transcript, TranscriptImport
from transcripts.tasks import run_transcript_import

pytestmark = pytest.mark.django_db


def chat(n: int, **extra) -> dict:
    return {
        "messages": [
            {"role": "user", "content": f"Question {n}?"},
            {"role": "assistant", "content": f"Answer {n}."},
        ],
        **extra,
    }


def api(personas, user=None):
    client = personas.client_for(user or personas.editor)
    base = f"/api/v1/workspaces/{personas.workspace.slug}"
    return client, base


def test_t22_a_retry_with_the_same_idempotency_key_returns_the_original_import(personas):
    client, base = api(personas)
    body = {"records": [chat(1), chat(2)], "source": "api", "tags": ["x"]}
    first = client.post(
        f"{base}/imports/",
        body,
        content_type="application/json",
        headers={"Idempotency-Key": "k-1"},
    )
    retry = client.post(
        f"{base}/imports/",
        body,
        content_type="application/json",
        headers={"Idempotency-Key": "k-1"},
    )
    assert first.status_code == 201 and retry.status_code == 200
    assert first.json()["id"] == retry.json()["id"]
    assert TranscriptImport.objects.filter(workspace=personas.workspace).count() == 1
    # The task is what a worker runs; running it twice is safe (the second finds nothing to claim).
    assert run_transcript_import(first.json()["id"]) == "succeeded"
    assert run_transcript_import(first.json()["id"]) == "not claimed"
    detail = client.get(f"{base}/imports/{first.json()['id']}/").json()
    assert (detail["status"], detail["created_count"], detail["percent"]) == ("succeeded", 2, 100)
    assert Transcript.objects.filter(workspace=personas.workspace).count() == 2


def test_a_multipart_upload_imports_and_the_error_report_lists_lines(personas):
    client, base = api(personas)
    upload = io.BytesIO(json.dumps(chat(1)).encode() + b"\n{broken\n")
    upload.name = "x.jsonl"
    response = client.post(f"{base}/imports/", {"file": upload, "mode": "valid_rows"})
    assert response.status_code == 201, response.content
    run_transcript_import(response.json()["id"])
    detail = client.get(f"{base}/imports/{response.json()['id']}/").json()
    assert detail["created_count"] == 1
    assert detail["errors"][0]["line"] == 2 and "invalid JSON" in detail["errors"][0]["message"]


def test_t18_bodies_and_files_over_the_limits_get_413(personas, settings):
    client, base = api(personas)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    big = {"records": [chat(n) | {"metadata": {"pad": "x" * 1000}} for n in range(50)]}
    response = client.post(f"{base}/imports/", big, content_type="application/json")
    assert response.status_code == 413 and "10000 bytes" in response.json()["detail"]
    settings.CLAUSEBOOK_MAX_UPLOAD_BYTES = 100
    upload = io.BytesIO(b"x" * 1000)
    upload.name = "big.jsonl"
    response = client.post(f"{base}/imports/", {"file": upload})
    assert response.status_code == 413 and "100 bytes" in response.json()["detail"]
    assert not TranscriptImport.objects.exists()


def test_transcripts_list_filters_and_pages_with_a_cursor(personas):
    client, base = api(personas, personas.reviewer)
    TranscriptImport.objects.create(workspace=personas.workspace)
    editor, _ = api(personas)
    response = editor.post(
        f"{base}/imports/",
        {"records": [chat(n, tags=["even" if n % 2 == 0 else "odd"]) for n in range(6)]},
        content_type="application/json",
    )
    run_transcript_import(response.json()["id"])
    page = client.get(f"{base}/transcripts/", {"page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    assert page["results"][0]["preview"] == "Question 5?"
    assert len(client.get(page["next"]).json()["results"]) == 2
    assert len(client.get(f"{base}/transcripts/", {"tag": "even"}).json()["results"]) == 3
    assert len(client.get(f"{base}/transcripts/", {"q": "question 4"}).json()["results"]) == 1
    ignored = client.get(f"{base}/transcripts/", {"workspace__slug": "other-org"}).json()
    assert len(ignored["results"]) == 6
    one = page["results"][0]["id"]
    detail = client.get(f"{base}/transcripts/{one}/").json()
    assert detail["messages"][1] == {"role": "assistant", "content": "Answer 5."}


def test_t07_t08_the_api_scopes_by_workspace_and_role(personas):
    editor, base = api(personas)
    response = editor.post(
        f"{base}/imports/", {"records": [chat(1)]}, content_type="application/json"
    )
    run_transcript_import(response.json()["id"])
    transcript = Transcript.objects.get(workspace=personas.workspace)
    import_id = response.json()["id"]
    outsider = personas.client_for(personas.outsider)
    own = f"/api/v1/workspaces/{personas.other_workspace.slug}"
    for url in (
        f"{base}/transcripts/",
        f"{base}/transcripts/{transcript.pk}/",
        f"{base}/imports/",
        f"{base}/imports/{import_id}/",
    ):
        assert outsider.get(url).status_code == 404, url
    assert outsider.get(f"{own}/transcripts/{transcript.pk}/").status_code == 404
    assert outsider.get(f"{own}/imports/{import_id}/").status_code == 404
    assert outsider.get(f"{own}/transcripts/").json()["results"] == []
    assert (
        outsider.post(
            f"{base}/imports/", {"records": [chat(2)]}, content_type="application/json"
        ).status_code
        == 404
    )
    viewer = personas.client_for(personas.viewer)
    assert viewer.get(f"{base}/transcripts/").status_code == 200  # viewers read transcripts
    reviewer = personas.client_for(personas.reviewer)
    assert (
        reviewer.post(
            f"{base}/imports/", {"records": [chat(3)]}, content_type="application/json"
        ).status_code
        == 403
    )
    assert TranscriptImport.objects.count() == 1


def test_the_schema_documents_the_transcript_and_import_endpoints(personas):
    schema = (
        personas.client_for(personas.editor).get(reverse("api-schema"), {"format": "json"}).json()
    )
    paths = schema["paths"]
    for path in (
        "/api/v1/workspaces/{workspace}/transcripts/",
        "/api/v1/workspaces/{workspace}/transcripts/{transcript_id}/",
        "/api/v1/workspaces/{workspace}/imports/",
        "/api/v1/workspaces/{workspace}/imports/{import_id}/",
    ):
        assert path in paths, path
    assert "post" in paths["/api/v1/workspaces/{workspace}/imports/"]


def test_the_cli_imports_a_file_and_prints_one_json_object(personas, tmp_path, capsys):
    path = tmp_path / "chats.jsonl"
    path.write_text("\n".join(json.dumps(chat(n)) for n in range(5)) + "\n")
    call_command(
        "import_transcripts",
        str(path),
        "--workspace",
        personas.workspace.slug,
        "--json",
        "--tag",
        "cli",
    )
    summary = json.loads(capsys.readouterr().out)
    assert (summary["status"], summary["created"], summary["duplicates"]) == ("succeeded", 5, 0)
    call_command("import_transcripts", str(path), "--workspace", personas.workspace.slug, "--json")
    again = json.loads(capsys.readouterr().out)
    assert (again["created"], again["duplicates"]) == (0, 5)
    assert (
        Transcript.objects.filter(workspace=personas.workspace, tags__contains=["cli"]).count() == 5
    )


def test_the_cli_fails_with_file_line_field_messages_and_a_non_zero_exit(
    personas, tmp_path, capsys
):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        json.dumps(chat(1))
        + "\n"
        + json.dumps({"messages": [{"role": "bot", "content": "x"}]})
        + "\n"
    )
    with pytest.raises(CommandError, match="all-or-nothing"):
        call_command("import_transcripts", str(path), "--workspace", personas.workspace.slug)
    err = capsys.readouterr().err
    assert f"{path}:2: messages[0].role: unknown role 'bot'" in err
    assert not Transcript.objects.exists()
    with pytest.raises(CommandError, match="no workspace"):
        call_command("import_transcripts", str(path), "--workspace", "nope")


def test_the_cli_exits_non_zero_as_a_process(personas, tmp_path):
    import subprocess
    import sys

    from django.conf import settings

    from tests.conftest import database_url_for_subprocess

    path = tmp_path / "bad.jsonl"
    path.write_text("{not json}\n")
    # The subprocess cannot see this test's uncommitted workspace: the error names the workspace.
    result = subprocess.run(
        [sys.executable, "manage.py", "import_transcripts", str(path), "--workspace", "nope"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        env={
            **__import__("os").environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url_for_subprocess(),
        },
        timeout=60,
    )
    assert result.returncode != 0
    assert "--workspace: no workspace with slug 'nope'" in result.stderr


def test_the_form_the_api_and_the_cli_offer_exactly_the_registered_formats():
    from transcripts.api import ImportInput
    from transcripts.formats import FORMATS
    from transcripts.forms import TranscriptImportForm
    from transcripts.management.commands.import_transcripts import Command

    form_choices = TranscriptImportForm(max_bytes=1).fields["format"].choices
    assert [name for name, _ in form_choices] == ["", *FORMATS]
    assert [label for _, label in form_choices][1:] == [f.label for f in FORMATS.values()]
    assert list(ImportInput().fields["format"].choices) == list(FORMATS)
    parser = Command().create_parser("manage.py", "import_transcripts")
    (cli_format,) = [a for a in parser._actions if "--format" in a.option_strings]
    assert list(cli_format.choices) == list(FORMATS)


def test_the_cli_records_the_member_named_by_as(personas, tmp_path, capsys):
    path = tmp_path / "chats.jsonl"
    path.write_text(json.dumps(chat(1)) + "\n")
    call_command(
        "import_transcripts",
        str(path),
        "--workspace",
        personas.workspace.slug,
        "--as",
        personas.editor.email,
        "--json",
    )
    summary = json.loads(capsys.readouterr().out)
    assert TranscriptImport.objects.get(pk=summary["import_id"]).created_by == personas.editor


def test_the_cli_refuses_to_act_as_a_member_who_may_not_import(personas, tmp_path):
    path = tmp_path / "chats.jsonl"
    path.write_text(json.dumps(chat(1)) + "\n")
    with pytest.raises(CommandError, match=r"^--as: reviewer@policy.test is Reviewer"):
        call_command(
            "import_transcripts",
            str(path),
            "--workspace",
            personas.workspace.slug,
            "--as",
            personas.reviewer.email,
        )
    with pytest.raises(CommandError, match=r"^--as: outsider@other.test is not a member"):
        call_command(
            "import_transcripts",
            str(path),
            "--workspace",
            personas.workspace.slug,
            "--as",
            personas.outsider.email,
        )
    assert not TranscriptImport.objects.exists()


def test_a_bad_option_is_a_command_error_naming_it(personas, tmp_path):
    path = tmp_path / "chats.jsonl"
    path.write_text(json.dumps(chat(1)) + "\n")
    with pytest.raises(CommandError, match="The id prefix is longer than 60 characters"):
        call_command(
            "import_transcripts",
            str(path),
            "--workspace",
            personas.workspace.slug,
            "--id-prefix",
            "p" * 61,
        )
    assert not TranscriptImport.objects.exists()


def _uploads(settings) -> set[str]:
    folder = settings.UPLOAD_DIR
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_a_raw_jsonl_body_imports_with_its_options_from_the_query_string(personas):
    client, base = api(personas)
    body = b"".join(json.dumps(chat(n)).encode() + b"\n" for n in range(3))
    response = client.post(
        f"{base}/imports/?source=eval&tags=a&tags=b&mode=valid_rows",
        body,
        content_type="application/x-ndjson",
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["source"], created["tags"], created["mode"]) == (
        "eval",
        ["a", "b"],
        "valid_rows",
    )
    assert run_transcript_import(created["id"]) == "succeeded"
    stored = Transcript.objects.filter(workspace=personas.workspace)
    assert stored.count() == 3
    assert all(t.tags == ["a", "b"] and t.source == "eval" for t in stored)


def test_a_raw_body_over_the_limit_is_a_413_and_leaves_nothing_behind(personas, settings):
    client, base = api(personas)
    before = _uploads(settings)
    settings.CLAUSEBOOK_MAX_UPLOAD_BYTES = 100
    response = client.post(f"{base}/imports/", b"x" * 1000, content_type="application/jsonl")
    assert response.status_code == 413 and "100 bytes" in response.json()["detail"]
    assert not TranscriptImport.objects.exists()
    assert _uploads(settings) == before


def test_an_empty_raw_body_is_a_400_naming_the_file(personas):
    client, base = api(personas)
    response = client.post(f"{base}/imports/", b"", content_type="application/x-ndjson")
    assert response.status_code == 400 and "'file'" in str(response.json())
    assert not TranscriptImport.objects.exists()


def test_a_refused_or_replayed_upload_keeps_no_copy_of_the_file(personas, settings):
    client, base = api(personas)
    before = _uploads(settings)
    upload = io.BytesIO(json.dumps(chat(1)).encode() + b"\n")
    upload.name = "x.jsonl"
    bad = client.post(f"{base}/imports/", {"file": upload, "mode": "sometimes"})
    assert bad.status_code == 400 and "mode" in bad.json()
    first = client.post(
        f"{base}/imports/?mode=valid_rows",
        b'{"messages": []}\n',
        content_type="application/x-ndjson",
        headers={"Idempotency-Key": "same"},
    )
    replay = client.post(
        f"{base}/imports/",
        b'{"messages": []}\n',
        content_type="application/x-ndjson",
        headers={"Idempotency-Key": "same"},
    )
    assert (first.status_code, replay.status_code) == (201, 200)
    # Only the first import's upload is kept (for its worker).
    assert len(_uploads(settings) - before) == 1
    assert TranscriptImport.objects.get().stored_path


def test_the_schema_documents_the_raw_body_upload(personas):
    schema = (
        personas.client_for(personas.editor).get(reverse("api-schema"), {"format": "json"}).json()
    )
    post = schema["paths"]["/api/v1/workspaces/{workspace}/imports/"]["post"]
    assert "application/x-ndjson" in post["requestBody"]["content"]
    assert "413" in post["responses"]
    assert {"source", "tags", "mode"} <= {p["name"] for p in post["parameters"]}
