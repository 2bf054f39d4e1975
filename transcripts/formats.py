"""Streaming readers that turn transcript files into normalised records.

Framework-free on purpose (stdlib only, no Django imports): the bulk importer drives it, the API reuses
:func:`normalise_messages` and :func:`content_hash`, and the benchmark reuses
:func:`generate_openai_jsonl`.

Contracts
---------
* :func:`iter_records` reads a binary stream (optionally gzip, detected by magic bytes) in bounded memory
  and yields :class:`Record` or :class:`RowError` in file order. A bad row never stops the stream; it
  becomes exactly one ``RowError`` (its first problem; ``"(+N more)"`` counts the rest) and no record.
* :class:`FormatError` means the file as a whole is unusable: unknown format, CSV without a prompt
  column, corrupt gzip, or a file-level limit (``max_bytes``, ``max_rows``, ``max_document_bytes``).
  It is raised either by the call or *during* iteration (a limit can only be seen once reached), so an
  importer must treat the whole file as failed and roll back whatever it wrote for it.
* Memory: JSONL and CSV hold at most one line (``max_line_bytes``) plus one read chunk, plus the set
  of external ids seen (for the duplicate check). ``jailbreakbench_json`` is one JSON document and is
  parsed whole, capped by ``max_document_bytes``.
* Every string that reaches a record is valid Unicode without NUL (PostgreSQL rejects both in text
  and jsonb), so the importer can write records without re-validating them.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import os
import random
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Literal

import msgspec
import orjson

__all__ = [
    "FORMATS",
    "ROLES",
    "FormatError",
    "ImportLimits",
    "ImportStats",
    "Record",
    "RowError",
    "content_hash",
    "detect_format",
    "generate_openai_jsonl",
    "iter_records",
    "normalise_messages",
    "open_maybe_gzip",
]

FORMATS: tuple[str, ...] = (
    "openai_jsonl",
    "hh_jsonl",
    "prompt_response_csv",
    "jailbreakbench_json",
    "mtbench_jsonl",
)
ROLES: frozenset[str] = frozenset({"system", "developer", "user", "assistant", "tool"})

#: How much of the (decompressed) stream :func:`detect_format` looks at.
HEAD_BYTES = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"
# Large reads let bytes.split do the line splitting in C; 1 MiB keeps the per-chunk memory small.
_CHUNK = 1024 * 1024
_BOM = codecs.BOM_UTF8

# CSV header names, matched case-insensitively after stripping; earlier names win.
PROMPT_COLUMNS = ("prompt", "prompts_final", "question", "input")
RESPONSE_COLUMNS = ("response", "completion", "output", "answer")
ID_COLUMNS = ("id", "external_id")

# Parts of a message that define the conversation (and so its hash); ids and metadata are excluded.
_HASH_KEYS = ("role", "content", "name", "tool_calls", "tool_call_id")


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """Caps that keep one import bounded in memory and time.

    ``max_bytes`` counts decompressed bytes (so gzip bombs stop early); ``max_line_bytes`` caps one
    physical line, and for CSV also one (multi-line) row; ``max_depth`` caps JSON nesting (the row
    object is level 1); ``max_messages`` caps one record; ``max_rows`` caps data rows per file. ``max_document_bytes`` (an addition to the brief)
    caps whole-document formats (``jailbreakbench_json``), which cannot be streamed line by line.
    """

    max_bytes: int = 2 * 1024**3
    max_line_bytes: int = 8 * 1024**2
    max_depth: int = 32
    max_messages: int = 2000
    max_rows: int = 5_000_000
    max_document_bytes: int = 64 * 1024**2


_DEFAULT_LIMITS = ImportLimits()


class FormatError(ValueError):
    """The file as a whole cannot be imported; the message names what and where."""


class Record:
    """One normalised conversation, ready to insert.

    ``line`` is 1-based: the physical line for JSONL, the line where the row starts for CSV, the line
    where the item's ``{`` is for ``jailbreakbench_json``. ``external_id`` is ``""`` when the source
    has none. ``kind`` is ``"transcript"`` when there is at least one assistant message, else
    ``"scenario"`` (prompt only). ``pair_key``/``variant`` are set only for preference pairs
    (``hh_jsonl``: ``"chosen"``/``"rejected"``), else ``""``. ``content_hash`` is
    :func:`content_hash` of ``messages``.

    ``messages_json`` is the canonical JSON that was hashed (compact, UTF-8) and ``metadata_json``
    the metadata as JSON text: the importer writes both as they are. ``messages`` and ``metadata``
    are decoded from them on first use when a reader did not build the Python objects itself (the
    fast path of ``openai_jsonl`` does not, which is most of its speed).
    """

    __slots__ = (
        "line",
        "external_id",
        "tags",
        "model",
        "kind",
        "pair_key",
        "variant",
        "content_hash",
        "message_count",
        "messages_json",
        "metadata_json",
        "_messages",
        "_metadata",
    )

    def __init__(
        self,
        line: int,
        *,
        messages_json: bytes,
        content_hash: str,
        message_count: int,
        kind: str,
        messages: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
        metadata_json: bytes | None = None,
        external_id: str = "",
        tags: list[str] | None = None,
        model: str = "",
        pair_key: str = "",
        variant: str = "",
    ) -> None:
        self.line = line
        self.messages_json = messages_json
        self.content_hash = content_hash
        self.message_count = message_count
        self.kind = kind
        self._messages = messages
        self._metadata = metadata
        self.metadata_json = metadata_json
        self.external_id = external_id
        self.tags = [] if tags is None else tags
        self.model = model
        self.pair_key = pair_key
        self.variant = variant

    @property
    def messages(self) -> list[dict[str, Any]]:
        if self._messages is None:
            self._messages = orjson.loads(self.messages_json)
        return self._messages

    @property
    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            self._metadata = (
                _decode(self.metadata_json.decode("utf-8")) if self.metadata_json else {}
            )
        return self._metadata

    def __eq__(self, other: object) -> bool:
        if type(other) is not Record:
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment] - mutable, like the dataclass it replaced

    def _key(self) -> tuple[Any, ...]:
        return (
            self.line,
            self.content_hash,
            self.messages,
            self.external_id,
            self.metadata,
            self.tags,
            self.model,
            self.kind,
            self.pair_key,
            self.variant,
        )

    def __repr__(self) -> str:
        return (
            f"Record(line={self.line}, kind={self.kind!r}, external_id={self.external_id!r}, "
            f"messages={self.message_count}, content_hash={self.content_hash[:12]!r}…)"
        )


@dataclass(slots=True)
class RowError:
    """A rejected row: ``field`` is a path such as ``"messages[2].role"``, ``""`` for the whole line.

    :func:`normalise_messages` returns these with ``line=0`` (it does not know the line).
    """

    line: int
    field: str
    message: str


@dataclass(slots=True)
class ImportStats:
    """Counters filled in by :func:`iter_records` when passed as ``stats=`` (an addition to the brief).

    ``rows`` counts non-blank data rows/items read, ``skipped`` rows that are neither records nor
    errors (``jailbreakbench_json`` items whose prompt is null), with reasons in ``skip_reasons``.
    ``format`` and ``bytes_read`` are live; the other counters are final once iteration ends.
    """

    format: str = ""
    rows: int = 0
    records: int = 0
    errors: int = 0
    skipped: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)
    bytes_read: int = 0

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.skip_reasons[reason] = self.skip_reasons.get(reason, 0) + 1


# --------------------------------------------------------------------------------------------------
# Messages: validation, normalisation, hashing
# --------------------------------------------------------------------------------------------------


def _make_compact_encoder() -> Any:
    """Return ``f(obj) -> str`` equal to ``json.dumps(obj, separators=(",", ":"), ensure_ascii=False)``.

    Hashing is the largest per-row cost after parsing. ``json.dumps`` with non-default arguments
    builds a new encoder per call, and even a reused ``JSONEncoder.encode`` builds the C encoder per
    call; building the C encoder once saves about a microsecond per record. Falls back to the plain
    encoder if the C accelerator is missing or behaves differently (checked on a probe).
    """
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if c_make_encoder is None:
        return encoder.encode
    try:
        c_encode = c_make_encoder(
            None,
            encoder.default,
            json.encoder.encode_basestring,
            None,
            ":",
            ",",
            False,
            False,
            True,
        )
        probe = [{"role": "user", "content": 'a "b"\n\\ é 日 \x01', "n": [1, None, True]}]

        def encode(obj: object) -> str:
            return "".join(c_encode(obj, 0))

        if encode(probe) == encoder.encode(probe):
            return encode
    except Exception:  # noqa: BLE001, S110 - any surprise from a private API: use the public one
        pass
    return encoder.encode


_encode_compact = _make_compact_encoder()
_decode = json.JSONDecoder().decode


def _type_name(value: object) -> str:
    """JSON-ish type name for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bad_string(value: str) -> str | None:
    """Why ``value`` cannot be stored in PostgreSQL text/jsonb, or None if it can."""
    if "\x00" in value:
        return "NUL character not allowed"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"invalid Unicode (lone surrogate {value[exc.start]!r})"
    return None


