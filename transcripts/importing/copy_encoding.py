"""Records as lines of PostgreSQL's ``COPY … FROM STDIN`` text format, ready for the transcript table.

Framework-free (no Django, no database): :class:`RowBuilder` turns each
:class:`~transcripts.formats.Record` into one line, or into a :class:`~transcripts.formats.RowError`
when a value is over its column's limit, so a bad row is reported rather than failing the COPY.

Contracts
---------
* A line holds the :data:`COLUMNS` in order, tab-separated, ending in ``\\n``. Text values escape
  backslash, newline, carriage return and tab (``\\\\``, ``\\n``, ``\\r``, ``\\t``); nothing is
  ever NULL (empty text instead).
* ``messages`` is the record's canonical JSON (the bytes that were hashed), so the stored
  conversation is exactly what was de-duplicated; ``metadata`` is the file's JSON text as it was
  when a reader kept it raw, else compact JSON. JSON escapes every control character inside
  strings, so only its backslashes need doubling (plus tabs and CRs a file may hold between tokens).
* Every line is an imported transcript (``origin = 'import'``): imports are the transcripts that
  de-duplicate by content.
* The per-import values (workspace, source, import, time) are formatted once per builder; tag
  lists and model names, which files repeat, once per distinct value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from transcripts.formats import Record, RowError
from transcripts.formats.limits import (
    MAX_EXTERNAL_ID,
    MAX_MODEL,
    MAX_PAIR_KEY,
    MAX_TAG,
    MAX_VARIANT,
)

#: The transcript table's columns that a COPY line fills, in line order.
COLUMNS: tuple[str, ...] = (
    "workspace_id",
    "source",
    "import_run_id",
    "created_at",
    "origin",
    "messages",
    "message_count",
    "content_hash",
    "external_id",
    "model",
    "metadata",
    "tags",
    "pair_key",
    "variant",
)
#: The column list of the ``COPY`` statement.
COPY_COLUMNS = ", ".join(COLUMNS)
#: What ``origin`` holds for every line (``transcripts.models.TranscriptOrigin.IMPORT``).
IMPORT_ORIGIN = "import"

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})
# Distinct tag lists and model names remembered per builder; a file of all-distinct values stops
# filling the memo here and formats the rest each time.
_MEMO_LIMIT = 10_000


def copy_text(value: str) -> str:
    """``value`` escaped for a COPY text column."""
    # translate() is slow per call; most values (ids, model names) need no escaping at all.
    if "\\" in value or "\n" in value or "\r" in value or "\t" in value:
        return value.translate(_COPY_ESCAPES)
    return value


def dump_json(value: Any) -> bytes:
    """Compact JSON bytes for a jsonb column, escaped for COPY text format."""
    try:
        data = orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        # Integers beyond 64 bits and the like: the stdlib encoder handles them.
        data = json.dumps(value, ensure_ascii=False, default=str).encode()
    return data.replace(b"\\", b"\\\\")


def copy_json(data: bytes) -> bytes:
    """JSON text as read from a file, escaped for COPY text format.

    Unlike our own encoder's output it may hold tabs or carriage returns between tokens (a line
    holds no newline).
    """
    data = data.replace(b"\\", b"\\\\")
    if b"\t" in data or b"\r" in data:
        data = data.replace(b"\t", b"\\t").replace(b"\r", b"\\r")
    return data


def tags_text(tags: tuple[str, ...]) -> bytes | None:
    """A tag list as a COPY-escaped PostgreSQL array literal; None if a tag is not text of at most
    :data:`~transcripts.formats.limits.MAX_TAG` characters."""
    if any(type(t) is not str or len(t) > MAX_TAG for t in tags):
        return None
    quoted = ",".join('"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"' for t in tags)
    return copy_text("{" + quoted + "}").encode()


def model_text(model: str) -> bytes | None:
    """A model name, COPY-escaped; None if it is over its column's limit."""
    return None if len(model) > MAX_MODEL else copy_text(model).encode()


@dataclass(slots=True)
class Row:
    """One transcript ready for COPY: the checks need its hash, id and line; COPY needs ``data``."""

    line: int
    content_hash: str
    external_id: str
    data: bytes


class RowBuilder:
    """Turns one import's records into COPY lines.

    ``id_prefix`` is prepended to every external id and pair key (so two sets can share ids);
    ``tags`` are added to every record's own tags, after them, without repeats.
    """

    def __init__(
        self,
        *,
        workspace_id: int,
        import_id: int,
        created_at: datetime,
        source: str = "",
        id_prefix: str = "",
        tags: Iterable[str] = (),
    ) -> None:
        self.prefix = id_prefix
        self.import_tags = list(tags)
        # Columns every row shares, formatted once.
        self.constant = (
            f"{workspace_id}\t{copy_text(source)}\t{import_id}\t{created_at.isoformat()}\t"
            f"{IMPORT_ORIGIN}\t"
        ).encode()
        # Per builder, so per import: plain dicts on the hot path, gone when the import ends.
        self._tags_memo: dict[Any, bytes | None] = {}
        self._model_memo: dict[Any, bytes | None] = {}

    def build(self, record: Record) -> Row | RowError:
        """The COPY line of ``record``, or the RowError naming the value over its limit."""
        external_id = record.external_id
        if external_id and self.prefix:
            external_id = self.prefix + external_id
        if len(external_id) > MAX_EXTERNAL_ID:
            return RowError(record.line, "external_id", f"longer than {MAX_EXTERNAL_ID} characters")
        model = _memo(self._model_memo, record.model, model_text)
        if model is None:
            return RowError(record.line, "model", f"longer than {MAX_MODEL} characters")
        tags = record.tags
        if self.import_tags:
            tags = (
                [*tags, *(t for t in self.import_tags if t not in tags)]
                if tags
                else self.import_tags
            )
        tags_line = _memo(self._tags_memo, tuple(tags), tags_text)
        if tags_line is None:
            return RowError(record.line, "tags", f"each tag must be text of ≤ {MAX_TAG} chars")
        pair_key = record.pair_key
        if pair_key:
            if self.prefix:
                pair_key = self.prefix + pair_key
            pair_text = copy_text(pair_key[:MAX_PAIR_KEY]).encode()
        else:
            pair_text = b""
        variant = record.variant
        metadata = record.metadata_json
        data = b"%b%b\t%d\t%b\t%b\t%b\t%b\t%b\t%b\t%b\n" % (
            self.constant,
            # The canonical JSON that was hashed: compact, so it holds no raw tab or newline.
            record.messages_json.replace(b"\\", b"\\\\"),
            record.message_count,
            record.content_hash.encode(),
            copy_text(external_id).encode() if external_id else b"",
            model,
            copy_json(metadata) if metadata is not None else dump_json(record.metadata),
            tags_line,
            pair_text,
            copy_text(variant[:MAX_VARIANT]).encode() if variant else b"",
        )
        return Row(record.line, record.content_hash, external_id, data)


def _memo(
    memo: dict[Any, bytes | None], key: Any, make: Callable[[Any], bytes | None]
) -> bytes | None:
    """``make(key)``, computed once per distinct key while the memo has room."""
    try:
        return memo[key]
    except KeyError:
        value = make(key)
        if len(memo) < _MEMO_LIMIT:
            memo[key] = value
        return value
