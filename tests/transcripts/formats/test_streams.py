"""Streams: gzip by magic bytes, the byte budget against bombs, lines across chunks.

Framework-free like the code under test: no database, no Django.
"""

from __future__ import annotations

import gzip
import io
import json

import pytest

from tests.transcripts.formats.helpers import (
    XS_GPT4,
    ReadOnly,
    chat,
    jsonl,
    read,
)
from transcripts.formats import (
    FormatError,
    ImportLimits,
    ImportStats,
    RowError,
    iter_records,
    open_maybe_gzip,
    streams,
)


def test_gzip_is_detected_by_its_magic_bytes_not_its_name() -> None:
    plain = XS_GPT4.read_bytes()
    expected, _, _ = read(XS_GPT4)
    # A lying file name, and a stream that can neither seek nor peek.
    stats = ImportStats()
    items = list(iter_records(ReadOnly(gzip.compress(plain)), filename="data.jsonl", stats=stats))
    assert stats.format == "prompt_response_csv"
    assert items == expected
    assert stats.bytes_read == len(plain)


@pytest.mark.parametrize("data", [b"", b"x", b"\x1f", b"plain text", gzip.compress(b"zipped")])
def test_open_maybe_gzip_consumes_nothing_from_any_kind_of_stream(data: bytes) -> None:
    expected = gzip.decompress(data) if data.startswith(b"\x1f\x8b") else data
    assert open_maybe_gzip(io.BytesIO(data)).read() == expected
    assert open_maybe_gzip(ReadOnly(data)).read() == expected
    assert open_maybe_gzip(io.BufferedReader(io.BytesIO(data))).read() == expected


def test_corrupt_and_truncated_gzip_are_format_errors() -> None:
    with pytest.raises(FormatError, match="gzip"):
        read(b"\x1f\x8b" + b"not really gzip" * 10)
    truncated = gzip.compress(jsonl(*[chat(f"row {i}") for i in range(2000)]))[:-200]
    with pytest.raises(FormatError, match="truncated gzip"):
        read(truncated, format="openai_jsonl")


def test_a_gzip_bomb_stops_one_byte_past_the_budget() -> None:
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024), compresslevel=9)  # ~50 KB
    stats = ImportStats()
    with pytest.raises(FormatError, match=r"max_bytes=1048576"):
        list(
            iter_records(
                io.BytesIO(bomb),
                format="openai_jsonl",
                limits=ImportLimits(max_bytes=1024 * 1024),
                stats=stats,
            )
        )
    # Decompression stopped one byte past the budget, not at the end of the 50 MB.
    assert stats.bytes_read == 1024 * 1024 + 1


def test_a_multi_member_gzip_bomb_reads_little_of_its_input() -> None:
    # 10,000 gzip members of 1 MiB of zeros each: 10 GiB decompressed from ~10 MB.
    member = gzip.compress(b"\0" * (1024 * 1024), compresslevel=9)
    bomb = member * 10_000
    raw = io.BytesIO(bomb)
    with pytest.raises(FormatError, match="max_bytes=20971520"):
        list(iter_records(raw, format="hh_jsonl", limits=ImportLimits(max_bytes=20 * 1024 * 1024)))
    assert raw.tell() < 1_000_000  # of ~10 MB


def test_a_gzip_bomb_of_valid_lines_stops_mid_stream() -> None:
    # Valid rows, 200 gzip members of ~2 MB each: stops at the byte budget, mid-stream.
    member = gzip.compress(jsonl(chat("same")) * 50_000)
    bomb = member * 200
    raw = io.BytesIO(bomb)
    stats = ImportStats()
    seen = 0
    with pytest.raises(FormatError, match="max_bytes=1000000"):
        for _ in iter_records(raw, limits=ImportLimits(max_bytes=1_000_000), stats=stats):
            seen += 1
    assert stats.bytes_read == 1_000_001
    assert 0 < seen < 50_000  # records before the limit were yielded: importer must roll back
    assert raw.tell() < len(bomb) // 10


def test_an_overlong_line_is_one_row_error_and_reading_goes_on() -> None:
    limits = ImportLimits(max_line_bytes=1000)
    data = jsonl(chat("short"), chat("x" * 5000), chat("after"))
    records, errors, _ = read(data, limits=limits)
    assert errors == [RowError(2, "", "line longer than max_line_bytes=1000")]
    assert [(r.line, r.messages[0]["content"]) for r in records] == [(1, "short"), (3, "after")]


@pytest.mark.parametrize("chunk", [1, 7, 64, 999, 1000, 1001, 4096])
def test_lines_split_across_chunk_boundaries_keep_their_numbers(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    # Small read chunks make lines (and overlong lines) straddle chunk boundaries.
    limits = ImportLimits(max_line_bytes=1000)
    overhead = len(json.dumps(chat("")))  # bytes of a row around its content
    sizes = [10, 3000, 500, 1000 - overhead, 1001 - overhead, 0, 1]
    data = jsonl(*[chat("x" * n) for n in sizes])[:-1]  # no final newline
    monkeypatch.setattr(streams, "CHUNK", chunk)
    monkeypatch.setattr(streams, "HEAD_BYTES", max(chunk, 2))
    records, errors, _ = read(data, limits=limits, format="openai_jsonl")
    assert errors == [
        RowError(2, "", "line longer than max_line_bytes=1000"),
        RowError(5, "", "line longer than max_line_bytes=1000"),
    ]
    assert [(r.line, len(r.messages[0]["content"])) for r in records] == [
        (1, 10),
        (3, 500),
        (4, 1000 - overhead),  # exactly max_line_bytes: allowed
        (6, 0),
        (7, 1),
    ]
