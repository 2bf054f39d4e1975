"""openai_jsonl rows: fields, the fast path against the general one, every row error.

Framework-free like the code under test: no database, no Django.
"""

from __future__ import annotations

import json

import pytest

from tests.transcripts.formats.helpers import (
    chat,
    jsonl,
    read,
)
from transcripts.formats import (
    DEFAULT_LIMITS,
    ROLES,
    FormatError,
    ImportLimits,
    Record,
    RowError,
    content_hash,
    openai_jsonl,
)
from transcripts.formats.jsonl import too_deep


def test_a_row_keeps_its_fields_and_blank_lines_are_skipped() -> None:
    data = (
        b"\xef\xbb\xbf"  # a BOM on line 1 is tolerated
        + jsonl(chat("q", "a", external_id=7, metadata={"k": "v"}, tags=["x"], model="gpt"))
        + b"\n   \r\n"
        + jsonl(
            {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]}
        )
    )
    records, errors, stats = read(data)
    assert errors == []
    assert [r.line for r in records] == [1, 4]
    first, second = records
    assert first.external_id == "7"
    assert (first.metadata, first.tags, first.model, first.kind) == (
        {"k": "v"},
        ["x"],
        "gpt",
        "transcript",
    )
    assert (first.pair_key, first.variant) == ("", "")
    assert second.kind == "scenario"  # no assistant message: a prompt to run
    assert second.external_id == "" and second.metadata == {} and second.tags == []
    assert stats.rows == 2 and stats.records == 2


_FAST_LINES = [
    jsonl(chat("q", "a"))[:-1],
    # Key order, nulls for optional fields.
    b'{"messages": [{"content": "c", "role": "user"}, '
    b'{"role": "assistant", "content": "r", "name": null, "tool_calls": null}], '
    b'"external_id": null, "metadata": null, "tags": null, "model": null}',
    # Escapes of every kind, non-ASCII text, and metadata with tabs between tokens.
    '{"messages": [{"role": "system", "content": "tab\\t nl\\n q\\" bs\\\\ sl\\/ '
    '\\u00e9 \\ud83d\\ude00 é 日本 \\u001f \\u2028"}], "metadata":\t{"k" :\t[1, 2.5e3, '
    '"\\u00e9", 18446744073709551615]}, "external_id": -9223372036854775808, '
    '"tags": ["a", "b"], "model": "m"}'.encode(),
    # Only prompts: a scenario.
    jsonl({"messages": [{"role": "developer", "content": ""}, {"role": "user", "content": "u"}]})[
        :-1
    ],
    jsonl(chat("x", "y", external_id="e-1", metadata={}, tags=[], model=""))[:-1],
]


def _general(n: int, line: bytes) -> Record | RowError:
    import orjson

    return openai_jsonl.make_converter(DEFAULT_LIMITS)(n, orjson.loads(line), line)


@pytest.mark.parametrize("index", range(len(_FAST_LINES)))
def test_the_fast_path_gives_exactly_what_the_general_path_gives(index: int) -> None:
    line = _FAST_LINES[index]
    fast = openai_jsonl.make_fast_path(DEFAULT_LIMITS)(3, line)
    general = _general(3, line)
    assert fast is not None, "a plain row must take the fast path"
    assert type(general) is Record
    assert fast.messages_json == general.messages_json
    assert fast.content_hash == general.content_hash == content_hash(general.messages)
    assert fast == general  # every field, metadata and messages decoded
    assert json.loads(fast.metadata_json) == general.metadata


@pytest.mark.parametrize(
    "row",
    [
        {"messages": []},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "parts"}]}]},
        {"messages": [{"role": "user", "content": "x", "name": "bob"}]},
        {"messages": [{"role": "robot", "content": "x"}]},
        {"messages": [{"role": "user", "content": "x"}], "metadata": [1]},
        {"messages": [{"role": "user", "content": "x"}], "external_id": True},
        # orjson reads integers past 64 bits as floats, which the general path rejects as ids.
        {"messages": [{"role": "user", "content": "x"}], "external_id": 2**64},
        {"messages": [{"role": "user", "content": "x"}], "tags": ["ok", 3]},
        {"messages": [{"role": "user", "content": 5}]},
        {"messages": [{"role": "user", "content": "x"}] * 3},
        # Unknown keys: msgspec would skip them unchecked (their UTF-8 included).
        {"messages": [{"role": "user", "content": "x", "weight": 0}]},
        {"messages": [{"role": "user", "content": "x"}], "zz": [1, {"a": 2}]},
    ],
)
def test_the_fast_path_leaves_other_rows_to_the_general_path(row: dict) -> None:
    line = json.dumps(row).encode()
    assert openai_jsonl.make_fast_path(ImportLimits(max_messages=2))(1, line) is None


@pytest.mark.parametrize(
    "line",
    [
        b'{"messages": [{"role": "user", "content": "x"}], "other": "\xff"}',
        b'{"messages": [{"role": "user", "content": "x"}], "metadata": {"k": "\xff"}}',
        b'{"messages": [{"role": "user", "content": "caf\xc3"}]}',
    ],
)
def test_the_fast_path_leaves_invalid_utf8_to_the_general_path(line: bytes) -> None:
    assert openai_jsonl.make_fast_path(DEFAULT_LIMITS)(1, line) is None
    records, errors, _ = read(line + b"\n")
    assert records == [] and errors[0].line == 1 and "invalid UTF-8" in errors[0].message


def test_the_fast_path_knows_exactly_the_known_roles() -> None:
    import typing

    role = typing.get_type_hints(openai_jsonl.PlainMessage)["role"]
    assert set(typing.get_args(role)) == ROLES