def _normalise_tool_calls(
    raw: object, path: str, errors: list[RowError]
) -> list[dict[str, Any]] | None:
    if not isinstance(raw, list):
        errors.append(RowError(0, path, f"must be an array, got {_type_name(raw)}"))
        return None
    out = []
    for j, call in enumerate(raw):
        cpath = f"{path}[{j}]"
        if not isinstance(call, dict):
            errors.append(RowError(0, cpath, f"must be an object, got {_type_name(call)}"))
            return None
        call_id = call.get("id")
        ctype = call.get("type", "function")
        func = call.get("function")
        if not isinstance(call_id, str) or not call_id:
            errors.append(RowError(0, f"{cpath}.id", "must be a non-empty string"))
            return None
        if ctype != "function":
            errors.append(
                RowError(0, f"{cpath}.type", f"unsupported tool call type {_short(ctype)}")
            )
            return None
        if not isinstance(func, dict):
            errors.append(
                RowError(0, f"{cpath}.function", f"must be an object, got {_type_name(func)}")
            )
            return None
        fname = func.get("name")
        args = func.get("arguments")
        if not isinstance(fname, str) or not fname:
            errors.append(RowError(0, f"{cpath}.function.name", "must be a non-empty string"))
            return None
        if not isinstance(args, str):
            errors.append(
                RowError(
                    0,
                    f"{cpath}.function.arguments",
                    f"must be a string (JSON text), got {_type_name(args)}",
                )
            )
            return None
        for sub, text in (("id", call_id), ("function.name", fname), ("function.arguments", args)):
            if "\x00" in text:
                errors.append(RowError(0, f"{cpath}.{sub}", "NUL character not allowed"))
                return None
        # Canonical key order, so the hash does not depend on how the source ordered keys.
        out.append(
            {"id": call_id, "type": "function", "function": {"name": fname, "arguments": args}}
        )
    return out


def _content_from_parts(raw: object, path: str, errors: list[RowError]) -> str | None:
    """Join OpenAI content parts ``[{"type": "text", "text": ...}, ...]`` with newlines."""
    if not isinstance(raw, list):
        errors.append(
            RowError(0, path, f"must be a string or an array of text parts, got {_type_name(raw)}")
        )
        return None
    if not raw:
        errors.append(RowError(0, path, "empty array of content parts"))
        return None
    texts = []
    for k, part in enumerate(raw):
        ppath = f"{path}[{k}]"
        if not isinstance(part, dict):
            errors.append(RowError(0, ppath, f"must be an object, got {_type_name(part)}"))
            return None
        ptype = part.get("type")
        if ptype != "text":
            errors.append(
                RowError(0, f"{ppath}.type", f"unsupported content part type {_short(ptype)}")
            )
            return None
        text = part.get("text")
        if not isinstance(text, str):
            errors.append(RowError(0, f"{ppath}.text", f"must be a string, got {_type_name(text)}"))
            return None
        texts.append(text)
    return "\n".join(texts)


