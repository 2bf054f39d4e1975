"""Shared by the format tests: the public data sets, and small builders of rows and streams."""

from __future__ import annotations

import io
import json
from pathlib import Path

from transcripts.formats import ImportStats, Record, RowError, iter_records

DATA = Path(__file__).resolve().parents[3] / "data" / "transcripts"
HH = DATA / "hh-rlhf-harmless-base-test" / "harmless-base_test.jsonl.gz"
XS_GPT4 = DATA / "xstest" / "model_completions" / "xstest_v2_completions_gpt4.csv"
XS_MISTRAL = DATA / "xstest" / "model_completions" / "xstest_v2_completions_mistralinstruct.csv"
XS_PROMPTS = DATA / "xstest" / "xstest_prompts.csv"
SST = DATA / "simple-safety-tests" / "SimpleSafetyTests_test_cases.csv"
JBB = DATA / "jailbreakbench-pair" / "black_box"
MTBENCH = DATA / "mt-bench" / "question.jsonl"


def read(source: Path | bytes, **kwargs) -> tuple[list[Record], list[RowError], ImportStats]:
    """Run iter_records over a file or bytes; split records from errors."""
    stats = ImportStats()
    if isinstance(source, Path):
        with source.open("rb") as fh:
            items = list(iter_records(fh, filename=source.name, stats=stats, **kwargs))
    else:
        items = list(iter_records(io.BytesIO(source), stats=stats, **kwargs))
    records = [i for i in items if isinstance(i, Record)]
    errors = [i for i in items if isinstance(i, RowError)]
    assert len(records) + len(errors) == len(items)
    return records, errors, stats


def jsonl(*rows: object) -> bytes:
    """JSONL bytes: dict rows are dumped, bytes rows are used verbatim (for broken lines)."""
    out = []
    for row in rows:
        out.append(row if isinstance(row, bytes) else json.dumps(row).encode())
    return b"\n".join(out) + b"\n"


def chat(*contents: str, **extra: object) -> dict:
    roles = ["user", "assistant"]
    row = {
        "messages": [{"role": roles[i % 2], "content": c} for i, c in enumerate(contents)],
    }
    row.update(extra)
    return row


class ReadOnly(io.RawIOBase):
    """A non-seekable, non-peekable stream (like a socket or an upload)."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        chunk = self._buf.read(min(len(b), 1000))
        b[: len(chunk)] = chunk
        return len(chunk)

    def read(self, size: int = -1) -> bytes:
        return self._buf.read(min(size, 1000) if size >= 0 else 1000)
