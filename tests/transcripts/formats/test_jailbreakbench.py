"""jailbreakbench_json documents: item shapes, key order, and document errors.

Framework-free like the code under test: no database, no Django.
"""

from __future__ import annotations

import json

import pytest

from tests.transcripts.formats.helpers import (
    read,
)
from transcripts.formats import (
    FormatError,
    ImportLimits,
)


def test_a_document_may_mix_items_and_put_its_parameters_last() -> None:
    doc = {
        "jailbreaks": [
            {"index": 0, "goal": "g", "prompt": "p0", "response": "r0", "jailbroken": True},
            {"index": 1, "prompt": None, "response": None},
            "not an item",
            {"index": 3, "prompt": 7, "response": "r"},
            {"index": 4, "prompt": "p4", "response": None},
        ],
        "parameters": {"model": "m", "method": "PAIR"},  # after jailbreaks: still used
    }
    records, errors, stats = read(json.dumps(doc, indent=2).encode(), format="jailbreakbench_json")
    assert [(e.field, e.message) for e in errors] == [
        ("", "item must be an object, got string"),
        ("prompt", "must be a string, got number"),
    ]
    assert [(r.external_id, r.kind, r.model) for r in records] == [
        ("jbb-PAIR-m-0", "transcript", "m"),
        ("jbb-PAIR-m-4", "scenario", "m"),
    ]
    assert records[0].metadata == {"goal": "g", "jailbroken": True, "index": 0}
    assert stats.skipped == 1
    # Minified on one line: detected, lines are all 1.
    records, errors, _ = read(json.dumps(doc).encode())
    assert len(records) == 2 and {r.line for r in records} == {1}


def test_a_broken_document_names_the_problem_and_where() -> None:
    with pytest.raises(FormatError, match="line 3 column"):
        read(b'{\n "parameters": {},\n "jailbreaks": [}\n', format="jailbreakbench_json")
    with pytest.raises(FormatError, match="no 'jailbreaks' array"):
        read(b'{"parameters": {}}', format="jailbreakbench_json")
    big = json.dumps({"jailbreaks": [{"prompt": "x" * 5000}]}).encode()
    with pytest.raises(FormatError, match="max_document_bytes=1000"):
        read(big, limits=ImportLimits(max_document_bytes=1000))
    with pytest.raises(FormatError, match="invalid UTF-8 at line 2"):
        read(b'{"jailbreaks": [\n"\xff"]}', format="jailbreakbench_json")
    with pytest.raises(FormatError, match="max_depth"):
        read(b'{"jailbreaks": [' + b"[" * 50 + b"]" * 50 + b"]}", format="jailbreakbench_json")
