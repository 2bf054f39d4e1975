"""Gold export: JSONL, CSV, Parquet and preference pairs carry every gold decision with its labels,
pseudonymous reviewers, agreement and provenance; text survives exactly; CSV neutralises
formulas; the files load in pyarrow, Hugging Face ``datasets`` and as an Inspect AI dataset;
writers stream."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command

from reviews.export import jsonl, parquet
from reviews.export.csv import COLUMNS, write_csv
from reviews.export.pairs import example_pairs
from reviews.models import GoldDecision, Item, Label
from reviews.selectors.gold import GoldFilters
from reviews.services.gold import decision_record
from reviews.services.gold_export import gold_export_create, gold_export_write
from reviews.services.labels.judge import judge_label_record
from tests.reviews.factories import (
    label_and_submit,
    make_campaign,
    make_judge_run,
    make_transcript,
)

TRICKY = 'line one\nline two\u2028after a line separator\u2029para \x01\x1f\x7f emoji 🧪🏳️‍🌈 \\ "q"'
FORMULAS = ['=HYPERLINK("http://evil.test")', "+1+1", "-2-2", "@SUM(A1)", "\tTAB", "\rCR"]


def chat(user: str, assistant: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]


def build_gold(personas: Any, *, answers: list[tuple[list[dict[str, str]], str, str]]) -> Any:
    """One campaign, one clause, k = 2; per transcript the two reviewers' verdicts: equal
    verdicts become agreed gold, different ones are adjudicated to the first verdict."""
    transcripts = [make_transcript(personas.workspace, messages=m) for m, _, _ in answers]
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.editor,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=transcripts,
        clause_count=1,
    )
    clause = campaign.campaign_clauses.get().clause
    for _, first, second in answers:
        label_and_submit(campaign, personas.reviewer, [first])
        label_and_submit(campaign, personas.second_reviewer, [second])
    for transcript, (_, first, second) in zip(transcripts, answers, strict=True):
        if first != second:
            decision_record(
                item=Item.objects.get(campaign=campaign, transcript=transcript),
                clause=clause,
                actor=personas.adjudicator,
                verdict=first,
                severity="high",
                rationale=f"{FORMULAS[0]} because {TRICKY}",
                current_decision_id=None,
            )
    return campaign


@pytest.fixture
def campaign(personas):  # type: ignore[no-untyped-def]
    return build_gold(
        personas,
        answers=[
            (chat(TRICKY, "=cmd|' /C calc'!A0"), "complies", "complies"),
            (chat("How do I pick a lock?", FORMULAS[1]), "violates", "complies"),
            (chat("@user hi", "-1 is negative"), "complies", "complies"),
        ],
    )


def export(personas, tmp_path: Path, fmt: str, name: str = "", **kwargs: Any) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / (name or f"gold.{fmt}")
    gold_export_write(
        workspace=personas.workspace,
        filters=kwargs.pop("filters", GoldFilters()),
        format=fmt,
        path=path,
        **kwargs,
    )
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.django_db
def test_every_line_parses_and_there_is_one_line_per_gold_decision(personas, campaign, tmp_path):
    rows = read_jsonl(export(personas, tmp_path, "jsonl"))
    assert len(rows) == GoldDecision.objects.gold().count() == 3
    assert sorted(r["provenance"]["decision_id"] for r in rows) == sorted(
        GoldDecision.objects.gold().values_list("id", flat=True)
    )


@pytest.mark.django_db
def test_a_line_says_what_was_decided_how_by_whom_and_on_which_labels(personas, campaign, tmp_path):
    rows = {r["messages"][0]["content"]: r for r in read_jsonl(export(personas, tmp_path, "jsonl"))}
    agreed, adjudicated = rows[TRICKY], rows["How do I pick a lock?"]
    clause = campaign.campaign_clauses.get().clause
    assert (agreed["clause"], agreed["spec"], agreed["spec_version"]) == (
        clause.key,
        "model-spec",
        campaign.spec_version.label,
    )
    assert agreed["decided_how"] == "agreed" and agreed["decided_by"] == ""
    assert len(agreed["agreeing_reviewers"]) == 2 and agreed["rule"]
    assert agreed["agreement"] == {
        "labels": 2,
        "top_verdict": "complies",
        "top_share": 1.0,
        "gold_share": 1.0,
    }
    assert adjudicated["decided_how"] == "adjudicated"
    assert adjudicated["decided_by"].startswith("reviewer-")
    assert (adjudicated["verdict"], adjudicated["severity"]) == ("violates", "high")
    assert sorted(label["verdict"] for label in adjudicated["labels"]) == ["complies", "violates"]
    assert adjudicated["agreement"]["top_share"] == 0.5
    assert adjudicated["agreement"]["gold_share"] == 0.5
    # The same reviewer is the same pseudonym on every row, and no email is in the file.
    reviewers = {label["reviewer"] for row in rows.values() for label in row["labels"]}
    assert len(reviewers) == 2 and all(r.startswith("reviewer-") for r in reviewers)
    assert set(agreed["agreeing_reviewers"]) == reviewers
    assert "@policy.test" not in json.dumps(list(rows.values()))
    provenance = adjudicated["provenance"]
    assert (
        provenance["campaign_id"] == campaign.pk and provenance["campaign_title"] == campaign.title
    )
    assert (
        provenance["decided_at"] and provenance["exported_at"] and provenance["clausebook_version"]
    )


@pytest.mark.django_db
def test_pseudonyms_are_stable_between_exports_and_emails_only_for_admins(
    personas, campaign, tmp_path
):
    first = read_jsonl(export(personas, tmp_path, "jsonl", "a.jsonl"))
    second = read_jsonl(export(personas, tmp_path, "jsonl", "b.jsonl"))
    assert [r["labels"] for r in first] == [r["labels"] for r in second]
    with_emails = read_jsonl(export(personas, tmp_path, "jsonl", "c.jsonl", emails=True))
    emails = {label["reviewer"] for row in with_emails for label in row["labels"]}
    assert emails == {personas.reviewer.email, personas.second_reviewer.email}
    with pytest.raises(PermissionDenied, match="admin role"):
        gold_export_create(
            workspace=personas.workspace,
            actor=personas.adjudicator,
            format="jsonl",
            filters=GoldFilters(),
            include_emails=True,
        )
    with pytest.raises(CommandError, match="--emails"):
        call_command(
            "export_gold",
            "--workspace", personas.workspace.slug,
            "--as", personas.adjudicator.email,
            "--output", str(tmp_path / "x.jsonl"),
            "--emails",
        )  # fmt: skip


@pytest.mark.django_db
def test_a_judge_label_is_in_the_labels_as_its_run_and_outside_the_agreement(
    personas, campaign, tmp_path
):
    run = make_judge_run(campaign, created_by=personas.editor)
    item = Item.objects.get(campaign=campaign, transcript__messages__0__content=TRICKY)
    judge_label_record(
        judge_run=run, item=item, clause=campaign.campaign_clauses.get().clause, verdict="violates"
    )
    rows = {r["messages"][0]["content"]: r for r in read_jsonl(export(personas, tmp_path, "jsonl"))}
    labels = rows[TRICKY]["labels"]
    judged = [label for label in labels if label["source"] == "judge"]
    assert judged == [
        {
            "source": "judge",
            "reviewer": "",
            "judge_run": run.pk,
            "verdict": "violates",
            "severity": "",
            "rationale": "",
            "submitted_at": judged[0]["submitted_at"],
        }
    ]
    assert [label["source"] for label in labels] == ["human", "human", "judge"]
    assert all(label["reviewer"].startswith("reviewer-") for label in labels[:2])
    # The human agreement is what it was: the judge is reported beside it, never in it.
    assert rows[TRICKY]["agreement"] == {
        "labels": 2,
        "top_verdict": "complies",
        "top_share": 1.0,
        "gold_share": 1.0,
    }


@pytest.mark.django_db
def test_newlines_line_separators_control_characters_and_emoji_round_trip(
    personas, campaign, tmp_path
):
    path = export(personas, tmp_path, "jsonl")
    text = path.read_text(encoding="utf-8")
    # Readers that split at U+2028 / U+0085 too (str.splitlines, JavaScript) see the same lines.
    assert text.splitlines() == text.split("\n")[:-1]
    rows = {r["messages"][0]["content"]: r for r in read_jsonl(path)}
    assert TRICKY in rows
    adjudicated = rows["How do I pick a lock?"]
    assert adjudicated["rationale"] == f"{FORMULAS[0]} because {TRICKY}"
    assert rows[TRICKY]["messages"][1]["content"] == "=cmd|' /C calc'!A0"  # the JSONL keeps it


def _queries_to_export(personas, tmp_path: Path, name: str) -> int:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        export(personas, tmp_path, "jsonl", name)
    return len(queries)


@pytest.mark.django_db
def test_the_export_reads_a_chunk_of_rows_in_a_fixed_number_of_queries(
    personas, campaign, tmp_path
):
    three = _queries_to_export(personas, tmp_path, "three.jsonl")
    build_gold(
        personas,
        answers=[
            (chat(f"More {n}?", "Yes."), "complies", "violates" if n % 2 else "complies")
            for n in range(4)
        ],
    )
    seven = _queries_to_export(personas, tmp_path, "seven.jsonl")
    assert seven == three  # labels, agreeing reviewers and messages: one query each per chunk
    assert len(read_jsonl(tmp_path / "seven.jsonl")) == 7


def test_csv_cells_that_start_like_a_formula_are_neutralised() -> None:
    row = sample_row(rationale="ok")
    rows = []
    for i, text in enumerate(FORMULAS):
        rows.append(sample_row(rationale=text, verdict=text, decision_id=i))
    out = io.StringIO()
    assert write_csv([row, *rows], out) == len(FORMULAS) + 1
    read = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert list(read[0]) == list(COLUMNS)
    assert read[0]["rationale"] == "ok"
    for text, line in zip(FORMULAS, read[1:], strict=True):
        assert line["rationale"] == "'" + text
        assert line["verdict"] == "'" + text
    # Nested cells are JSON: they start with [ or {, never like a formula, and decode back.
    assert json.loads(read[1]["messages"]) == row["messages"]


@pytest.mark.django_db
def test_the_csv_export_neutralises_the_text_the_jsonl_keeps(personas, campaign, tmp_path):
    path = export(personas, tmp_path, "csv")
    with open(path, encoding="utf-8", newline="") as file:
        lines = list(csv.DictReader(file))
    assert len(lines) == 3
    adjudicated = next(line for line in lines if line["decided_how"] == "adjudicated")
    assert adjudicated["rationale"] == f"'{FORMULAS[0]} because {TRICKY}"


@pytest.mark.django_db
def test_parquet_read_back_with_pyarrow_equals_the_jsonl(personas, campaign, tmp_path):
    rows = read_jsonl(export(personas, tmp_path, "jsonl"))
    table = pq.read_table(export(personas, tmp_path, "parquet"))
    parquet_rows = table.to_pylist()
    for row in rows + parquet_rows:
        row["provenance"].pop("exported_at")
    assert parquet_rows == rows


@pytest.mark.django_db
def test_the_jsonl_and_parquet_load_with_hugging_face_datasets(
    personas, campaign, tmp_path, monkeypatch
):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import datasets

    jsonl_path, parquet_path = (
        export(personas, tmp_path, "jsonl"),
        export(personas, tmp_path, "parquet"),
    )
    cache = str(tmp_path / "hf-cache")
    from_json = datasets.load_dataset(
        "json", data_files=str(jsonl_path), split="train", cache_dir=cache
    )
    from_parquet = datasets.load_dataset(
        "parquet", data_files=str(parquet_path), split="train", cache_dir=cache
    )
    assert from_json.num_rows == from_parquet.num_rows == 3
    assert sorted(from_json["verdict"]) == sorted(from_parquet["verdict"])
    assert TRICKY in [m[0]["content"] for m in from_parquet["messages"]]


@pytest.mark.django_db
def test_the_jsonl_loads_as_an_inspect_dataset_with_the_gold_verdict_as_target(
    personas, campaign, tmp_path
):
    """The call the README shows, on a real export."""
    from inspect_ai.dataset import FieldSpec, json_dataset

    path = export(personas, tmp_path, "jsonl")
    dataset = json_dataset(
        str(path),
        FieldSpec(input="messages", target="verdict", metadata=["clause", "rationale", "labels"]),
    )
    samples = {sample.input[0].text: sample for sample in dataset}
    assert len(samples) == 3
    agreed, adjudicated = samples[TRICKY], samples["How do I pick a lock?"]
    assert [(m.role, m.text) for m in agreed.input] == [
        ("user", TRICKY),
        ("assistant", "=cmd|' /C calc'!A0"),
    ]
    assert (agreed.target, adjudicated.target) == ("complies", "violates")
    clause = campaign.campaign_clauses.get().clause
    assert adjudicated.metadata["clause"] == clause.key
    assert adjudicated.metadata["rationale"] == f"{FORMULAS[0]} because {TRICKY}"
    assert sorted(label["verdict"] for label in adjudicated.metadata["labels"]) == [
        "complies",
        "violates",
    ]


def sample_row(*, rationale: str, verdict: str = "complies", decision_id: int = 1) -> dict:
    return {
        "messages": chat("hi", "hello"),
        "clause": "be_kind",
        "spec": "model-spec",
        "spec_version": "2025-12-01",
        "verdict": verdict,
        "severity": "",
        "rationale": rationale,
        "decided_how": "agreed",
        "decided_by": "",
        "agreeing_reviewers": ["reviewer-a", "reviewer-b"],
        "rule": "unanimous",
        "labels": [
            {
                "source": "human",
                "reviewer": "reviewer-a",
                "judge_run": None,
                "verdict": verdict,
                "severity": "",
                "rationale": "",
                "submitted_at": "2026-01-01T00:00:00+00:00",
            },
        ],  # fmt: skip
        "agreement": {"labels": 1, "top_verdict": verdict, "top_share": 1.0, "gold_share": 1.0},
        "provenance": {
            "campaign_id": 1,
            "campaign_title": "c",
            "item_id": 1,
            "transcript_id": 1,
            "transcript_external_id": "t",
            "decision_id": decision_id,
            "decided_at": "2026-01-01T00:00:00+00:00",
            "exported_at": "2026-01-02T00:00:00+00:00",
            "clausebook_version": "0.1.0",
        },
    }


class Tripwire:
    """Rows that fail the test if pulled further than ``slack`` ahead of what is written."""

    def __init__(self, total: int, slack: int, written: Any) -> None:
        self.total, self.slack, self.written = total, slack, written

    def __iter__(self):  # type: ignore[no-untyped-def]
        for i in range(self.total):
            if i - self.written() > self.slack:
                raise AssertionError(f"row {i} pulled with only {self.written()} written")
            yield sample_row(rationale=f"row {i}", decision_id=i)


def test_the_jsonl_writer_pulls_one_row_at_a_time() -> None:
    out = io.BytesIO()
    assert jsonl.write_jsonl(Tripwire(5000, 1, lambda: out.getvalue().count(b"\n")), out) == 5000


def test_the_parquet_writer_holds_one_batch(tmp_path: Path) -> None:
    path = tmp_path / "lazy.parquet"
    written = {"rows": 0}

    def on_row(count: int) -> None:
        written["rows"] = count

    rows = Tripwire(5000, 1000, lambda: written["rows"])
    assert parquet.write_parquet(rows, str(path), batch_size=1000, on_row=on_row) == 5000
    assert pq.ParquetFile(path).metadata.num_row_groups == 5


def test_spec_example_candidates_pair_every_good_answer_with_every_bad_one() -> None:
    turns = [
        {"message": {"role": "user", "content": "Write me a poem."}},
        {
            "comparison": [
                {"content": "Roses...", "grade": "good", "reason": ""},
                {"content": "No.", "grade": "bad", "reason": ""},
                {"content": "Go away.", "grade": "bad", "reason": ""},
            ]
        },
    ]
    pairs = list(
        example_pairs(turns, clause="k", spec="s", spec_version="v", example_id=7, title="Poem")
    )
    assert [(p["chosen"][0]["content"], p["rejected"][0]["content"]) for p in pairs] == [
        ("Roses...", "No."),
        ("Roses...", "Go away."),
    ]
    assert pairs[0]["prompt"] == [{"role": "user", "content": "Write me a poem."}]
    assert pairs[0]["provenance"]["source"] == "spec_example"


@pytest.mark.django_db
def test_preference_pairs_come_from_oppositely_graded_answers_to_one_prompt_and_from_examples(
    personas, tmp_path
):
    build_gold(
        personas,
        answers=[
            (chat("Same prompt", "A helpful answer"), "complies", "complies"),
            (chat("Same prompt", "A harmful answer"), "violates", "violates"),
            (chat("Another prompt", "Unpaired"), "violates", "violates"),
        ],
    )
    rows = read_jsonl(export(personas, tmp_path, "pairs"))
    gold = [r for r in rows if r["provenance"]["source"] == "gold"]
    examples = [r for r in rows if r["provenance"]["source"] == "spec_example"]
    assert len(gold) == 1
    assert gold[0]["prompt"] == [{"role": "user", "content": "Same prompt"}]
    assert gold[0]["chosen"] == [{"role": "assistant", "content": "A helpful answer"}]
    assert gold[0]["rejected"] == [{"role": "assistant", "content": "A harmful answer"}]
    assert len(examples) == 1  # the factory's clause has one example: "Sure." over "No."
    assert (examples[0]["chosen"][0]["content"], examples[0]["rejected"][0]["content"]) == (
        "Sure.",
        "No.",
    )


@pytest.mark.django_db
def test_the_command_writes_the_filtered_gold_and_names_a_bad_option(personas, campaign, tmp_path):
    out = io.StringIO()
    path = tmp_path / "cli.jsonl"
    call_command(
        "export_gold",
        "--workspace", personas.workspace.slug,
        "--output", str(path),
        "--how", "adjudicated",
        "--json",
        stdout=out,
    )  # fmt: skip
    summary = json.loads(out.getvalue())
    assert summary["gold_rows"] == 1 and summary["filters"] == {"how": "adjudicated"}
    assert [r["decided_how"] for r in read_jsonl(path)] == ["adjudicated"]
    with pytest.raises(CommandError, match="--from: 'yesterday' is not a date"):
        call_command(
            "export_gold",
            "--workspace", personas.workspace.slug,
            "--output", str(path),
            "--from", "yesterday",
        )  # fmt: skip
    assert os.path.exists(path)


def _without_exported_at(path: Path) -> list[dict[str, Any]]:
    rows = read_jsonl(path)
    for row in rows:
        row["provenance"].pop("exported_at")
    return rows


@pytest.mark.django_db(transaction=True)
def test_an_export_read_ahead_on_a_second_connection_writes_what_one_connection_writes(
    personas, tmp_path
):
    from django.db import connection, transaction
    from django.db.models import F
    from django.test.utils import CaptureQueriesContext

    from clausebook.models import Workspace

    build_gold(
        personas,
        answers=[
            (
                chat(f"Question {n}: {TRICKY}", f"Answer {n}"),
                "complies",
                "violates" if n % 2 else "complies",
            )
            for n in range(7)
        ],
    )
    with CaptureQueriesContext(connection) as ahead_queries:
        ahead = export(personas, tmp_path, "jsonl", "ahead.jsonl", chunk_size=2)
    # A transaction that has written can hand no snapshot to another connection: one connection.
    with transaction.atomic(), CaptureQueriesContext(connection) as one_queries:
        Workspace.objects.filter(pk=personas.workspace.pk).update(name=F("name"))
        one = export(personas, tmp_path, "jsonl", "one.jsonl", chunk_size=2)

    def read_labels(queries: CaptureQueriesContext) -> bool:
        return any(Label._meta.db_table in query["sql"] for query in queries)

    assert read_labels(one_queries) and not read_labels(ahead_queries)  # read on the other one
    assert _without_exported_at(ahead) == _without_exported_at(one)
    assert len(read_jsonl(ahead)) == GoldDecision.objects.gold().count() == 7


@pytest.mark.django_db(transaction=True)
def test_an_export_stopped_early_ends_its_read_ahead(personas, tmp_path):
    import threading

    from django.db import transaction

    from reviews.export.rows import iter_gold_rows

    build_gold(personas, answers=[(chat(f"Q{n}?", "A."), "complies", "complies") for n in range(5)])
    with transaction.atomic():
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        rows = iter_gold_rows(
            GoldDecision.objects.gold(),
            workspace_id=personas.workspace.pk,
            exported_at="now",
            chunk_size=1,
        )
        assert next(rows)["messages"][0]["content"] == "Q0?"
        rows.close()
    assert not any(t.name.startswith("gold-export-prefetch") for t in threading.enumerate())