def _normalise(raw: object, max_messages: int) -> tuple[list[dict[str, Any]], list[RowError], bool]:
    """Core of :func:`normalise_messages`; also reports whether an assistant message exists.

    Hot path (the importer calls this per row): a message with exactly ``role`` and ``content`` costs
    two dict lookups, a set lookup, a type check and a NUL scan.
    """
    errors: list[RowError] = []
    if not isinstance(raw, list):
        errors.append(RowError(0, "messages", f"must be an array, got {_type_name(raw)}"))
        return [], errors, False
    if not raw:
        errors.append(RowError(0, "messages", "must contain at least 1 message"))
        return [], errors, False
    if len(raw) > max_messages:
        errors.append(
            RowError(0, "messages", f"{len(raw)} messages, more than max_messages={max_messages}")
        )
        return [], errors, False
    out: list[dict[str, Any]] = []
    has_assistant = False
    for i, m in enumerate(raw):
        if type(m) is not dict:
            errors.append(RowError(0, f"messages[{i}]", f"must be an object, got {_type_name(m)}"))
            continue
        role = m.get("role")
        content = m.get("content")
        if type(role) is not str or role not in ROLES:
            if role is None:
                errors.append(RowError(0, f"messages[{i}].role", "missing"))
            else:
                errors.append(RowError(0, f"messages[{i}].role", f"unknown role {_short(role)}"))
            continue
        if role == "assistant":
            has_assistant = True
        if type(content) is not str:
            if content is None and role == "assistant" and m.get("tool_calls"):
                # OpenAI sends content null on assistant turns that only call tools.
                content = ""
            elif content is None and "content" not in m:
                errors.append(RowError(0, f"messages[{i}].content", "missing"))
                continue
            else:
                content = _content_from_parts(content, f"messages[{i}].content", errors)
                if content is None:
                    continue
        if "\x00" in content:
            errors.append(RowError(0, f"messages[{i}].content", "NUL character not allowed"))
            continue
        if len(m) == 2:
            out.append({"role": role, "content": content})
            continue
        # Rare path: optional fields. Unknown keys (e.g. fine-tuning "weight") are ignored.
        msg: dict[str, Any] = {"role": role, "content": content}
        name = m.get("name")
        if name is not None:
            if not isinstance(name, str) or not name:
                errors.append(RowError(0, f"messages[{i}].name", "must be a non-empty string"))
                continue
            if "\x00" in name:
                errors.append(RowError(0, f"messages[{i}].name", "NUL character not allowed"))
                continue
            msg["name"] = name
        tool_calls = m.get("tool_calls")
        if tool_calls is not None:
            if role != "assistant":
                errors.append(
                    RowError(0, f"messages[{i}].tool_calls", "only assistant messages call tools")
                )
                continue
            calls = _normalise_tool_calls(tool_calls, f"messages[{i}].tool_calls", errors)
            if calls is None:
                continue
            if calls:
                msg["tool_calls"] = calls
        tool_call_id = m.get("tool_call_id")
        if tool_call_id is not None:
            if role != "tool":
                errors.append(
                    RowError(0, f"messages[{i}].tool_call_id", "only tool messages carry one")
                )
                continue
            if not isinstance(tool_call_id, str) or not tool_call_id:
                errors.append(
                    RowError(0, f"messages[{i}].tool_call_id", "must be a non-empty string")
                )
                continue
            if "\x00" in tool_call_id:
                errors.append(
                    RowError(0, f"messages[{i}].tool_call_id", "NUL character not allowed")
                )
                continue
            msg["tool_call_id"] = tool_call_id
        out.append(msg)
    return out, errors, has_assistant


def normalise_messages(
    raw: object, *, max_messages: int = _DEFAULT_LIMITS.max_messages
) -> tuple[list[dict[str, Any]], list[RowError]]:
    """Validate and normalise a list of chat messages.

    Returns ``(messages, errors)``; the input is usable only if ``errors`` is empty. Each error is a
    :class:`RowError` with ``line=0`` and a field path (``"messages[2].role"``). Rules: at least one
    and at most ``max_messages`` messages; each an object with ``role`` in :data:`ROLES` and
    ``content`` a string or a non-empty array of ``{"type": "text", "text": str}`` parts (joined with
    ``"\\n"``; ``null`` only on an assistant message with ``tool_calls``); optional ``name`` (string),
    ``tool_calls`` (assistant only; ``[{id, type: "function", function: {name, arguments: str}}]``),
    ``tool_call_id`` (tool only). No NUL characters or lone surrogates. Other keys are dropped.

    Each normalised message is ``{"role", "content"}`` plus ``name``, ``tool_calls``,
    ``tool_call_id`` only when present, always in that key order.
    """
    messages, errors, _ = _normalise(raw, max_messages)
    if not errors:
        # Lone surrogates (from JSON "\\udXXX" escapes) only show up when encoding; rare, so check
        # here rather than per string in the hot path (the importer gets this check from hashing).
        try:
            orjson.dumps(messages)
        except orjson.JSONEncodeError:
            errors.append(_locate_bad_message_string(messages))
    return (messages if not errors else []), errors


def _locate_bad_message_string(messages: list[dict[str, Any]]) -> RowError:
    for i, msg in enumerate(messages):
        found = _find_bad_string(msg, f"messages[{i}]")
        if found is not None:
            return RowError(0, found[0], found[1])
    return RowError(0, "messages", "invalid Unicode")


def _find_bad_string(value: object, path: str) -> tuple[str, str] | None:
    """First string (value or key) under ``value`` that PostgreSQL would reject, with its path.

    Iterative, so hostile nesting cannot hit the recursion limit.
    """
    stack: list[tuple[object, str]] = [(value, path)]
    while stack:
        obj, p = stack.pop()
        if isinstance(obj, str):
            reason = _bad_string(obj)
            if reason is not None:
                return p, reason
        elif isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                sub = f"{p}.{k}" if p else str(k)
                if isinstance(k, str):
                    reason = _bad_string(k)
                    if reason is not None:
                        return sub, f"key: {reason}"
                items.append((v, sub))
            stack.extend(reversed(items))
        elif isinstance(obj, list):
            stack.extend(reversed([(v, f"{p}[{i}]") for i, v in enumerate(obj)]))
    return None


