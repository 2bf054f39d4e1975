"""Naming a file's format from its first bytes. Content decides; file names lie."""

from __future__ import annotations

import csv
import io
from typing import Any

from transcripts.formats import hh, jailbreakbench, mtbench, openai_jsonl, prompt_response_csv
from transcripts.formats.messages import short
from transcripts.formats.prompt_response_csv import PROMPT_COLUMNS, csv_columns
from transcripts.formats.records import FormatError, decode_json
from transcripts.formats.streams import GZIP_MAGIC


def _format_from_keys(obj: dict[str, Any]) -> str | None:
    if "messages" in obj:
        return openai_jsonl.NAME
    if "chosen" in obj and "rejected" in obj:
        return hh.NAME
    if "turns" in obj and "question_id" in obj:
        return mtbench.NAME
    if "jailbreaks" in obj:
        return jailbreakbench.NAME
    return None


def detect_format(head: bytes, filename: str = "") -> str:
    """Name the format of a file from its first bytes (decompressed; up to :data:`HEAD_BYTES`).

    Content decides; ``filename`` only names the file in errors, and a ``.csv``/``.tsv`` name
    (``.gz`` ignored) skips the JSON checks. JSON lines are recognised by the keys of the first line:
    ``messages`` → openai_jsonl, ``chosen`` + ``rejected`` → hh_jsonl, ``question_id`` + ``turns`` →
    mtbench_jsonl, ``jailbreaks`` → jailbreakbench_json; a JSON text whose first line is not a whole
    object (pretty-printed, or a first line longer than the head) is matched by key names in the head.
    Anything else must be a CSV whose header has a prompt column. Raises :class:`FormatError`.
    """
    where = filename or "<stream>"
    if head.startswith(GZIP_MAGIC):
        raise FormatError(
            f"{where}: head is gzip-compressed; decompress it (open_maybe_gzip) first"
        )
    text = head.decode("utf-8", "replace").removeprefix("\ufeff")
    name = filename.lower().removesuffix(".gz")
    stripped = text.lstrip()
    if not stripped:
        raise FormatError(f"{where}: empty file, cannot detect its format")
    if stripped.startswith("{") and not name.endswith((".csv", ".tsv")):
        first_line = stripped.split("\n", 1)[0]
        try:
            obj = decode_json(first_line)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            fmt = _format_from_keys(obj)
            if fmt is not None:
                return fmt
            keys = ", ".join(sorted(map(str, obj))[:10])
            raise FormatError(
                f"{where}: line 1 is a JSON object with keys [{keys}], which match no format "
                "(expected messages; chosen+rejected; question_id+turns; jailbreaks)"
            )
        for key, fmt in (
            ('"jailbreaks"', jailbreakbench.NAME),
            ('"messages"', openai_jsonl.NAME),
            ('"chosen"', hh.NAME),
            ('"question_id"', mtbench.NAME),
        ):
            if key in text:
                return fmt
        raise FormatError(
            f"{where}: JSON with none of the known keys in its first {len(head)} bytes"
        )
    try:
        header = next(csv.reader(io.StringIO(stripped)), [])
    except csv.Error as exc:
        raise FormatError(f"{where}: not a known format (CSV header unreadable: {exc})") from exc
    if csv_columns(header)[0] is not None:
        return prompt_response_csv.NAME
    raise FormatError(
        f"{where}: unknown format: not JSON lines (messages / chosen+rejected / question_id+turns), "
        f"not a JailbreakBench document, not a CSV with a prompt column "
        f"({'/'.join(PROMPT_COLUMNS)}); first line: {short(header, 120)}"
    )
