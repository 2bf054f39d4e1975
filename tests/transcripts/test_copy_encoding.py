"""COPY encoding of imported transcripts: framework-free like the code, so no database here.

Each line is read back the way PostgreSQL reads ``COPY … FROM STDIN`` text format, so the tests
say what the server would store, not how the bytes look.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from transcripts.formats import Record, RowError, iter_records
from transcripts.formats.limits import MAX_EXTERNAL_ID, MAX_MODEL, MAX_TAG
from transcripts.importing.copy_encoding import COLUMNS, COPY_COLUMNS, RowBuilder

ROOT = Path(__file__).resolve().parents[2]

CREATED = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
_ESCAPE = re.compile(r"\\(.)")
_UNESCAPED = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}


def read_copy_line(line: bytes) -> dict[str, str]:
    """One COPY text-format line as PostgreSQL reads it: column name → text value."""
    assert line.endswith(b"\n") and line.count(b"\n") == 1, "one line per row"
    fields = line[:-1].decode("utf-8").split("\t")
    assert len(fields) == len(COLUMNS), "a value for every column, and no raw tab inside one"
    return {
        name: _ESCAPE.sub(lambda m: _UNESCAPED[m.group(1)], value)
        for name, value in zip(COLUMNS, fields, strict=True)
    }


def read_array(literal: str) -> list[str]:
    """A PostgreSQL text[] literal of quoted elements, as the server parses it."""
    assert literal.startswith("{") and literal.endswith("}")
    return [re.sub(r"\\(.)", r"\1", item) for item in re.findall(r'"((?:[^"\\]|\\.)*)"', literal)]


def records(*rows: dict) -> list[Record]:
    data = b"".join(json.dumps(row).encode() + b"\n" for row in rows)
    return [item for item in iter_records(io.BytesIO(data)) if type(item) is Record]


def builder(**options) -> RowBuilder:
    return RowBuilder(workspace_id=3, import_id=41, created_at=CREATED, **options)


def chat(content: str = "hi", **extra) -> dict:
    return {
        "messages": [
            {"role": "user", "content": content},
            {"role": "assistant", "content": "ok"},
        ],
        **extra,
    }


def test_a_line_carries_every_column_of_an_imported_transcript() -> None:
    (record,) = records(
        chat(external_id="e-1", model="gpt-4o", metadata={"run": 7}, tags=["weather"])
    )
    row = builder(source="nightly evals").build(record)
    assert (row.line, row.content_hash, row.external_id) == (1, record.content_hash, "e-1")
    values = read_copy_line(row.data)
    assert values == {
        "workspace_id": "3",
        "source": "nightly evals",
        "import_run_id": "41",
        "created_at": "2026-12-01T08:30:00+00:00",
        "origin": "import",
        "messages": record.messages_json.decode(),
        "message_count": "2",
        "content_hash": record.content_hash,
        "external_id": "e-1",
        "model": "gpt-4o",
        "metadata": '{"run": 7}',
        "tags": '{"weather"}',
        "pair_key": "",
        "variant": "",
    }
    assert ", ".join(COLUMNS) == COPY_COLUMNS


@pytest.mark.parametrize(
    "text",
    ["tab\there", "new\nline", "carriage\rreturn", "back\\slash", 'quote " and \\" both', "é 日本"],
)
def test_text_with_copy_specials_reads_back_unchanged(text: str) -> None:
    (record,) = records(chat(text, external_id=text, model=text, metadata={"k": text}))
    values = read_copy_line(builder(source=text).build(record).data)
    assert (values["source"], values["external_id"], values["model"]) == (text, text, text)
    assert json.loads(values["messages"])[0]["content"] == text
    assert json.loads(values["metadata"]) == {"k": text}


def test_metadata_with_tabs_between_json_tokens_stays_on_one_column() -> None:
    line = b'{"messages": [{"role": "user", "content": "x"}], "metadata":\t{"k":\t"v\\tw"}}\n'
    (record,) = [item for item in iter_records(io.BytesIO(line)) if type(item) is Record]
    assert record.kind == "scenario"  # no assistant turn; the builder does not care
    values = read_copy_line(builder().build(record).data)
    assert json.loads(values["metadata"]) == {"k": "v\tw"}


def test_tags_with_quotes_commas_and_backslashes_read_back_as_an_array() -> None:
    tags = ['a "quoted" tag', "with, comma", "back\\slash", "{braces}"]
    (record,) = records(chat(tags=tags))
    assert read_array(read_copy_line(builder().build(record).data)["tags"]) == tags


def test_the_import_tags_follow_the_row_tags_without_repeats() -> None:
    with_tags, without = records(chat("a", tags=["x", "y"]), chat("b"))
    make = builder(tags=["y", "batch-7"])
    assert read_array(read_copy_line(make.build(with_tags).data)["tags"]) == ["x", "y", "batch-7"]
    assert read_array(read_copy_line(make.build(without).data)["tags"]) == ["y", "batch-7"]


def test_the_id_prefix_applies_to_external_ids_and_pair_keys() -> None:
    hh = b'{"chosen": "\\n\\nHuman: hi\\n\\nAssistant: a", "rejected": "\\n\\nHuman: hi\\n\\nAssistant: b"}\n'
    chosen, rejected = [item for item in iter_records(io.BytesIO(hh)) if type(item) is Record]
    (plain,) = records(chat(external_id="7"))
    make = builder(id_prefix="set-a:")
    assert read_copy_line(make.build(plain).data)["external_id"] == "set-a:7"
    pair = [read_copy_line(make.build(r).data) for r in (chosen, rejected)]
    assert pair[0]["pair_key"] == pair[1]["pair_key"] == "set-a:" + chosen.pair_key
    assert [p["variant"] for p in pair] == ["chosen", "rejected"]
    # Records without an id stay without one: the prefix is not an id of its own.
    (anonymous,) = records(chat())
    assert read_copy_line(make.build(anonymous).data)["external_id"] == ""


def test_values_over_their_column_limit_are_row_errors_naming_the_field() -> None:
    long_id, long_model, long_tag, fine = records(
        chat("a", external_id="x" * (MAX_EXTERNAL_ID - 3)),
        chat("b", model="m" * (MAX_MODEL + 1)),
        chat("c", tags=["t" * (MAX_TAG + 1)]),
        chat("d", external_id="x" * (MAX_EXTERNAL_ID - 4)),
    )
    make = builder(id_prefix="abcd")  # pushes the first id one character over the limit
    assert make.build(long_id) == RowError(
        1, "external_id", f"longer than {MAX_EXTERNAL_ID} characters"
    )
    assert make.build(long_model) == RowError(2, "model", f"longer than {MAX_MODEL} characters")
    assert make.build(long_tag) == RowError(
        3, "tags", f"each tag must be text of ≤ {MAX_TAG} chars"
    )
    assert len(read_copy_line(make.build(fine).data)["external_id"]) == MAX_EXTERNAL_ID


def test_an_import_tag_over_the_limit_rejects_every_row_it_would_be_added_to() -> None:
    (record,) = records(chat())
    assert builder(tags=["t" * (MAX_TAG + 1)]).build(record) == RowError(
        1, "tags", f"each tag must be text of ≤ {MAX_TAG} chars"
    )


def test_the_readers_and_the_encoding_load_without_django() -> None:
    # A fresh interpreter: this test process has Django loaded already.
    code = (
        "import sys, transcripts.formats, transcripts.importing.copy_encoding; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'rest_framework'}))"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "[]\n", "")
