"""Parquet: gold rows in row groups of ``batch_size``, with one fixed schema.

Rows are converted and written a batch at a time, so memory holds one batch, never the file.
The schema is explicit (not inferred per batch), so every row group agrees and an export with
no rows still has its columns. Messages keep ``role`` and ``content`` (content that is not text,
such as a list of parts, is stored as its JSON text); the JSONL keeps every message field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

_text = pa.string()

SCHEMA = pa.schema(
    [
        ("messages", pa.list_(pa.struct([("role", _text), ("content", _text)]))),
        ("clause", _text),
        ("spec", _text),
        ("spec_version", _text),
        ("verdict", _text),
        ("severity", _text),
        ("rationale", _text),
        ("decided_how", _text),
        ("decided_by", _text),
        ("agreeing_reviewers", pa.list_(_text)),
        ("rule", _text),
        (
            "labels",
            pa.list_(
                pa.struct(
                    [
                        ("source", _text),
                        ("reviewer", _text),
                        ("judge_run", pa.int64()),
                        ("verdict", _text),
                        ("severity", _text),
                        ("rationale", _text),
                        ("submitted_at", _text),
                    ]
                )
            ),
        ),
        (
            "agreement",
            pa.struct(
                [
                    ("labels", pa.int32()),
                    ("top_verdict", _text),
                    ("top_share", pa.float64()),
                    ("gold_share", pa.float64()),
                ]
            ),
        ),
        (
            "provenance",
            pa.struct(
                [
                    ("campaign_id", pa.int64()),
                    ("campaign_title", _text),
                    ("item_id", pa.int64()),
                    ("transcript_id", pa.int64()),
                    ("transcript_external_id", _text),
                    ("decision_id", pa.int64()),
                    ("decided_at", _text),
                    ("exported_at", _text),
                    ("clausebook_version", _text),
                ]
            ),
        ),
    ]
)

DEFAULT_BATCH = 2000


def _message(message: dict[str, Any]) -> dict[str, str]:
    content = message.get("content", "")
    if not isinstance(content, str):
        content = orjson.dumps(content).decode()
    return {"role": str(message.get("role", "")), "content": content}


def _columnar(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "messages": [_message(m) for m in row["messages"]]}


def _batches(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def write_parquet(
    rows: Iterable[dict[str, Any]],
    where: Any,
    *,
    batch_size: int = DEFAULT_BATCH,
    on_row: Callable[[int], None] | None = None,
) -> int:
    """Write ``rows`` to ``where`` (a path or a binary file), one row group per batch; return
    the count."""
    count = 0
    with pq.ParquetWriter(where, SCHEMA, compression="zstd") as writer:
        for batch in _batches(rows, batch_size):
            table = pa.Table.from_pylist([_columnar(row) for row in batch], schema=SCHEMA)
            writer.write_table(table, row_group_size=batch_size)
            count += len(batch)
            if on_row is not None:
                on_row(count)
    return count
