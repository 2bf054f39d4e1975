"""JSON Lines: one gold row per line, the text exactly as stored.

Lines are split only at ``\\n``; the characters some readers also treat as line breaks
(U+2028, U+2029, U+0085, which orjson leaves raw inside strings) are written as ``\\u``
escapes, so ``str.splitlines()`` and JavaScript readers see the same lines as ``for line in
file``. The decoded values are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import IO, Any

import orjson

# Escaping them inside a JSON string gives back the same string; the byte sequences can only be
# these characters (a UTF-8 lead byte is never a continuation byte), so a replace is exact.
_LINE_BREAKS = (
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
    ("\u0085".encode(), b"\\u0085"),
)


def encode_line(row: dict[str, Any]) -> bytes:
    """One row as a JSON line (UTF-8, ending in ``\\n``)."""
    data = orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE)
    if data.isascii():  # most lines: one fast pass instead of three searches
        return data
    for raw, escaped in _LINE_BREAKS:
        if raw in data:
            data = data.replace(raw, escaped)
    return data


def write_jsonl(
    rows: Iterable[dict[str, Any]],
    out: IO[bytes],
    *,
    on_row: Callable[[int], None] | None = None,
) -> int:
    """Write ``rows`` to ``out`` one line each, pulling them one at a time; return the count.
    ``on_row(count)`` is called after each row (progress)."""
    count = 0
    write = out.write
    for row in rows:
        write(encode_line(row))
        count += 1
        if on_row is not None:
            on_row(count)
    return count
