"""Messages: normalisation, every field error by its path, and the content hash.

Framework-free like the code under test: no database, no Django.
"""

from __future__ import annotations

from tests.transcripts.formats.helpers import (
    chat,
    jsonl,
    read,
)
from transcripts.formats import (
    RowError,
    content_hash,
    normalise_messages,
)


def test_the_content_hash_ignores_metadata_and_ids() -> None:
    a = chat("hello", "hi there", external_id="a", metadata={"x": 1}, tags=["t"], model="m1")
    b = chat("hello", "hi there", external_id="b", metadata={"y": 2})
    c = chat("hello", "hi there!")
    records, errors, _ = read(jsonl(a, b, c))
    assert errors == []
    assert records[0].content_hash == records[1].content_hash
    assert records[0].content_hash != records[2].content_hash
    assert records[0].content_hash == content_hash(records[0].messages)
    assert len(records[0].content_hash) == 64


def test_the_same_conversation_from_two_formats_has_one_hash() -> None:
    records_json, _, _ = read(jsonl(chat("How can I kill a Python process?", "Use kill.")))
    csv_bytes = b'id,prompt,completion,label\nq1,How can I kill a Python process?,"Use kill.",x\n'
    records_csv, _, _ = read(csv_bytes)
    assert records_json[0].content_hash == records_csv[0].content_hash


def test_the_content_hash_covers_each_hashed_field_in_a_pinned_encoding() -> None:
    base = [{"role": "user", "content": "hi"}]
    # Key order, unknown keys and None-valued optional keys do not matter ...
    assert content_hash([{"content": "hi", "role": "user", "weight": 1, "name": None}]) == (
        content_hash(base)
    )
    # ... but every hashed field does.
    assert content_hash([{"role": "system", "content": "hi"}]) != content_hash(base)
    assert content_hash([{"role": "user", "content": "hi", "name": "n"}]) != content_hash(base)
    assert content_hash(base * 2) != content_hash(base)
    # Pinned encoding: compact JSON, no ASCII escaping.
    import hashlib

    expected = hashlib.sha256('[{"role":"user","content":"hé"}]'.encode()).hexdigest()
    assert content_hash([{"role": "user", "content": "hé"}]) == expected


def test_content_parts_tool_calls_and_names_are_normalised() -> None:
    row = {
        "messages": [
            {
                "role": "developer",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            },
            {"role": "user", "content": "weather?", "name": "alice", "weight": 0},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "function": {"arguments": '{"city":"Paris"}', "name": "get_weather"},
                        "id": "c1",
                        "type": "function",
                    }
                ],
            },
            {"role": "tool", "content": "sunny", "tool_call_id": "c1"},
            {"role": "assistant", "content": "It is sunny.", "tool_calls": []},
        ]
    }
    records, errors, _ = read(jsonl(row))
    assert errors == []
    assert records[0].messages == [
        {"role": "developer", "content": "a\nb"},
        {"role": "user", "content": "weather?", "name": "alice"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "content": "sunny", "tool_call_id": "c1"},
        {"role": "assistant", "content": "It is sunny."},
    ]
    # Canonical key order (role, content, name, tool_calls, tool_call_id) in every message.
    assert [list(m) for m in records[0].messages][2] == ["role", "content", "tool_calls"]


def test_each_bad_message_field_is_named_by_its_path() -> None:
    def first_error(message: dict) -> RowError:
        _, errors = normalise_messages([message])
        return errors[0]

    assert first_error(
        {"role": "user", "content": [{"type": "image_url", "image_url": {}}]}
    ) == RowError(0, "messages[0].content[0].type", "unsupported content part type 'image_url'")
    assert first_error({"role": "user", "content": []}).field == "messages[0].content"
    assert first_error({"role": "user", "content": "x", "tool_call_id": "c"}) == RowError(
        0, "messages[0].tool_call_id", "only tool messages carry one"
    )
    assert (
        first_error({"role": "user", "content": "x", "tool_calls": []}).field
        == "messages[0].tool_calls"
    )
    assert first_error(
        {"role": "assistant", "content": "x", "tool_calls": [{"id": "c"}]}
    ).field == ("messages[0].tool_calls[0].function")
    bad_args = {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": {}}}],
    }
    assert first_error(bad_args).field == "messages[0].tool_calls[0].function.arguments"
    assert first_error({"role": "user", "content": "x", "name": 3}).field == "messages[0].name"
    assert first_error({"role": "tool", "content": "x", "tool_call_id": ""}).field == (
        "messages[0].tool_call_id"
    )
    assert first_error({"role": ["user"], "content": "x"}) == RowError(
        0, "messages[0].role", "unknown role ['user']"
    )
    assert first_error({"role": "user", "content": "\ud800"}).message.startswith("invalid Unicode")


def test_normalise_messages_drops_unknown_keys_and_reports_every_error() -> None:
    messages, errors = normalise_messages(
        [{"content": "hi", "role": "user", "extra": 1}, {"role": "assistant", "content": "yo"}]
    )
    assert errors == []
    assert messages == [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    assert list(messages[0]) == ["role", "content"]
    messages, errors = normalise_messages(
        [{"role": "x", "content": "a"}, {"role": "user", "content": 1}]
    )
    assert messages == []
    assert [(e.line, e.field) for e in errors] == [
        (0, "messages[0].role"),
        (0, "messages[1].content"),
    ]
    _, errors = normalise_messages([{"role": "user", "content": "a"}] * 3, max_messages=2)
    assert errors == [RowError(0, "messages", "3 messages, more than max_messages=2")]


def test_nul_characters_and_lone_surrogates_are_rejected_with_their_path() -> None:
    data = jsonl(
        chat("a\u0000b"),
        chat("ok", metadata={"note": "x\u0000"}),
        b'{"messages": [{"role": "user", "content": "bad \\ud800 half"}]}',
        b'{"messages": [{"role": "user", "content": "ok"}], "tags": ["\\udfff"]}',
        b'{"messages": [{"role": "user", "content": "pair \\ud83d\\ude00"}]}',
        b'{"messages": [{"role": "user", "content": "escaped backslash \\\\u0000"}]}',
    )
    records, errors, _ = read(data)
    assert [(e.line, e.field) for e in errors] == [
        (1, "messages[0].content"),
        (2, "metadata.note"),
        (3, "messages[0].content"),
        (4, "tags[0]"),
    ]
    assert "NUL" in errors[0].message and "NUL" in errors[1].message
    assert "surrogate" in errors[2].message and "surrogate" in errors[3].message
    assert [r.messages[0]["content"] for r in records] == [
        "pair \U0001f600",
        "escaped backslash \\u0000",
    ]
