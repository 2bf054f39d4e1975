"""Scenarios in the UI and the API: the list (filters, pages, escaping), the page, the import's
audit line, and the (workspace, id) index the workspace's transcript lists use."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clausebook.models import AuditEvent
from specs.models import Clause, EvalPrompt, Spec, SpecVersion
from transcripts.models import Scenario, Transcript, TranscriptImport
from transcripts.selectors import transcript_list
from transcripts.services import (
    import_summary,
    transcript_import_claim,
    transcript_import_create,
    transcript_import_run,
)

pytestmark = pytest.mark.django_db

MT_BENCH = Path(django_settings.BASE_DIR) / "data" / "transcripts" / "mt-bench" / "question.jsonl"
XSS = '<script>window.__pwn=1</script><img src=x onerror="window.__pwn=1">'


def run_import(workspace, data: bytes, filename: str) -> TranscriptImport:  # type: ignore[no-untyped-def]
    run, _ = transcript_import_create(
        workspace=workspace,
        actor=None,
        upload=io.BytesIO(data),
        filename=filename,
        enqueue=False,
    )
    return transcript_import_run(import_run=transcript_import_claim(import_id=run.pk))


def make_scenarios(workspace, count: int, *, title: str = "Prompt", **fields) -> list[Scenario]:  # type: ignore[no-untyped-def]
    return Scenario.objects.bulk_create(
        Scenario(
            workspace=workspace,
            source=fields.get("source", Scenario.Source.IMPORT),
            title=f"{title} {n}",
            messages=[{"role": "user", "content": f"{title} {n}"}],
            content_hash=hashlib.sha256(f"{workspace.pk}-{title}-{n}".encode()).hexdigest(),
            import_run=fields.get("import_run"),
        )
        for n in range(count)
    )


def list_url(workspace, **params) -> str:  # type: ignore[no-untyped-def]
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return reverse("transcripts:scenario-list", args=[workspace.slug]) + (
        f"?{query}" if query else ""
    )


# --- The import says what it added ------------------------------------------------------------


def test_importing_mt_bench_is_recorded_as_80_scenarios_not_0_transcripts(
    personas, settings, tmp_path
):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    run = run_import(personas.workspace, MT_BENCH.read_bytes(), "question.jsonl")

    event = AuditEvent.objects.get(verb="transcript_import.succeed", target_id=str(run.pk))

    assert event.summary == "Imported 80 scenarios from question.jsonl"
    html = (
        personas.client_for(personas.editor)
        .get(reverse("transcripts:import-detail", args=[personas.workspace.slug, run.pk]))
        .text
    )
    assert f"?import={run.pk}" in html and "View the 80 imported scenarios" in html
    assert "View the imported transcripts" not in html  # it made none


def test_an_import_of_transcripts_and_scenarios_names_both():
    assert (
        import_summary(created=2, scenarios=1, duplicates=0, filename="set.csv")
        == "Imported 2 transcripts and 1 scenario from set.csv"
    )
    assert (
        import_summary(created=1, scenarios=0, duplicates=3, filename="")
        == "Imported 1 transcript from a file (3 duplicates skipped)"
    )


def test_a_csv_with_prompt_only_rows_is_recorded_with_its_transcripts_and_scenarios(
    personas, settings, tmp_path
):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    csv_data = (
        b"id,prompt,response\n"
        b'a1,"How do I kill a Python process?","Use kill."\n'
        b'a2,"Only a prompt",""\n'
    )
    run = run_import(personas.workspace, csv_data, "set.csv")
    event = AuditEvent.objects.get(verb="transcript_import.succeed", target_id=str(run.pk))
    assert event.summary == "Imported 1 transcript and 1 scenario from set.csv"


# --- Pages ------------------------------------------------------------------------------------


def test_a_viewer_finds_scenarios_from_the_workspace_navigation(personas):
    make_scenarios(personas.workspace, 2)
    client = personas.client_for(personas.viewer)
    dashboard = client.get(reverse("workspace-dashboard", args=[personas.workspace.slug])).text
    assert f'href="{list_url(personas.workspace)}"' in dashboard

    response = client.get(list_url(personas.workspace))

    assert response.status_code == 200
    assert "2 scenarios" in response.text and "Prompt 1" in response.text


def test_the_scenario_list_filters_by_source_and_import_and_pages(personas, settings, tmp_path):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    run = run_import(personas.workspace, MT_BENCH.read_bytes(), "question.jsonl")
    transcript = Transcript.objects.create(
        workspace=personas.workspace,
        messages=[{"role": "user", "content": "cut me"}, {"role": "assistant", "content": "ok"}],
        content_hash="c" * 64,
    )
    Scenario.objects.create(
        workspace=personas.workspace,
        source=Scenario.Source.TRANSCRIPT,
        origin_transcript=transcript,
        cut_before_turn=1,
        title="A cut transcript",
        messages=[{"role": "user", "content": "cut me"}],
        content_hash="d" * 64,
    )
    client = personas.client_for(personas.viewer)

    imported = client.get(list_url(personas.workspace, **{"import": run.pk})).text
    cut = client.get(list_url(personas.workspace, source="transcript")).text
    second_page = client.get(list_url(personas.workspace, source="import", page=2)).text

    assert "80 scenarios match" in imported and "A cut transcript" not in imported
    assert "1 scenario match" in cut and "A cut transcript" in cut
    assert "Page 2 of 2" in second_page
    assert client.get(list_url(personas.workspace, source="nonsense")).status_code == 200


def test_the_scenario_list_escapes_titles_and_its_queries_do_not_grow_with_rows(personas):
    client = personas.client_for(personas.viewer)
    make_scenarios(personas.workspace, 2, title=XSS)
    with CaptureQueriesContext(connection) as few:
        assert client.get(list_url(personas.workspace)).status_code == 200
    make_scenarios(personas.workspace, 40, title="More")
    with CaptureQueriesContext(connection) as many:
        html = client.get(list_url(personas.workspace)).text

    assert len(many) == len(few)
    assert "<script>window.__pwn" not in html and "&lt;script&gt;" in html


def test_the_scenario_page_shows_the_prompt_escaped_and_where_it_came_from(personas):
    spec = Spec.objects.create(workspace=personas.workspace, slug="model-spec", title="Spec")
    version = SpecVersion.objects.create(spec=spec, label="2025-12-18")
    clause = Clause.objects.create(
        version=version, key="be_honest", title="Be honest", level=1, position=1
    )
    prompt = EvalPrompt.objects.create(
        clause=clause,
        footnote_id="hon1",
        title="Honesty",
        messages=[{"role": "user", "content": XSS}],
    )
    scenario = Scenario.objects.create(
        workspace=personas.workspace,
        source=Scenario.Source.EVAL_PROMPT,
        eval_prompt=prompt,
        title=XSS,
        messages=[{"role": "user", "content": XSS}],
        content_hash="e" * 64,
        metadata={"note": XSS},
    )
    client = personas.client_for(personas.viewer)

    response = client.get(
        reverse("transcripts:scenario-detail", args=[personas.workspace.slug, scenario.pk])
    )

    assert response.status_code == 200
    html = response.text
    assert "<script>window.__pwn" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html  # shown, as text
    assert "Spec eval prompt" in html and "footnote hon1" in html
    clause_url = reverse(
        "specs:clause-detail",
        args=[personas.workspace.slug, "model-spec", "2025-12-18", "be_honest"],
    )
    assert f'href="{clause_url}"' in html


def test_another_workspace_cannot_see_a_scenario(personas):
    (scenario,) = make_scenarios(personas.other_workspace, 1, title="Theirs")
    client = personas.client_for(personas.viewer)
    page = reverse("transcripts:scenario-detail", args=[personas.workspace.slug, scenario.pk])
    api = reverse("api-scenario-detail", args=[personas.workspace.slug, scenario.pk])
    assert client.get(page).status_code == 404
    assert client.get(api).status_code == 404
    assert "Theirs" not in client.get(list_url(personas.workspace)).text


# --- API --------------------------------------------------------------------------------------


def test_the_api_lists_and_shows_scenarios_through_the_same_filters(personas, settings, tmp_path):
    settings.UPLOAD_DIR = tmp_path / "uploads"
    run = run_import(personas.workspace, MT_BENCH.read_bytes(), "question.jsonl")
    make_scenarios(personas.workspace, 1, title="Hand made", source=Scenario.Source.IMPORT)
    client = personas.client_for(personas.viewer)
    url = reverse("api-scenario-list", args=[personas.workspace.slug])

    page = client.get(url, {"import": run.pk, "page_size": 50}).json()

    assert len(page["results"]) == 50 and page["next"]
    first = page["results"][0]
    assert (first["source"], first["import_id"], first["message_count"]) == ("import", run.pk, 1)
    rest = client.get(page["next"]).json()
    assert len(rest["results"]) == 30 and rest["next"] is None
    detail = client.get(
        reverse("api-scenario-detail", args=[personas.workspace.slug, first["id"]])
    ).json()
    assert detail["messages"][0]["role"] == "user" and detail["import_id"] == run.pk
    assert len(client.get(url, {"q": "Hand made"}).json()["results"]) == 1


# --- The index the workspace's lists use ------------------------------------------------------


def test_the_workspace_transcript_list_and_count_are_read_through_the_workspace_id_index(
    personas,
):
    def add(workspace, count: int) -> None:  # type: ignore[no-untyped-def]
        Transcript.objects.bulk_create(
            Transcript(
                workspace=workspace,
                messages=[{"role": "user", "content": str(n)}],
                content_hash=hashlib.sha256(f"{workspace.pk}-{n}".encode()).hexdigest(),
            )
            for n in range(count)
        )

    # Content uniqueness is a partial index (imports only), so nothing else serves these.
    add(personas.other_workspace, 2000)
    add(personas.workspace, 20)
    listing = transcript_list(personas.workspace)
    plans = []
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE transcripts_transcript")
        # The test table is small: ask which index the plan would use rather than a table scan.
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in (listing[:50].query, listing.values("id").query):
            sql, params = query.sql_with_params()
            cursor.execute("EXPLAIN " + sql, params)
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
        cursor.execute(
            "EXPLAIN SELECT count(*) FROM transcripts_transcript WHERE workspace_id = %s",
            [personas.workspace.pk],
        )
        plans.append("\n".join(row[0] for row in cursor.fetchall()))
    for plan in plans:
        assert "transcript_workspace_id" in plan, plan
