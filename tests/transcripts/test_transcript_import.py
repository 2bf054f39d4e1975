"""The import service, format by format, on real PostgreSQL: counts, duplicates, atomicity, limits."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from clausebook.models import AuditEvent
from transcripts.formats import generate_openai_jsonl
from transcripts.models import Scenario, Transcript, TranscriptImport
from transcripts.services import (
    ImportTooLarge,
    transcript_import_claim,
    transcript_import_create,
    transcript_import_run,
)

pytestmark = pytest.mark.django_db

DATA = Path(django_settings.BASE_DIR) / "data" / "transcripts"


def run_import(workspace, data: bytes, *, filename="file.jsonl", user=None, **options):
    """Create, claim and run an import in this process; return the finished import."""
    run, created = transcript_import_create(
        workspace=workspace,
        actor=user,
        upload=io.BytesIO(data),
        filename=filename,
        enqueue=False,
        **options,
    )
    assert created
    claimed = transcript_import_claim(import_id=run.pk)
    assert claimed is not None
    return transcript_import_run(import_run=claimed)


def jsonl(*rows: dict) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def chat(n: int, **extra) -> dict:
    return {
        "messages": [
            {"role": "user", "content": f"Question {n}?"},
            {"role": "assistant", "content": f"Answer {n}."},
        ],
        **extra,
    }


def test_it_imports_openai_jsonl_with_names_tool_calls_metadata_and_external_ids(personas):
    row = {
        "external_id": "conv-1",
        "model": "gpt-4o",
        "metadata": {"temperature": 0.2, "run": "nightly"},
        "tags": ["weather"],
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": "Use tools."},
            {"role": "user", "name": "ada", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
            {"role": "assistant", "content": "It is 21 °C."},
        ],
    }
    run = run_import(
        personas.workspace, jsonl(row, chat(2)), source="nightly evals", tags=["batch-7"]
    )
    assert (run.status, run.format, run.created_count, run.rejected_count) == (
        "succeeded",
        "openai_jsonl",
        2,
        0,
    )
    transcript = Transcript.objects.get(workspace=personas.workspace, external_id="conv-1")
    assert transcript.message_count == 6
    assert transcript.messages[2]["name"] == "ada"
    assert transcript.messages[3]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert transcript.messages[4]["tool_call_id"] == "call_1"
    assert transcript.metadata == {"temperature": 0.2, "run": "nightly"}
    assert transcript.tags == ["weather", "batch-7"]
    assert (transcript.model, transcript.source, transcript.import_run_id) == (
        "gpt-4o",
        "nightly evals",
        run.pk,
    )


def test_it_keeps_an_hh_chosen_rejected_pair_as_two_linked_transcripts(personas):
    lines = gzip.decompress(
        (DATA / "hh-rlhf-harmless-base-test/harmless-base_test.jsonl.gz").read_bytes()
    )
    head = b"".join(lines.splitlines(keepends=True)[:5])
    run = run_import(personas.workspace, head, filename="hh.jsonl")
    # Five rows, two sides each, no two sides alike.
    assert (run.format, run.rows_seen, run.created_count, run.duplicate_count) == (
        "hh_jsonl",
        5,
        10,
        0,
    )
    chosen = Transcript.objects.filter(workspace=personas.workspace, variant="chosen").first()
    rejected = Transcript.objects.get(
        workspace=personas.workspace, pair_key=chosen.pair_key, variant="rejected"
    )
    assert chosen.messages[0]["role"] == "user"
    assert chosen.messages[-1]["role"] == "assistant"
    assert chosen.content_hash != rejected.content_hash


def test_it_imports_csv_prompt_response_rows_and_prompt_only_rows_become_scenarios(personas):
    csv_data = (
        b"id,prompt,response,label\n"
        b'a1,"How do I kill a Python process?","Use kill.",safe\n'
        b'a2,"Multi\nline prompt","",unsafe\n'
    )
    run = run_import(personas.workspace, csv_data, filename="set.csv")
    assert (run.format, run.created_count, run.scenario_count) == ("prompt_response_csv", 1, 1)
    transcript = Transcript.objects.get(workspace=personas.workspace)
    assert transcript.external_id == "a1"
    assert transcript.metadata == {"label": "safe"}
    scenario = Scenario.objects.get(workspace=personas.workspace)
    assert (scenario.source, scenario.import_run_id) == ("import", run.pk)
    assert scenario.messages == [{"role": "user", "content": "Multi\nline prompt"}]


def test_it_imports_the_public_sets_xstest_jailbreakbench_and_mt_bench(personas):
    xstest = run_import(
        personas.workspace,
        (DATA / "xstest/model_completions/xstest_v2_completions_gpt4.csv").read_bytes(),
        filename="xstest_v2_completions_gpt4.csv",
        id_prefix="xstest-gpt4:",
    )
    assert (xstest.status, xstest.created_count, xstest.rejected_count) == ("succeeded", 450, 0)
    assert Transcript.objects.filter(external_id="xstest-gpt4:v2-1").exists()
    jbb = run_import(
        personas.workspace,
        (DATA / "jailbreakbench-pair/black_box/gpt-3.5-turbo-1106.json").read_bytes(),
        filename="gpt-3.5-turbo-1106.json",
    )
    # 100 behaviours: 87 attacks with a prompt, 13 where the attack submitted nothing.
    assert (jbb.format, jbb.created_count, jbb.skipped_count, jbb.duplicate_count) == (
        "jailbreakbench_json",
        87,
        13,
        0,
    )
    mtbench = run_import(
        personas.workspace,
        (DATA / "mt-bench/question.jsonl").read_bytes(),
        filename="question.jsonl",
    )
    assert (mtbench.format, mtbench.created_count, mtbench.scenario_count) == (
        "mtbench_jsonl",
        0,
        80,
    )
    scenarios = Scenario.objects.filter(workspace=personas.workspace, import_run=mtbench)
    assert set(scenarios.values_list("source", flat=True)) == {"import"}
    first = scenarios.get(external_id="mtbench-81")
    assert first.messages == [{"role": "user", "content": first.metadata["turns"][0]}]
    assert first.title == first.metadata["turns"][0][:200]


def test_importing_the_same_prompts_again_counts_them_as_duplicates(personas):
    data = (DATA / "mt-bench/question.jsonl").read_bytes()
    first = run_import(personas.workspace, data, filename="question.jsonl")
    again = run_import(personas.workspace, data, filename="question.jsonl")
    assert (first.scenario_count, first.duplicate_count) == (80, 0)
    assert (again.status, again.scenario_count, again.duplicate_count) == ("succeeded", 0, 80)
    assert Scenario.objects.filter(workspace=personas.workspace).count() == 80


def test_it_accepts_gzip_and_detects_the_format_from_the_content(personas):
    run = run_import(personas.workspace, gzip.compress(jsonl(chat(1), chat(2))), filename="x.bin")
    assert (run.format, run.created_count) == ("openai_jsonl", 2)
    assert run.bytes_read == run.size_bytes  # progress counts the compressed bytes


def test_t22_importing_the_same_file_again_adds_nothing_and_counts_duplicates(personas):
    data = jsonl(*(chat(n, external_id=f"e{n}") for n in range(30)))
    first = run_import(personas.workspace, data)
    second = run_import(personas.workspace, data)
    assert (first.created_count, first.duplicate_count) == (30, 0)
    assert (second.status, second.created_count, second.duplicate_count) == ("succeeded", 0, 30)
    assert Transcript.objects.filter(workspace=personas.workspace).count() == 30


def test_the_same_conversation_twice_in_one_file_is_stored_once(personas):
    run = run_import(personas.workspace, jsonl(chat(1), chat(2), chat(1), chat(1)))
    assert (run.created_count, run.duplicate_count) == (2, 2)


def test_duplicates_are_per_workspace(personas):
    data = jsonl(chat(1))
    run_import(personas.workspace, data)
    other = run_import(personas.other_workspace, data)
    assert other.created_count == 1


def test_t20_an_invalid_line_5000_rolls_back_the_whole_import(personas, tmp_path):
    path = tmp_path / "big.jsonl"
    generate_openai_jsonl(path, 5000, messages_per_row=4)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[4999] = b'{"messages": [{"role": "user", "content": "bad \xff byte"}]}\n'
    lines[2999] = b'{"messages": [{"role": "wizard", "content": "hi"}]}\n'
    run = run_import(
        personas.workspace, b"".join(lines), filename="big.jsonl", user=personas.editor
    )
    assert run.status == "failed"
    assert Transcript.objects.filter(workspace=personas.workspace).count() == 0
    assert run.created_count == 0
    assert run.rejected_count == 2
    assert [(e["line"], e["field"]) for e in run.errors] == [(3000, "messages[0].role"), (5000, "")]
    assert "UTF-8" in run.errors[1]["message"]
    assert "all-or-nothing" in run.error_message
    assert (
        AuditEvent.objects.filter(verb="transcript_import.fail", target_id=str(run.pk)).count() == 1
    )


def test_valid_rows_mode_imports_the_valid_rows_and_reports_the_rest(personas):
    data = jsonl(chat(1), {"messages": "nope"}, chat(3)) + b"not json\n"
    run = run_import(personas.workspace, data, mode=TranscriptImport.Mode.VALID_ROWS)
    assert (run.status, run.created_count, run.rejected_count) == ("succeeded", 2, 2)
    assert [e["line"] for e in run.errors] == [2, 4]
    assert "invalid JSON" in run.errors[1]["message"]


def test_an_external_id_already_used_by_other_content_is_a_rejected_row(personas):
    first = run_import(personas.workspace, jsonl(chat(1, external_id="x")))
    second = run_import(
        personas.workspace,
        jsonl(chat(2), chat(9, external_id="x")),
        mode=TranscriptImport.Mode.VALID_ROWS,
    )
    transcript = Transcript.objects.get(import_run=first)
    assert second.created_count == 1
    assert second.errors == [
        {
            "line": 2,
            "field": "external_id",
            "message": f"external_id 'x' already used by transcript {transcript.pk} with different content",
        }
    ]


def test_id_prefix_namespaces_external_ids(personas):
    run = run_import(personas.workspace, jsonl(chat(1, external_id="7")), id_prefix="set-a:")
    assert Transcript.objects.get(import_run=run).external_id == "set-a:7"


def test_t19_a_gzip_bomb_stops_at_the_byte_limit_with_nothing_written(personas, settings):
    settings.CLAUSEBOOK_IMPORT_LIMITS = {"max_bytes": 1_000_000}
    bomb = gzip.compress(jsonl(chat(1)) + b" " * 50_000_000)
    assert len(bomb) < 100_000
    run = run_import(personas.workspace, bomb, filename="bomb.jsonl.gz")
    assert run.status == "failed"
    assert "max_bytes=1000000" in run.error_message
    assert Transcript.objects.filter(workspace=personas.workspace).count() == 0


def test_t19_too_deep_nesting_and_overlong_lines_each_name_their_own_limit(personas, settings):
    settings.CLAUSEBOOK_IMPORT_LIMITS = {"max_line_bytes": 4096, "max_depth": 32}
    # Well under the line limit, so it is the depth that trips.
    deep = b'{"messages": ' + b"[" * 100 + b"]" * 100 + b"}\n"
    assert len(deep) < 4096
    long_line = json.dumps(chat(2) | {"metadata": {"pad": "x" * 10_000}}).encode() + b"\n"
    run = run_import(personas.workspace, jsonl(chat(1)) + deep + long_line)
    assert run.status == "failed"
    assert Transcript.objects.filter(workspace=personas.workspace).count() == 0
    assert run.errors == [
        {"line": 2, "field": "", "message": "JSON nested deeper than max_depth=32"},
        {"line": 3, "field": "", "message": "line longer than max_line_bytes=4096"},
    ]


def test_t21_uploads_are_stored_under_server_generated_names(personas, settings, tmp_path):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    run, _ = transcript_import_create(
        workspace=personas.workspace,
        actor=personas.editor,
        upload=io.BytesIO(jsonl(chat(1))),
        filename="../../app/settings.py",
        enqueue=False,
    )
    stored = Path(run.stored_path)
    assert stored.parent == tmp_path / "uploads"
    assert len(stored.name) == 32 and all(c in "0123456789abcdef" for c in stored.name)
    assert run.filename == "settings.py"
    assert not (tmp_path / "app").exists()


def test_an_upload_over_the_limit_is_refused_before_anything_is_recorded(
    personas, settings, tmp_path
):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    settings.CLAUSEBOOK_MAX_UPLOAD_BYTES = 1000
    with pytest.raises(ImportTooLarge, match="1,000 bytes"):
        transcript_import_create(
            workspace=personas.workspace,
            actor=personas.editor,
            upload=io.BytesIO(b"x" * 5000),
            filename="big.jsonl",
            enqueue=False,
        )
    assert not TranscriptImport.objects.exists()
    assert list((tmp_path / "uploads").iterdir()) == []


def test_a_claimed_import_cannot_be_claimed_again(personas):
    run, _ = transcript_import_create(
        workspace=personas.workspace,
        actor=None,
        upload=io.BytesIO(jsonl(chat(1))),
        filename="a.jsonl",
        enqueue=False,
    )
    assert transcript_import_claim(import_id=run.pk) is not None
    assert transcript_import_claim(import_id=run.pk) is None


def test_a_successful_import_records_one_audit_event_not_one_per_row(personas):
    run = run_import(personas.workspace, jsonl(*(chat(n) for n in range(20))), user=personas.editor)
    events = AuditEvent.objects.filter(target_id=str(run.pk), verb__startswith="transcript_import")
    assert sorted(events.values_list("verb", flat=True)) == [
        "transcript_import.create",
        "transcript_import.succeed",
    ]


def test_more_rows_than_one_batch_are_all_written_and_deduplicated(personas, tmp_path):
    path = tmp_path / "gen.jsonl"
    generate_openai_jsonl(path, 12_000, messages_per_row=3)
    data = path.read_bytes()
    first = run_import(personas.workspace, data)
    assert (first.created_count, first.rows_seen) == (12_000, 12_000)
    # Append new rows to the same file: only those are created.
    generate_openai_jsonl(path, 12_500, messages_per_row=3)
    second = run_import(personas.workspace, path.read_bytes())
    assert (second.created_count, second.duplicate_count) == (500, 12_000)


def test_a_conversation_stored_by_someone_else_mid_import_is_counted_not_fatal(
    personas, monkeypatch
):
    from transcripts.importing.writer import Writer

    run_import(personas.workspace, jsonl(chat(1)))
    real_check = Writer._check
    calls = []

    def check_that_misses_the_first_time(self, rows):
        calls.append(len(rows))
        if len(calls) == 1:
            # As if another writer committed chat(1) between our lookup and our COPY.
            return [row.data for row in rows]
        return real_check(self, rows)

    monkeypatch.setattr(Writer, "_check", check_that_misses_the_first_time)
    run = run_import(personas.workspace, jsonl(chat(1), chat(2), chat(3)))
    assert (run.status, run.created_count, run.duplicate_count) == ("succeeded", 2, 1)
    assert Transcript.objects.filter(workspace=personas.workspace).count() == 3


def test_an_import_does_not_leave_its_session_settings_behind(personas):
    from django.db import connection

    run = run_import(personas.workspace, jsonl(*(chat(n) for n in range(50))))
    assert run.created_count == 50
    with connection.cursor() as cursor:
        # Replica mode (no per-row key checks) is for the import's COPY only.
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone()[0] == "origin"


def test_a_database_role_without_superuser_rights_imports_too(personas):
    """Production roles are rarely superusers: the import must not depend on replica mode."""
    from django.db import connection

    role = f"cb_limited_{personas.workspace.pk}"
    with connection.cursor() as cursor:
        # Created inside the test's transaction, so it is gone when the test rolls back.
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
        cursor.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        cursor.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
        cursor.execute(f"SET ROLE {role}")
        cursor.execute("SELECT has_parameter_privilege('session_replication_role', 'SET')")
        assert cursor.fetchone()[0] is False
    try:
        run = run_import(personas.workspace, jsonl(*(chat(n) for n in range(30)), chat(3)))
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
    assert (run.status, run.created_count, run.duplicate_count) == ("succeeded", 30, 1)
    stored = Transcript.objects.filter(workspace=personas.workspace, import_run=run)
    assert stored.count() == 30


@pytest.mark.parametrize(
    ("data", "status"), [(jsonl(chat(1)), "succeeded"), (b"not json at all\n", "failed")]
)
def test_the_uploaded_file_is_deleted_once_the_import_has_run(
    personas, settings, tmp_path, data, status
):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    run, _ = transcript_import_create(
        workspace=personas.workspace,
        actor=personas.editor,
        upload=io.BytesIO(data),
        filename="f.jsonl",
        enqueue=False,
    )
    stored = Path(run.stored_path)
    assert stored.is_file()
    finished = transcript_import_run(import_run=transcript_import_claim(import_id=run.pk))
    assert finished.status == status
    assert not stored.exists() and list((tmp_path / "uploads").iterdir()) == []
    finished.refresh_from_db()
    assert finished.stored_path == ""
