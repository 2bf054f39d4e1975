"""The JSON lines loop shared by ``openai_jsonl``, ``hh_jsonl`` and ``mtbench_jsonl``, and the JSON
safety checks (nesting depth, escapes PostgreSQL refuses) that the JSON document reader reuses."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import orjson

from transcripts.formats.limits import ImportLimits
from transcripts.formats.messages import find_bad_string, type_name
from transcripts.formats.records import (
    FormatError,
    ImportStats,
    Record,
    RowError,
    decode_json,
)
from transcripts.formats.streams import BOM, Overlong

# A JSON string literal (unrolled loop: linear, no nested quantifier backtracking).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
# Escapes that decode to something PostgreSQL rejects (NUL) or may reject (surrogates, which are
# fine only as a valid pair). Raw NUL/control bytes are already rejected by strict json parsing.
SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89abcdefABCDEF])")


def too_deep(data: bytes, max_depth: int) -> bool:
    """True if the JSON text nests arrays/objects deeper than ``max_depth``.

    Brackets inside string literals do not count. Scans bytes, never recurses, so it is safe to run
    before json parsing on hostile input.
    """
    # Cheap bound first: nesting can't exceed the number of opening brackets anywhere in the text.
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return False
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    if brackets.count(b"[") + brackets.count(b"{") <= max_depth:
        return False
    depth = 0
    for c in brackets:
        if c == 0x5B or c == 0x7B:  # [ {
            depth += 1
            if depth > max_depth:
                return True
        else:
            depth -= 1
    return False


def _check_record_strings(rec: Record) -> RowError | None:
    """Full string check of the non-message fields (only run when the raw line looked suspect)."""
    for name, value in (
        ("external_id", rec.external_id),
        ("model", rec.model),
        ("tags", rec.tags),
        ("metadata", rec.metadata),
    ):
        found = find_bad_string(value, name)
        if found is not None:
            return RowError(rec.line, found[0], found[1])
    return None


def _line_error(exc: UnicodeDecodeError) -> str:
    return f"invalid UTF-8 at byte {exc.start + 1} of the line ({exc.reason})"


def iter_jsonl(
    lines: Iterator[bytes | Overlong],
    convert: Any,
    limits: ImportLimits,
    stats: ImportStats,
    where: str,
    fast: Any = None,
) -> Iterator[Record | RowError]:
    """Shared JSONL loop: limits, UTF-8, depth, parse; ``convert(n, obj, line)`` builds records.

    ``convert`` returns a Record, a RowError, or a list of them. ``fast(n, line)``, if given, is
    tried first on lines without suspect escapes: it returns a Record for the common shape of row,
    or None to leave the line to the general path (which also words every error). It must return
    None for a line nested deeper than ``limits.max_depth``: the depth check runs after it.
    """
    cap = limits.max_line_bytes
    max_depth = limits.max_depth
    max_rows = limits.max_rows
    rows = 0
    n = 0
    for line in lines:
        n += 1
        if type(line) is Overlong:
            rows += 1
            yield RowError(n, "", f"line longer than max_line_bytes={cap}")
            continue
        if not line or line.isspace():
            continue  # blank lines are allowed anywhere
        rows += 1
        if rows > max_rows:
            raise FormatError(f"{where}: more than max_rows={max_rows} rows (line {n})")
        if n == 1 and line.startswith(BOM):
            line = line[3:]
        # A one-byte search runs at memchr speed; most lines hold no backslash at all.
        suspect = b"\\" in line and SUSPECT_ESCAPE.search(line) is not None
        if fast is not None and not suspect:
            # The fast path bounds its own depth (its shape is fixed; it checks what is free-form)
            # and returns None for a deeper row, so the common row skips the two scans below.
            record = fast(n, line)
            if record is not None:
                yield record
                continue
        # Inline cheap bound (no call for ordinary rows): depth <= number of opening brackets.
        if line.count(b"[") + line.count(b"{") > max_depth and too_deep(line, max_depth):
            yield RowError(n, "", f"JSON nested deeper than max_depth={max_depth}")
            continue
        try:
            # orjson validates UTF-8 and parses bytes directly. On any failure the
            # stdlib path below runs instead, for its precise messages (and its lenience about
            # lone surrogates, which the hashing step then reports with a field path).
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield RowError(n, "", _line_error(exc))
                continue
            try:
                obj = decode_json(text)
            except ValueError as exc:  # JSONDecodeError
                msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                col = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
                yield RowError(n, "", f"invalid JSON: {msg}{col}")
                continue
            except RecursionError:  # belt and braces; too_deep should have caught it
                yield RowError(n, "", f"JSON nested deeper than max_depth={max_depth}")
                continue
        if type(obj) is not dict:
            yield RowError(n, "", f"expected a JSON object, got {type_name(obj)}")
            continue
        result = convert(n, obj, line)
        if type(result) is list:
            if suspect:
                result = [recheck(r) for r in result]
                bad = [r for r in result if type(r) is RowError]
                if bad:
                    result = [bad[0]]
            yield from result
        else:
            yield recheck(result) if suspect else result
    stats.rows = rows


def recheck(item: Record | RowError) -> Record | RowError:
    if type(item) is Record:
        err = _check_record_strings(item)
        if err is not None:
            return err
    return item


def optional_str(value: object, fieldname: str, line: int) -> str | RowError:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return RowError(line, fieldname, f"must be a string, got {type_name(value)}")