def _canonical(messages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Project arbitrary message dicts onto the hashed keys, in canonical order."""
    out = []
    for m in messages:
        msg = {k: m[k] for k in _HASH_KEYS if m.get(k) is not None}
        calls = msg.get("tool_calls")
        if calls:
            msg["tool_calls"] = [
                {
                    "id": c.get("id"),
                    "type": c.get("type", "function"),
                    "function": {
                        "name": (c.get("function") or {}).get("name"),
                        "arguments": (c.get("function") or {}).get("arguments"),
                    },
                }
                for c in calls
            ]
        elif "tool_calls" in msg:
            del msg["tool_calls"]
        out.append(msg)
    return out


def content_hash(messages: Iterable[dict[str, Any]]) -> str:
    """SHA-256 hex of the conversation: role, content, name, tool_calls, tool_call_id only.

    Metadata, ids, unknown message keys and key order do not matter, so the same conversation from
    two files (or formats) gets the same hash. Encoding: compact JSON (``","``/``":"`` separators,
    no ASCII escaping) of the messages as :func:`normalise_messages` shapes them, UTF-8. Raises
    ``UnicodeEncodeError`` (a ``ValueError``) on lone surrogates.
    """
    return _hash_normalised(_canonical(messages))


def _hash_normalised(messages: list[dict[str, Any]]) -> str:
    # Only valid for output of _normalise (canonical key order already); skips the projection.
    return hashlib.sha256(_encode_normalised(messages)).hexdigest()


def _encode_normalised(messages: list[dict[str, Any]]) -> bytes:
    """The canonical JSON of normalised messages, as hashed (and stored) by the importer.

    orjson writes the same compact, non-ASCII-escaping JSON as the stdlib encoder, about ten times
    faster. Raises ``UnicodeEncodeError`` (a ``ValueError``) on lone surrogates, via the stdlib.
    """
    try:
        return orjson.dumps(messages)
    except orjson.JSONEncodeError:
        # Lone surrogates: the stdlib path raises the UnicodeEncodeError callers expect.
        return _encode_compact(messages).encode("utf-8")


def _first_error(line: int, errors: list[RowError]) -> RowError:
    """Collapse a row's errors into one RowError (one rejected row = one error)."""
    first = errors[0]
    message = first.message
    if len(errors) > 1:
        message = f"{message} (+{len(errors) - 1} more)"
    return RowError(line, first.field, message)


def _make_record(
    line: int,
    raw_messages: object,
    limits: ImportLimits,
    *,
    external_id: str = "",
    metadata: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    model: str = "",
    kind: str | None = None,
    pair_key: str = "",
    variant: str = "",
) -> Record | RowError:
    """Normalise, hash and wrap; every format goes through here so validation is identical."""
    messages, errors, has_assistant = _normalise(raw_messages, limits.max_messages)
    if errors:
        return _first_error(line, errors)
    try:
        encoded = _encode_normalised(messages)
    except UnicodeEncodeError:
        err = _locate_bad_message_string(messages)
        return RowError(line, err.field, err.message)
    if kind is None:
        kind = "transcript" if has_assistant else "scenario"
    return Record(
        line,
        messages_json=encoded,
        content_hash=hashlib.sha256(encoded).hexdigest(),
        message_count=len(messages),
        kind=kind,
        messages=messages,
        metadata={} if metadata is None else metadata,
        external_id=external_id,
        tags=tags,
        model=model,
        pair_key=pair_key,
        variant=variant,
    )


# --------------------------------------------------------------------------------------------------
# Streams: gzip, byte budget, lines
# --------------------------------------------------------------------------------------------------


class _PrefixedRaw(io.RawIOBase):
    """Replays bytes already read (the magic-number probe) in front of a non-seekable stream."""

    def __init__(self, prefix: bytes, stream: IO[bytes]) -> None:
        self._prefix = prefix
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._prefix:
            n = min(len(view), len(self._prefix))
            view[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._stream.read(len(view))
        if not data:
            return 0
        view[: len(data)] = data
        return len(data)


def open_maybe_gzip(binary_stream: IO[bytes]) -> IO[bytes]:
    """Return a binary stream of the decompressed content: gzip if it starts with ``1f 8b``.

    Detection is by magic bytes only (file names lie). Nothing is consumed from the caller's point of
    view: peekable or seekable streams are probed in place, others are wrapped with the probed bytes
    replayed. Corrupt gzip data surfaces on read as ``gzip.BadGzipFile``/``EOFError``/``zlib.error``
    (:func:`iter_records` turns those into :class:`FormatError`).
    """
    stream = binary_stream
    magic = b""
    peek = getattr(stream, "peek", None)
    if peek is not None:
        magic = peek(2)[:2]
    if len(magic) < 2:
        seekable = getattr(stream, "seekable", None)
        if seekable is not None and seekable():
            pos = stream.tell()
            magic = stream.read(2)
            stream.seek(pos)
        else:
            magic = stream.read(2) or b""
            stream = io.BufferedReader(_PrefixedRaw(magic, stream))
    if magic == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[return-value]
    return stream


class _Source:
    """Reads decompressed bytes in chunks, enforcing ``max_bytes`` and naming gzip corruption."""

    def __init__(self, stream: IO[bytes], limits: ImportLimits, where: str, stats: ImportStats):
        self.stream = stream
        self.limits = limits
        self.where = where
        self.stats = stats
        self.total = 0

    def read(self, size: int) -> bytes:
        # Never ask for more than one byte past the budget: a gzip bomb is stopped after at most
        # max_bytes + 1 decompressed bytes, not after a whole chunk or line.
        size = min(size, self.limits.max_bytes - self.total + 1)
        try:
            data = self.stream.read(size)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise FormatError(
                f"{self.where}: corrupt or truncated gzip data after {self.total} decompressed "
                f"bytes: {exc}"
            ) from exc
        if not data:
            return b""
        self.total += len(data)
        self.stats.bytes_read = self.total
        if self.total > self.limits.max_bytes:
            raise FormatError(
                f"{self.where}: more than max_bytes={self.limits.max_bytes} decompressed bytes"
            )
        return data

    def read_head(self) -> bytes:
        parts = []
        got = 0
        while got < HEAD_BYTES:
            data = self.read(HEAD_BYTES - got)
            if not data:
                break
            parts.append(data)
            got += len(data)
        return b"".join(parts)


class _Overlong:
    """Marker yielded by :func:`_iter_lines` in place of a line longer than ``max_line_bytes``."""


_OVERLONG = _Overlong()


def _iter_lines(source: _Source, head: bytes) -> Iterator[bytes | _Overlong]:
    """Yield physical lines (without ``\\n``), one item per line, in bounded memory.

    A line over ``max_line_bytes`` is never held beyond the cap plus one chunk: the rest of it is read
    and dropped, and :data:`_OVERLONG` is yielded instead so line numbers stay right.
    """
    cap = source.limits.max_line_bytes
    pending = b""
    skipping = False
    chunk = head if head else source.read(_CHUNK)
    while chunk:
        parts = chunk.split(b"\n")
        tail = parts.pop()
        if parts:
            if skipping:
                # This newline ends the overlong line whose head was already dropped.
                skipping = False
                yield _OVERLONG
                del parts[0]
            elif pending:
                parts[0] = pending + parts[0]
            for part in parts:
                yield _OVERLONG if len(part) > cap else part
            pending = tail
        elif not skipping:
            pending += tail
        if not skipping and len(pending) > cap:
            pending = b""
            skipping = True
        chunk = source.read(_CHUNK)
    if skipping:
        yield _OVERLONG
    elif pending:
        yield pending


# --------------------------------------------------------------------------------------------------
# JSON safety checks
# --------------------------------------------------------------------------------------------------

# A JSON string literal (unrolled loop: linear, no nested quantifier backtracking).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
# Escapes that decode to something PostgreSQL rejects (NUL) or may reject (surrogates, which are
# fine only as a valid pair). Raw NUL/control bytes are already rejected by strict json parsing.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89abcdefABCDEF])")


def _too_deep(data: bytes, max_depth: int) -> bool:
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
        found = _find_bad_string(value, name)
        if found is not None:
            return RowError(rec.line, found[0], found[1])
    return None


# --------------------------------------------------------------------------------------------------
# Format detection
# --------------------------------------------------------------------------------------------------


def _format_from_keys(obj: dict[str, Any]) -> str | None:
    if "messages" in obj:
        return "openai_jsonl"
    if "chosen" in obj and "rejected" in obj:
        return "hh_jsonl"
    if "turns" in obj and "question_id" in obj:
        return "mtbench_jsonl"
    if "jailbreaks" in obj:
        return "jailbreakbench_json"
    return None


def _csv_columns(header: list[str]) -> tuple[int | None, int | None, int | None]:
    """Indexes of the prompt, response and id columns (case-insensitive), None when absent."""
    lowered = [h.strip().lower() for h in header]

    def find(names: tuple[str, ...]) -> int | None:
        for name in names:
            if name in lowered:
                return lowered.index(name)
        return None

    return find(PROMPT_COLUMNS), find(RESPONSE_COLUMNS), find(ID_COLUMNS)


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
            obj = _decode(first_line)
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
            ('"jailbreaks"', "jailbreakbench_json"),
            ('"messages"', "openai_jsonl"),
            ('"chosen"', "hh_jsonl"),
            ('"question_id"', "mtbench_jsonl"),
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
    if _csv_columns(header)[0] is not None:
        return "prompt_response_csv"
    raise FormatError(
        f"{where}: unknown format: not JSON lines (messages / chosen+rejected / question_id+turns), "
        f"not a JailbreakBench document, not a CSV with a prompt column "
        f"({'/'.join(PROMPT_COLUMNS)}); first line: {_short(header, 120)}"
    )


# --------------------------------------------------------------------------------------------------
# Readers per format
# --------------------------------------------------------------------------------------------------


def _line_error(exc: UnicodeDecodeError) -> str:
    return f"invalid UTF-8 at byte {exc.start + 1} of the line ({exc.reason})"


def _iter_jsonl(
    lines: Iterator[bytes | _Overlong],
    convert: Any,
    limits: ImportLimits,
    stats: ImportStats,
    where: str,
    fast: Any = None,
) -> Iterator[Record | RowError]:
    """Shared JSONL loop: limits, UTF-8, depth, parse; ``convert(n, obj, line)`` builds records.

    ``convert`` returns a Record, a RowError, or a list of them. ``fast(n, line)``, if given, is
    tried first on lines without suspect escapes: it returns a Record for the common shape of row,
    or None to leave the line to the general path (which also words every error).
    """
    cap = limits.max_line_bytes
    max_depth = limits.max_depth
    max_rows = limits.max_rows
    rows = 0
    n = 0
    for line in lines:
        n += 1
        if type(line) is _Overlong:
            rows += 1
            yield RowError(n, "", f"line longer than max_line_bytes={cap}")
            continue
        if not line or line.isspace():
            continue  # blank lines are allowed anywhere
        rows += 1
        if rows > max_rows:
            raise FormatError(f"{where}: more than max_rows={max_rows} rows (line {n})")
        if n == 1 and line.startswith(_BOM):
            line = line[3:]
        # Inline cheap bound (no call for ordinary rows): depth <= number of opening brackets.
        if line.count(b"[") + line.count(b"{") > max_depth and _too_deep(line, max_depth):
            yield RowError(n, "", f"JSON nested deeper than max_depth={max_depth}")
            continue
        # A one-byte search runs at memchr speed; most lines hold no backslash at all.
        suspect = b"\\" in line and _SUSPECT_ESCAPE.search(line) is not None
        if fast is not None and not suspect:
            record = fast(n, line)
            if record is not None:
                yield record
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
                obj = _decode(text)
            except ValueError as exc:  # JSONDecodeError
                msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                col = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
                yield RowError(n, "", f"invalid JSON: {msg}{col}")
                continue
            except RecursionError:  # belt and braces; _too_deep should have caught it
                yield RowError(n, "", f"JSON nested deeper than max_depth={max_depth}")
                continue
        if type(obj) is not dict:
            yield RowError(n, "", f"expected a JSON object, got {_type_name(obj)}")
            continue
        result = convert(n, obj, line)
        if type(result) is list:
            if suspect:
                result = [_recheck(r) for r in result]
                bad = [r for r in result if type(r) is RowError]
                if bad:
                    result = [bad[0]]
            yield from result
        else:
            yield _recheck(result) if suspect else result
    stats.rows = rows


def _recheck(item: Record | RowError) -> Record | RowError:
    if type(item) is Record:
        err = _check_record_strings(item)
        if err is not None:
            return err
    return item


def _optional_str(value: object, fieldname: str, line: int) -> str | RowError:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return RowError(line, fieldname, f"must be a string, got {_type_name(value)}")


def _openai_converter(limits: ImportLimits) -> Any:
    def convert(n: int, obj: dict[str, Any], line: bytes) -> Record | RowError:
        raw = obj.get("messages")
        if raw is None:
            return RowError(
                n, "messages", "missing" if "messages" not in obj else "must be an array, got null"
            )
        external_id = obj.get("external_id")
        if external_id is None:
            external_id = ""
        elif type(external_id) is int:
            external_id = str(external_id)
        elif type(external_id) is not str:
            return RowError(
                n, "external_id", f"must be a string or integer, got {_type_name(external_id)}"
            )
        metadata = obj.get("metadata")
        if metadata is None:
            metadata = {}
        elif type(metadata) is not dict:
            return RowError(n, "metadata", f"must be an object, got {_type_name(metadata)}")
        tags = obj.get("tags")
        if tags is None:
            tags = []
        elif type(tags) is not list:
            return RowError(n, "tags", f"must be an array of strings, got {_type_name(tags)}")
        else:
            for i, tag in enumerate(tags):
                if type(tag) is not str:
                    return RowError(n, f"tags[{i}]", f"must be a string, got {_type_name(tag)}")
        model = _optional_str(obj.get("model"), "model", n)
        if type(model) is RowError:
            return model
        return _make_record(
            n,
            raw,
            limits,
            external_id=external_id,
            metadata=metadata,
            tags=tags,
            model=model,  # type: ignore[arg-type]
        )

    return convert


class _PlainMessage(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True, gc=False):
    """A message in the common shape: a known role and text content, nothing else that counts.

    The optional fields are typed ``None``: a row that really uses one fails to decode here and goes
    the general way. So does a row with keys we do not know: msgspec would skip them without
    checking their UTF-8, and the general path rejects a row with invalid UTF-8 anywhere.
    """

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str
    name: None = None
    tool_calls: None = None
    tool_call_id: None = None


class _PlainRow(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    messages: list[_PlainMessage]
    external_id: str | int | None = None
    # Kept as JSON text: it is stored as it is, so decoding it would be wasted work.
    metadata: msgspec.Raw = msgspec.Raw()
    tags: list[str] | None = None
    model: str | None = None


def _openai_fast(limits: ImportLimits) -> Any:
    """``fast(n, line)`` for ``openai_jsonl``: one C-level decode validates and normalises a row.

    Most rows are plain chats (role + text content). msgspec decodes such a row straight into
    structs, checking every type on the way, and encodes the messages back in canonical order: the
    bytes that are hashed and stored, equal to what the general path produces (a test holds the two
    to the same records). Anything else (content parts, tool calls, a bad field) returns None, and
    the general path handles the row and words its error.
    """
    decode = msgspec.json.Decoder(_PlainRow).decode
    encode = msgspec.json.Encoder().encode
    sha256 = hashlib.sha256
    max_messages = limits.max_messages
    # Invalid UTF-8 in a decoded string surfaces as UnicodeDecodeError, not DecodeError.
    errors = (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError)

    def fast(n: int, line: bytes) -> Record | None:
        try:
            row = decode(line)
        except errors:
            return None
        messages = row.messages
        if not messages or len(messages) > max_messages:
            return None
        metadata = bytes(row.metadata)
        if not metadata or metadata == b"null":
            metadata = b"{}"
        elif metadata[0] != 0x7B:  # not an object
            return None
        elif not metadata.isascii():
            # The one part msgspec keeps raw, so the one part whose UTF-8 it has not checked.
            try:
                metadata.decode("utf-8")
            except UnicodeDecodeError:
                return None
        external_id = row.external_id
        if external_id is None:
            external_id = ""
        elif type(external_id) is int:
            if not -(2**63) <= external_id < 2**64:
                return None  # the general path reads it as a float, and words the error
            external_id = str(external_id)
        encoded = encode(messages)
        has_assistant = False
        for message in messages:
            if message.role == "assistant":
                has_assistant = True
                break
        return Record(
            n,
            messages_json=encoded,
            content_hash=sha256(encoded).hexdigest(),
            message_count=len(messages),
            kind="transcript" if has_assistant else "scenario",
            metadata_json=metadata,
            external_id=external_id,  # type: ignore[arg-type]
            tags=row.tags,
            model=row.model or "",
        )

    return fast


# "\n\nHuman: " / "\n\nAssistant: " (also at the very start, and a bare "Assistant:" at the end).
_HH_TURN = re.compile(r"(?:^|\n\n)(Human|Assistant):(?: |\Z)")
_HH_ROLES = {"Human": "user", "Assistant": "assistant"}


def _hh_messages(text: object, fieldname: str, line: int) -> list[dict[str, str]] | RowError:
    if not isinstance(text, str):
        return RowError(line, fieldname, f"must be a string, got {_type_name(text)}")
    parts = _HH_TURN.split(text)
    if len(parts) < 3:
        return RowError(line, fieldname, "no '\\n\\nHuman: ' / '\\n\\nAssistant: ' turns")
    if parts[0].strip():
        return RowError(line, fieldname, f"text before the first turn: {_short(parts[0], 40)}")
    # Turn text is kept verbatim (no stripping) so hashes match the source exactly.
    return [{"role": _HH_ROLES[parts[k]], "content": parts[k + 1]} for k in range(1, len(parts), 2)]


def _hh_converter(limits: ImportLimits) -> Any:
    def convert(n: int, obj: dict[str, Any], line: bytes) -> list[Record | RowError] | RowError:
        for key in ("chosen", "rejected"):
            if key not in obj:
                return RowError(n, key, "missing")
        chosen = _hh_messages(obj["chosen"], "chosen", n)
        if type(chosen) is RowError:
            return chosen
        rejected = _hh_messages(obj["rejected"], "rejected", n)
        if type(rejected) is RowError:
            return rejected
        # Line number + hash of the raw row: unique within a file, stable across re-imports.
        pair_key = f"line{n}-{hashlib.sha256(line).hexdigest()[:16]}"
        out: list[Record | RowError] = []
        for variant, msgs in (("chosen", chosen), ("rejected", rejected)):
            rec = _make_record(n, msgs, limits, pair_key=pair_key, variant=variant)
            if type(rec) is RowError:
                # A pair is the unit: one bad side rejects the whole row.
                return RowError(n, f"{variant}.{rec.field}", rec.message)
            out.append(rec)
        return out

    return convert


def _mtbench_converter(limits: ImportLimits) -> Any:
    def convert(n: int, obj: dict[str, Any], line: bytes) -> Record | RowError:
        qid = obj.get("question_id")
        if type(qid) not in (int, str) or qid == "":
            return RowError(n, "question_id", f"must be an integer or string, got {_short(qid)}")
        turns = obj.get("turns")
        if type(turns) is not list or not turns:
            return RowError(n, "turns", "must be a non-empty array of strings")
        for i, turn in enumerate(turns):
            if type(turn) is not str:
                return RowError(n, f"turns[{i}]", f"must be a string, got {_type_name(turn)}")
        # Prompt-only: the first turn is the scenario; later turns need the model's answers first,
        # so they travel in metadata (with category, reference, ...).
        return _make_record(
            n,
            [{"role": "user", "content": turns[0]}],
            limits,
            external_id=f"mtbench-{qid}",
            metadata=dict(obj),
            kind="scenario",
        )

    return convert


_JSON_WS = re.compile(r"[ \t\n\r]*")


def _parse_jbb_document(
    text: str, where: str
) -> tuple[dict[str, Any], list[tuple[int, object]] | None]:
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


def _iter_jailbreakbench(
    source: _Source, head: bytes, limits: ImportLimits, stats: ImportStats, where: str
) -> Iterator[Record | RowError]:
    # One JSON document: it has to be read whole, so it gets its own (smaller) cap.
    cap = limits.max_document_bytes
    parts = [head]
    size = len(head)
    while size <= cap:
        data = source.read(_CHUNK)
        if not data:
            break
        parts.append(data)
        size += len(data)
    if size > cap:
        raise FormatError(f"{where}: JSON document larger than max_document_bytes={cap}")
    data = b"".join(parts)
    del parts
    if data.startswith(_BOM):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FormatError(f"{where}: invalid UTF-8 at line {line}: {exc.reason}") from exc
    if _too_deep(data, limits.max_depth + 2):  # +2: the document and its "jailbreaks" array
        raise FormatError(f"{where}: JSON nested deeper than max_depth={limits.max_depth}")
    suspect = _SUSPECT_ESCAPE.search(data) is not None
    del data
    top, items = _parse_jbb_document(text, where)
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
            yield RowError(line, "", f"item must be an object, got {_type_name(item)}")
            continue
        prompt = item.get("prompt")
        response = item.get("response")
        if prompt is None:
            # The attack submitted nothing for this behaviour: not an error, nothing to import.
            stats.skip("prompt is null")
            continue
        if not isinstance(prompt, str):
            yield RowError(line, "prompt", f"must be a string, got {_type_name(prompt)}")
            continue
        if response is not None and not isinstance(response, str):
            yield RowError(line, "response", f"must be a string, got {_type_name(response)}")
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
        rec = _make_record(
            line,
            messages,
            limits,
            external_id=external_id,
            metadata={k: item[k] for k in _JBB_METADATA if k in item},
            model=model,
        )
        yield _recheck(rec) if suspect else rec


def _iter_csv(
    lines: Iterator[bytes | _Overlong], limits: ImportLimits, stats: ImportStats, where: str
) -> Iterator[Record | RowError]:
    cap = limits.max_line_bytes
    # csv keeps its field cap in process-global state; only ever raise it (to our own line cap),
    # so a long completion is not a csv.Error and an unclosed quote still cannot eat the file.
    if csv.field_size_limit() < cap:
        csv.field_size_limit(cap)
    bad: dict[int, str] = {}
    consumed = [0]  # bytes handed to the csv reader so far (a list: written by the generator)

    def text_lines() -> Iterator[str]:
        # One str per physical line (csv counts them in line_num); problems are noted in `bad` and
        # reported against the row that contains the line.
        n = 0
        for raw in lines:
            n += 1
            if type(raw) is _Overlong:
                consumed[0] += cap + 1
                bad[n] = f"line {n} longer than max_line_bytes={cap}"
                yield "\n"
                continue
            consumed[0] += len(raw) + 1
            if n == 1 and raw.startswith(_BOM):
                raw = raw[3:]
            if b"\x00" in raw:
                bad[n] = f"NUL byte on line {n}"
            try:
                yield raw.decode("utf-8") + "\n"
            except UnicodeDecodeError as exc:
                bad[n] = f"invalid UTF-8 at byte {exc.start + 1} of line {n} ({exc.reason})"
                yield raw.decode("utf-8", "replace") + "\n"

    reader = csv.reader(text_lines())
    try:
        header = next(reader)
    except StopIteration:
        raise FormatError(f"{where}: empty CSV file") from None
    except csv.Error as exc:
        raise FormatError(f"{where}: unreadable CSV header: {exc}") from exc
    if bad:
        raise FormatError(f"{where}: CSV header: {next(iter(bad.values()))}")
    prompt_i, response_i, id_i = _csv_columns(header)
    if prompt_i is None:
        raise FormatError(
            f"{where}: CSV header has no prompt column (one of {', '.join(PROMPT_COLUMNS)}); "
            f"header: {_short(header, 200)}"
        )
    names = [h.strip() for h in header]
    ncols = len(header)
    meta_cols = [(k, names[k]) for k in range(ncols) if k not in (prompt_i, response_i, id_i)]
    prompt_name = names[prompt_i]
    max_rows = limits.max_rows
    rows = 0
    while True:
        start = reader.line_num + 1
        start_bytes = consumed[0]
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rows += 1
            bad.clear()  # whatever else was wrong with this row's lines, it is reported once
            yield RowError(start, "", f"CSV error: {exc}")
            continue
        if consumed[0] - start_bytes > cap and reader.line_num > start:
            # A multi-line row (e.g. an unclosed quote) is held whole by csv: cap it like a line.
            rows += 1
            bad.clear()
            yield RowError(
                start,
                "",
                f"CSV row (lines {start}-{reader.line_num}) longer than max_line_bytes={cap}",
            )
            continue
        if bad:
            # Lines of this row that could not be read: reject the row (even a blank-looking one,
            # since an overlong or undecodable line is not known to be blank).
            hits = [bad.pop(k) for k in sorted(bad) if k <= reader.line_num]
            if hits:
                rows += 1
                yield RowError(start, "", hits[0])
                continue
        if not row:
            continue  # blank line
        rows += 1
        if rows > max_rows:
            raise FormatError(f"{where}: more than max_rows={max_rows} rows (line {start})")
        if len(row) != ncols:
            yield RowError(start, "", f"expected {ncols} fields (as the header), got {len(row)}")
            continue
        prompt = row[prompt_i]
        if not prompt.strip():
            yield RowError(start, prompt_name, "empty prompt")
            continue
        messages = [{"role": "user", "content": prompt}]
        if response_i is not None and row[response_i].strip():
            messages.append({"role": "assistant", "content": row[response_i]})
        yield _make_record(
            start,
            messages,
            limits,
            external_id=row[id_i].strip() if id_i is not None else "",
            metadata={name: row[k] for k, name in meta_cols},
        )
    stats.rows = rows


# --------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------


def iter_records(
    binary_stream: IO[bytes],
    *,
    format: str | None = None,
    filename: str = "",
    limits: ImportLimits = _DEFAULT_LIMITS,
    stats: ImportStats | None = None,
) -> Iterator[Record | RowError]:
    """Stream ``binary_stream`` as :class:`Record` / :class:`RowError` items, in file order.

    ``format`` is one of :data:`FORMATS`, or None to :func:`detect_format` from the first
    :data:`HEAD_BYTES` (after gunzip). ``filename`` is used in messages (and as a detection hint).
    Gzip is detected by magic bytes. Pass an :class:`ImportStats` as ``stats`` to get row/skip counts
    (filled in as iteration proceeds; final once the iterator is exhausted).

    Row problems are yielded as RowError (one per rejected row). A JSON ``external_id`` (or CSV
    ``id``) seen before in the same file is a RowError on the later line. :class:`FormatError` is
    raised for unknown formats, corrupt gzip and file-level limits, possibly after records were
    yielded (see module docs). The stream is read sequentially and never closed here.
    """
    if format is not None and format not in FORMATS:
        raise FormatError(f"{filename or '<stream>'}: unknown format {format!r}; one of {FORMATS}")
    return _iter_records(
        binary_stream, format, filename, limits, stats if stats is not None else ImportStats()
    )


def _iter_records(
    binary_stream: IO[bytes],
    fmt: str | None,
    filename: str,
    limits: ImportLimits,
    stats: ImportStats,
) -> Iterator[Record | RowError]:
    where = filename or "<stream>"
    try:
        stream = open_maybe_gzip(binary_stream)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise FormatError(f"{where}: corrupt gzip data: {exc}") from exc
    source = _Source(stream, limits, where, stats)
    head = source.read_head()
    if fmt is None:
        fmt = detect_format(head, filename)
    stats.format = fmt
    items: Iterator[Record | RowError]
    if fmt == "jailbreakbench_json":
        items = _iter_jailbreakbench(source, head, limits, stats, where)
    elif fmt == "prompt_response_csv":
        items = _iter_csv(_iter_lines(source, head), limits, stats, where)
    else:
        converter = {
            "openai_jsonl": _openai_converter,
            "hh_jsonl": _hh_converter,
            "mtbench_jsonl": _mtbench_converter,
        }[fmt](limits)
        fast = _openai_fast(limits) if fmt == "openai_jsonl" else None
        items = _iter_jsonl(_iter_lines(source, head), converter, limits, stats, where, fast)

    # Duplicate ids: only the ids and their first line are kept (memory bounded by the id count).
    first_line: dict[str, int] = {}
    records = errors = 0
    try:
        for item in items:
            if type(item) is Record:
                eid = item.external_id
                if eid:
                    seen = first_line.get(eid)
                    if seen is not None:
                        errors += 1
                        yield RowError(
                            item.line,
                            "external_id",
                            f"duplicate external_id {_short(eid)} (first on line {seen})",
                        )
                        continue
                    first_line[eid] = item.line
                records += 1
            else:
                errors += 1
            yield item
    finally:
        stats.records = records
        stats.errors = errors


# --------------------------------------------------------------------------------------------------
# Synthetic data for tests and benchmarks
# --------------------------------------------------------------------------------------------------

_WORDS = (
    "policy",
    "model",
    "review",
    "transcript",
    "assistant",
    "answer",
    "question",
    "refuse",
    "comply",
    "safety",
    "context",
    "user",
    "request",
    "explain",
    "detail",
    "example",
    "careful",
    "helpful",
    "harmless",
    "honest",
    "clause",
    "section",
    "guideline",
    "tool",
    "result",
    "search",
    "weather",
    "report",
    "summary",
    "draft",
    "email",
    "code",
    "function",
    "error",
    "value",
    "number",
    "café",
    "naïve",
    "résumé",
    "—",
    "“quoted”",
    "日本語",
    "テキスト",
    "data",
    "import",
    "export",
    "table",
    "row",
    "column",
    "field",
    "record",
    "stream",
)


def generate_openai_jsonl(
    path: str | os.PathLike[str], rows: int, messages_per_row: int = 6, seed: int = 0
) -> int:
    """Write ``rows`` synthetic ``openai_jsonl`` rows to ``path``; return the bytes written.

    Deterministic for a given seed. Each row (~1.5 KB with 6 messages) has a system message, then
    alternating user/assistant turns with content distinct per row (the row number is embedded),
    plus ``external_id`` (``"gen-<seed>-<row>"``), ``metadata``, ``tags`` and ``model``; some text is
    non-ASCII. Every row is valid, so every row must come back as a Record.
    """
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not security
    # Pre-built sentences keep generation cheap (a few choices per message, not one per word).
    sentences = [
        " ".join(rng.choice(_WORDS) for _ in range(rng.randint(5, 12))).capitalize() + "."
        for _ in range(512)
    ]
    encode = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    roles = ("user", "assistant")
    written = 0
    with open(path, "wb") as fh:
        buf: list[bytes] = []
        for row in range(rows):
            messages = [
                {
                    "role": "system",
                    "content": f"You are assistant #{row % 97}. "
                    + " ".join(rng.sample(sentences, 2)),
                }
            ]
            for turn in range(messages_per_row - 1):
                content = f"[{row}.{turn}] " + " ".join(rng.sample(sentences, 3))
                messages.append({"role": roles[turn % 2], "content": content})
            obj = {
                "external_id": f"gen-{seed}-{row}",
                "messages": messages,
                "metadata": {"source": "generated", "seed": seed, "row": row, "shard": row % 16},
                "tags": ["synthetic", f"bucket-{row % 8}"],
                "model": "gen-model-1",
            }
            data = encode(obj).encode("utf-8") + b"\n"
            buf.append(data)
            written += len(data)
            if len(buf) >= 1024:
                fh.write(b"".join(buf))
                buf.clear()
        fh.write(b"".join(buf))
    return written
