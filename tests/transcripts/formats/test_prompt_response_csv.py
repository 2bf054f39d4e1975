"""prompt_response_csv rows: columns by name, multi-line rows, every row error.

Framework-free like the code under test: no database, no Django.
"""

from __future__ import annotations

import csv

import pytest

from tests.transcripts.formats.helpers import (
    read,
)
from transcripts.formats import (
    FormatError,
    ImportLimits,
    RowError,
)


def test_a_csv_without_a_prompt_column_is_refused() -> None:
    data = b"id,text,label\n1,hello,x\n"
    with pytest.raises(FormatError, match="no prompt column"):
        read(data, format="prompt_response_csv")
    with pytest.raises(FormatError, match="unknown format"):
        read(data)


def test_csv_columns_match_in_any_case_and_rows_may_span_lines() -> None:
    data = (
        b"External_ID,Question,Answer,extra\r\n"
        b'a1,"line one\r\nline two","ans\r\n\r\nwer",m\r\n'  # lines 2-5
        b"a2,no answer,,m2\r\n"  # 6: prompt-only scenario
        b"a3,too,many,fields,here\r\n"  # 7
        b'a4,"bad \xff utf8\r\nstill row a4",x,m\r\n'  # 8-9
        b"a5,,x,m\r\n"  # 10: empty prompt
        b"\r\n"  # 11: blank line, skipped
        b"a1,dup,x,m\r\n"  # 12
        b"a6,nul \x00 byte,x,m\r\n"  # 13
        b"a7,last,x,m"  # 14, no final newline
    )
    records, errors, _ = read(data)
    assert errors == [
        RowError(7, "", "expected 4 fields (as the header), got 5"),
        RowError(8, "", "invalid UTF-8 at byte 9 of line 8 (invalid start byte)"),
        RowError(10, "Question", "empty prompt"),
        RowError(12, "external_id", "duplicate external_id 'a1' (first on line 2)"),
        RowError(13, "", "NUL byte on line 13"),
    ]
    assert [(r.line, r.external_id, r.kind) for r in records] == [
        (2, "a1", "transcript"),
        (6, "a2", "scenario"),
        (14, "a7", "transcript"),
    ]
    assert records[0].messages == [
        {"role": "user", "content": "line one\r\nline two"},
        {"role": "assistant", "content": "ans\r\n\r\nwer"},
    ]
    assert records[0].metadata == {"extra": "m"}
    assert records[1].messages == [{"role": "user", "content": "no answer"}]


def test_an_overlong_line_or_an_unclosed_quote_is_capped_like_a_line() -> None:
    limits = ImportLimits(max_line_bytes=100)
    data = b"prompt,response\nok,fine\n" + b"x" * 500 + b",y\nafter,z\n"
    records, errors, _ = read(data, limits=limits)
    assert errors == [RowError(3, "", "line 3 longer than max_line_bytes=100")]
    assert [(r.line, r.messages[0]["content"]) for r in records] == [(2, "ok"), (4, "after")]
    # An unclosed quote makes one huge multi-line row: capped like a line.
    data = b"prompt,response\n" + b'"open,' + b"y\n" * 200 + b"\n"
    records, errors, _ = read(data, limits=limits)
    assert records == []
    assert errors == [RowError(2, "", "CSV row (lines 2-202) longer than max_line_bytes=100")]


def test_an_error_from_the_csv_reader_is_one_row_error() -> None:
    # csv's own field cap is process-global and only ever raised by the reader; set it above our
    # line cap here so a long multi-line field trips csv itself, then restore it.
    old = csv.field_size_limit(200)
    try:
        data = (
            b"prompt,response\nfine,ok\n"
            + b'p,"'
            + b"r" * 60
            + b"\n"
            + (b"r" * 60 + b"\n") * 5
            + b'end"\nnext,ok\n'
        )
        records, errors, _ = read(data, limits=ImportLimits(max_line_bytes=100))
    finally:
        csv.field_size_limit(old)
    # The broken row is one error; csv then resumes mid-field, so its leftover lines are junk rows
    # (rejected here for their field count) before parsing recovers.
    assert errors[0] == RowError(3, "", "CSV error: field larger than field limit (200)")
    assert [e.line for e in errors[1:]] == [7, 8, 9]
    assert [(r.line, r.messages[0]["content"]) for r in records] == [(2, "fine"), (10, "next")]
