"""``jailbreakbench_json``: one JailbreakBench artifact, ``{"parameters": {...}, "jailbreaks": [...]}``.

One JSON document, so it is read whole (capped by ``max_document_bytes``). Each item becomes a
record at the line of its opening brace; items whose prompt is null are skipped (the attack
submitted nothing), with the reason counted in :class:`ImportStats`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from transcripts.formats.jsonl import SUSPECT_ESCAPE, recheck, too_deep
from transcripts.formats.limits import ImportLimits
from transcripts.formats.messages import make_record, type_name
from transcripts.formats.records import FormatError, ImportStats, Record, RowError
from transcripts.formats.streams import BOM, Source

NAME = "jailbreakbench_json"
LABEL = "JailbreakBench JSON"

_JSON_WS = re.compile(r"[ \t\n\r]*")


def parse_document(text: str, where: str) -> tuple[dict[str, Any], list[tuple[int, object]] | None]:
    """Parse ``{"parameters": ..., "jailbreaks": [...]}`` keeping each item's start offset.

    A tiny top-level walker around ``raw_decode`` so records can carry the line of their item.
    """
    decoder = json.JSONDecoder()

    def ws(i: int) -> int:
        return _JSON_WS.match(text, i).end()  # type: ignore[union-attr]

    def fail(i: int, what: str) -> FormatError:
        line = text.count("\n", 0, i) + 1
        col = i - (text.rfind("\n", 0, i) + 1) + 1
        return FormatError(f"{where}: invalid JSON document at line {line} column {col}: {what}")

    def value(i: int) -> tuple[object, int]:
        try:
            return decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise fail(exc.pos, exc.msg) from exc

    top: dict[str, Any] = {}
    items: list[tuple[int, object]] | None = None
    i = ws(0)
    if text[i : i + 1] != "{":
        raise fail(i, "expected '{'")
    i = ws(i + 1)
    if text[i : i + 1] == "}":
        i += 1
    else:
        while True:
            key, i = value(i)
            if not isinstance(key, str):
                raise fail(i, "expected a string key")
            i = ws(i)
            if text[i : i + 1] != ":":
                raise fail(i, "expected ':'")
            i = ws(i + 1)
            if key == "jailbreaks" and text[i : i + 1] == "[":
                items = []
                i = ws(i + 1)
                if text[i : i + 1] == "]":
                    i += 1
                else:
                    while True:
                        start = i
                        item, i = value(i)
                        items.append((start, item))
                        i = ws(i)
                        if text[i : i + 1] == ",":
                            i = ws(i + 1)
                            continue
                        if text[i : i + 1] == "]":
                            i += 1
                            break
                        raise fail(i, "expected ',' or ']'")
            else:
                top[key], i = value(i)
            i = ws(i)
            if text[i : i + 1] == ",":
                i = ws(i + 1)
                continue
            if text[i : i + 1] == "}":
                i += 1
                break
            raise fail(i, "expected ',' or '}'")
    i = ws(i)
    if i != len(text):
        raise fail(i, "extra data after the document")
    if items is None and "jailbreaks" in top:
        raise FormatError(f"{where}: 'jailbreaks' must be an array")
    return top, items


_JBB_METADATA = ("goal", "behavior", "category", "jailbroken", "jailbroken_llama_guard1", "index")


def read(
    source: Source, head: bytes, limits: ImportLimits, stats: ImportStats, where: str
) -> Iterator[Record | RowError]:
    # One JSON document: it has to be read whole, so it gets its own (smaller) cap.
    cap = limits.max_document_bytes
    parts = [head]
    size = len(head)
    while size <= cap:
        data = source.read_chunk()
        if not data:
            break
        parts.append(data)
        size += len(data)
    if size > cap:
        raise FormatError(f"{where}: JSON document larger than max_document_bytes={cap}")
    data = b"".join(parts)
    del parts
    if data.startswith(BOM):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FormatError(f"{where}: invalid UTF-8 at line {line}: {exc.reason}") from exc
    if too_deep(data, limits.max_depth + 2):  # +2: the document and its "jailbreaks" array
        raise FormatError(f"{where}: JSON nested deeper than max_depth={limits.max_depth}")
    suspect = SUSPECT_ESCAPE.search(data) is not None
    del data
    top, items = parse_document(text, where)
    if items is None:
        raise FormatError(f"{where}: no 'jailbreaks' array")
    params = top.get("parameters")
    if not isinstance(params, dict):
        params = {}
    model = params.get("model") if isinstance(params.get("model"), str) else ""
    method = params.get("method") if isinstance(params.get("method"), str) else ""
    if len(items) > limits.max_rows:
        raise FormatError(f"{where}: more than max_rows={limits.max_rows} items")
    stats.rows = len(items)
    line, pos = 1, 0
    for start, item in items:
        line += text.count("\n", pos, start)
        pos = start
        if not isinstance(item, dict):
            yield RowError(line, "", f"item must be an object, got {type_name(item)}")
            continue
        prompt = item.get("prompt")
        response = item.get("response")
        if prompt is None:
            # The attack submitted nothing for this behaviour: not an error, nothing to import.
            stats.skip("prompt is null")
            continue
        if not isinstance(prompt, str):
            yield RowError(line, "prompt", f"must be a string, got {type_name(prompt)}")
            continue
        if response is not None and not isinstance(response, str):
            yield RowError(line, "response", f"must be a string, got {type_name(response)}")
            continue
        messages = [{"role": "user", "content": prompt}]
        if response is not None:
            messages.append({"role": "assistant", "content": response})
        index = item.get("index")
        # Namespaced: the same index recurs in every model's file of the benchmark.
        external_id = (
            "-".join(p for p in ("jbb", method, model, str(index)) if p)
            if index is not None
            else ""
        )
        rec = make_record(
            line,
            messages,
            limits,
            external_id=external_id,
            metadata={k: item[k] for k in _JBB_METADATA if k in item},
            model=model,
        )
        yield recheck(rec) if suspect else rec
