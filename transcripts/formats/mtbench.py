"""``mtbench_jsonl``: MT-Bench questions, ``{"question_id": …, "category": …, "turns": [...]}``.

Prompt only: each row is a scenario (the first turn as a user message); the later turns need the
model's answers first, so they travel in the metadata with the rest of the row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from transcripts.formats.jsonl import iter_jsonl
from transcripts.formats.limits import ImportLimits
from transcripts.formats.messages import make_record, short, type_name
from transcripts.formats.records import ImportStats, Record, RowError
from transcripts.formats.streams import Source, iter_lines

NAME = "mtbench_jsonl"
LABEL = "MT-Bench questions (become scenarios)"


def make_converter(limits: ImportLimits) -> Any:
    def convert(n: int, obj: dict[str, Any], line: bytes) -> Record | RowError:
        qid = obj.get("question_id")
        if type(qid) not in (int, str) or qid == "":
            return RowError(n, "question_id", f"must be an integer or string, got {short(qid)}")
        turns = obj.get("turns")
        if type(turns) is not list or not turns:
            return RowError(n, "turns", "must be a non-empty array of strings")
        for i, turn in enumerate(turns):
            if type(turn) is not str:
                return RowError(n, f"turns[{i}]", f"must be a string, got {type_name(turn)}")
        # Prompt-only: the first turn is the scenario; later turns need the model's answers first,
        # so they travel in metadata (with category, reference, ...).
        return make_record(
            n,
            [{"role": "user", "content": turns[0]}],
            limits,
            external_id=f"mtbench-{qid}",
            metadata=dict(obj),
            kind="scenario",
        )

    return convert


def read(
    source: Source, head: bytes, limits: ImportLimits, stats: ImportStats, where: str
) -> Iterator[Record | RowError]:
    return iter_jsonl(iter_lines(source, head), make_converter(limits), limits, stats, where)
