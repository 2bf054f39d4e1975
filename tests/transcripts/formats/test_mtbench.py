"""mtbench_jsonl rows: the first turn is a scenario; bad ids and turns are rejected.

Framework-free like the code under test: no database, no Django.
"""

from __future__ import annotations

from tests.transcripts.formats.helpers import (
    jsonl,
    read,
)


def test_mt_bench_rows_with_bad_ids_or_turns_are_rejected() -> None:
    data = jsonl(
        {"question_id": 1, "category": "x", "turns": ["a", "b"]},
        {"question_id": 2, "turns": []},
        {"question_id": 3, "turns": ["a", 2]},
        {"question_id": None, "turns": ["a"]},
    )
    records, errors, _ = read(data, format="mtbench_jsonl")
    assert [r.external_id for r in records] == ["mtbench-1"]
    assert [(e.line, e.field) for e in errors] == [
        (2, "turns"),
        (3, "turns[1]"),
        (4, "question_id"),
    ]