def test_the_fast_encoder_matches_the_canonical_encoding_on_every_code_point() -> None:
    import msgspec
    import orjson

    text = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert msgspec.json.encode([openai_jsonl.PlainMessage("user", text)]) == orjson.dumps(
        [{"role": "user", "content": text}]
    )


def test_invalid_utf8_on_line_3_rejects_that_line_only() -> None:
    data = jsonl(
        chat("one"),
        chat("two"),
        b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}',
        chat("four"),
    )
    records, errors, _ = read(data)
    assert [r.line for r in records] == [1, 2, 4]
    assert len(errors) == 1
    assert (errors[0].line, errors[0].field) == (3, "")
    assert "invalid UTF-8" in errors[0].message


def test_an_unknown_role_is_named_with_its_message_index() -> None:
    row = {"messages": [{"role": "user", "content": "a"}, {"role": "robot", "content": "b"}]}
    _, errors, _ = read(jsonl(chat("ok"), row))
    assert errors == [RowError(2, "messages[1].role", "unknown role 'robot'")]


def test_missing_or_malformed_messages_are_each_worded() -> None:
    _, errors, _ = read(
        jsonl(
            {"metadata": {}},
            {"messages": None},
            {"messages": []},
            {"messages": "hi"},
            {"messages": [{"content": "no role"}]},
            {"messages": [{"role": "user"}]},
            {"messages": [{"role": "user", "content": 5}]},
            {"messages": ["hi"]},
        ),
        format="openai_jsonl",  # line 1 has no messages key, so detection would refuse
    )
    assert errors == [
        RowError(1, "messages", "missing"),
        RowError(2, "messages", "must be an array, got null"),
        RowError(3, "messages", "must contain at least 1 message"),
        RowError(4, "messages", "must be an array, got string"),
        RowError(5, "messages[0].role", "missing"),
        RowError(6, "messages[0].content", "missing"),
        RowError(
            7, "messages[0].content", "must be a string or an array of text parts, got number"
        ),
        RowError(8, "messages[0]", "must be an object, got string"),
    ]


def test_bad_top_level_fields_are_named() -> None:
    _, errors, _ = read(
        jsonl(
            chat("a", external_id=["x"]),
            chat("a", metadata=[1]),
            chat("a", tags="x"),
            chat("a", tags=["x", 2]),
            chat("a", model=3),
            [1, 2],
            b"{not json",
        )
    )
    assert [(e.line, e.field) for e in errors] == [
        (1, "external_id"),
        (2, "metadata"),
        (3, "tags"),
        (4, "tags[1]"),
        (5, "model"),
        (6, ""),
        (7, ""),
    ]
    assert errors[5].message == "expected a JSON object, got array"
    assert errors[6].message.startswith("invalid JSON")


def test_several_errors_in_one_row_are_one_row_error() -> None:
    row = {"messages": [{"role": "robot", "content": "a"}, {"role": "bot", "content": "b"}]}
    _, errors, _ = read(jsonl(row))
    assert errors == [RowError(1, "messages[0].role", "unknown role 'robot' (+1 more)")]


def test_nesting_deeper_than_max_depth_is_rejected_but_brackets_in_text_are_not() -> None:
    deep: object = "leaf"
    for _ in range(40):
        deep = {"k": deep}
    very_deep = b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    # Brackets inside strings are text, not nesting.
    brackets_in_text = chat("[[[[{{{{" * 50)
    records, errors, _ = read(jsonl(chat("a", metadata=deep), very_deep, brackets_in_text))
    assert [(e.line, e.field) for e in errors] == [(1, ""), (2, "")]
    assert all("max_depth=32" in e.message for e in errors)
    assert [r.line for r in records] == [3]
    # Exactly at the limit is fine (the row object and metadata count as levels too).
    at_limit: object = {}
    for _ in range(30):
        at_limit = {"k": at_limit}
    records, errors, _ = read(jsonl(chat("a", metadata=at_limit)))
    assert errors == [] and len(records) == 1
    records, errors, _ = read(jsonl(chat("a", metadata={"k": at_limit})))
    assert len(errors) == 1


def test_the_depth_scan_ignores_escaped_quotes() -> None:
    assert too_deep(b'{"a": "\\"[[[[[[", "b": []}', 2) is False
    assert too_deep(b"[[[]]]", 2) is True
    assert too_deep(b"[[],[],[]]", 2) is False


def test_a_repeated_external_id_is_rejected_on_its_later_line() -> None:
    data = jsonl(
        chat("a", external_id="x"),
        chat("b", external_id="y"),
        chat("c", external_id="x"),
        chat("d", external_id=5),
        chat("e", external_id="5"),
        chat("f"),
        chat("g"),  # records without an id are never duplicates
    )
    records, errors, stats = read(data)
    assert errors == [
        RowError(3, "external_id", "duplicate external_id 'x' (first on line 1)"),
        RowError(5, "external_id", "duplicate external_id '5' (first on line 4)"),
    ]
    assert [r.line for r in records] == [1, 2, 4, 6, 7]
    assert (stats.records, stats.errors) == (5, 2)


def test_max_messages_rejects_a_row_and_max_rows_the_file() -> None:
    limits = ImportLimits(max_messages=3)
    _, errors, _ = read(jsonl(chat("a", "b", "c"), chat("a", "b", "c", "d")), limits=limits)
    assert errors == [RowError(2, "messages", "4 messages, more than max_messages=3")]
    with pytest.raises(FormatError, match=r"max_rows=5 rows \(line 6\)"):
        read(jsonl(*[chat(str(i)) for i in range(10)]), limits=ImportLimits(max_rows=5))
