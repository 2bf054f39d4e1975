"""The synthetic openai_jsonl generator used by tests and benchmarks.

Framework-free like the code under test: no database, no Django.
"""

from __future__ import annotations

from pathlib import Path

from tests.transcripts.formats.helpers import (
    read,
)
from transcripts.formats import (
    generate_openai_jsonl,
)


def test_the_generator_is_deterministic_and_every_row_is_valid(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    size = generate_openai_jsonl(a, 500, seed=1)
    generate_openai_jsonl(b, 500, seed=1)
    generate_openai_jsonl(c, 500, seed=2)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    assert size == a.stat().st_size
    assert 1200 <= size / 500 <= 1800  # ~1.5 KB per row
    records, errors, _ = read(a)
    assert errors == []
    assert len(records) == 500
    assert all(len(r.messages) == 6 for r in records)
    assert len({r.content_hash for r in records}) == 500
    assert len({r.external_id for r in records}) == 500
    assert all(r.metadata and r.tags and r.model for r in records)
