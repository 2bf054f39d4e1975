"""Naming a file's format: content decides, and an explicit format wins.

Framework-free like the code under test: no database, no Django.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from tests.transcripts.formats.helpers import (
    DATA,
    HH,
    JBB,
    MTBENCH,
    SST,
    XS_GPT4,
    XS_PROMPTS,
    chat,
    jsonl,
    read,
)
from transcripts.formats import (
    HEAD_BYTES,
    FormatError,
    RowError,
    detect_format,
    iter_records,
    open_maybe_gzip,
)


def test_mtbench_reference_answers_are_not_a_format() -> None:
    with pytest.raises(FormatError, match="match no format"):
        read(DATA / "mt-bench" / "reference_answer" / "gpt-4.jsonl")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (HH, "hh_jsonl"),
        (XS_GPT4, "prompt_response_csv"),
        (XS_PROMPTS, "prompt_response_csv"),
        (SST, "prompt_response_csv"),
        (JBB / "gpt-4-0125-preview.json", "jailbreakbench_json"),
        (MTBENCH, "mtbench_jsonl"),
    ],
)
def test_the_content_not_the_file_name_names_the_format(path: Path, expected: str) -> None:
    with path.open("rb") as fh:
        head = open_maybe_gzip(fh).read(HEAD_BYTES)
    assert detect_format(head, path.name) == expected
    # The file name is not needed: content decides.
    assert detect_format(head) == expected


def test_a_first_line_longer_than_the_head_is_matched_by_its_keys() -> None:
    assert detect_format(jsonl(chat("hi"))) == "openai_jsonl"
    # First line longer than the head: fall back to key names.
    long_row = jsonl(chat("x" * (HEAD_BYTES * 2)))
    assert detect_format(long_row[:HEAD_BYTES]) == "openai_jsonl"
    with pytest.raises(FormatError, match="gzip"):
        detect_format(gzip.compress(b'{"messages": []}'))
    with pytest.raises(FormatError, match="empty"):
        detect_format(b"")
    with pytest.raises(FormatError, match="prompt column"):
        detect_format(b"id,text\n1,hello\n", "x.csv")


def test_an_unknown_format_name_is_refused() -> None:
    with pytest.raises(FormatError, match="unknown format 'yaml'"):
        iter_records(io.BytesIO(b""), format="yaml")


def test_an_explicit_format_overrides_detection() -> None:
    # Detection would say openai_jsonl; the caller knows better and gets row errors.
    _, errors, _ = read(jsonl(chat("a")), format="hh_jsonl")
    assert errors == [RowError(1, "chosen", "missing")]
