"""Messages: validation, normalisation and the content hash, shared by every reader.

Every format goes through :func:`make_record`, so a conversation is validated, shaped and hashed
the same way whatever file it came from (and the same conversation from two formats gets one
hash).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import orjson

from transcripts.formats.limits import DEFAULT_LIMITS, ImportLimits
from transcripts.formats.records import Record, RowError

#: The roles a message may have, in conversation order (for menus and schemas).
ROLE_NAMES: tuple[str, ...] = ("system", "developer", "user", "assistant", "tool")
ROLES: frozenset[str] = frozenset(ROLE_NAMES)

# Parts of a message that define the conversation (and so its hash); ids and metadata are excluded.
_HASH_KEYS = ("role", "content", "name", "tool_calls", "tool_call_id")


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


def type_name(value: object) -> str:
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


def short(value: object, limit: int = 60) -> str:
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
        errors.append(RowError(0, path, f"must be an array, got {type_name(raw)}"))
        return None
    out = []
    for j, call in enumerate(raw):
        cpath = f"{path}[{j}]"
        if not isinstance(call, dict):
            errors.append(RowError(0, cpath, f"must be an object, got {type_name(call)}"))
            return None
        call_id = call.get("id")
        ctype = call.get("type", "function")
        func = call.get("function")
        if not isinstance(call_id, str) or not call_id:
            errors.append(RowError(0, f"{cpath}.id", "must be a non-empty string"))
            return None
        if ctype != "function":
            errors.append(
                RowError(0, f"{cpath}.type", f"unsupported tool call type {short(ctype)}")
            )
            return None
        if not isinstance(func, dict):
            errors.append(
                RowError(0, f"{cpath}.function", f"must be an object, got {type_name(func)}")
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
                    f"must be a string (JSON text), got {type_name(args)}",
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
            RowError(0, path, f"must be a string or an array of text parts, got {type_name(raw)}")
        )
        return None
    if not raw:
        errors.append(RowError(0, path, "empty array of content parts"))
        return None
    texts = []
    for k, part in enumerate(raw):
        ppath = f"{path}[{k}]"
        if not isinstance(part, dict):
            errors.append(RowError(0, ppath, f"must be an object, got {type_name(part)}"))
            return None
        ptype = part.get("type")
        if ptype != "text":
            errors.append(
                RowError(0, f"{ppath}.type", f"unsupported content part type {short(ptype)}")
            )
            return None
        text = part.get("text")
        if not isinstance(text, str):
            errors.append(RowError(0, f"{ppath}.text", f"must be a string, got {type_name(text)}"))
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
        errors.append(RowError(0, "messages", f"must be an array, got {type_name(raw)}"))
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
            errors.append(RowError(0, f"messages[{i}]", f"must be an object, got {type_name(m)}"))
            continue
        role = m.get("role")
        content = m.get("content")
        if type(role) is not str or role not in ROLES:
            if role is None:
                errors.append(RowError(0, f"messages[{i}].role", "missing"))
            else:
                errors.append(RowError(0, f"messages[{i}].role", f"unknown role {short(role)}"))
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
    raw: object, *, max_messages: int = DEFAULT_LIMITS.max_messages
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
            errors.append(locate_bad_message_string(messages))
    return (messages if not errors else []), errors


def locate_bad_message_string(messages: list[dict[str, Any]]) -> RowError:
    for i, msg in enumerate(messages):
        found = find_bad_string(msg, f"messages[{i}]")
        if found is not None:
            return RowError(0, found[0], found[1])
    return RowError(0, "messages", "invalid Unicode")


def find_bad_string(value: object, path: str) -> tuple[str, str] | None:
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
    return hashlib.sha256(encode_normalised(messages)).hexdigest()


def encode_normalised(messages: list[dict[str, Any]]) -> bytes:
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


def make_record(
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
        encoded = encode_normalised(messages)
    except UnicodeEncodeError:
        err = locate_bad_message_string(messages)
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
