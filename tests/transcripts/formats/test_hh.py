"""hh_jsonl rows: a chosen/rejected pair per row; one bad side rejects the row.

Framework-free like the code under test: no database, no Django.
"""

from __future__ import annotations

from tests.transcripts.formats.helpers import (
    jsonl,
    read,
)


def test_hh_rows_become_pairs_and_a_bad_side_rejects_the_row() -> None:
    good = {"chosen": "\n\nHuman: hi\n\nAssistant: a", "rejected": "\n\nHuman: hi\n\nAssistant: b"}
    data = jsonl(
        good,
        {"chosen": 1, "rejected": "x"},
        {"chosen": "no turns here", "rejected": "\n\nHuman: x"},
        {"chosen": "preamble\n\nHuman: x", "rejected": "\n\nHuman: x"},
        {"chosen": "\n\nHuman: x", "rejected": "\n\nHuman: x\n\nAssistant: \x00"},
        {"chosen": "Human: at start\n\nAssistant:", "rejected": "\n\nHuman: y"},
    )
    records, errors, _ = read(data)
    assert [(e.line, e.field) for e in errors] == [
        (2, "chosen"),
        (3, "chosen"),
        (4, "chosen"),
        (5, "rejected.messages[1].content"),
    ]
    assert [(r.line, r.variant) for r in records] == [
        (1, "chosen"),
        (1, "rejected"),
        (6, "chosen"),
        (6, "rejected"),
    ]
    assert records[0].messages == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "a"},
    ]
    assert records[0].pair_key == records[1].pair_key != records[2].pair_key
    assert records[2].messages == [
        {"role": "user", "content": "at start"},
        {"role": "assistant", "content": ""},
    ]
