"""``openai_jsonl``: one JSON object per line with OpenAI chat ``messages``.

Optional top-level fields: ``external_id`` (string or integer), ``metadata`` (object), ``tags``
(array of strings), ``model`` (string). The common row (plain role + text messages) takes a fast
path through msgspec; every other row, and every error, goes the general way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any, Literal

import msgspec

from transcripts.formats.jsonl import iter_jsonl, optional_str
from transcripts.formats.limits import ImportLimits
from transcripts.formats.messages import make_record, type_name
from transcripts.formats.records import ImportStats, Record, RowError
from transcripts.formats.streams import Source, iter_lines

NAME = "openai_jsonl"
LABEL = "JSONL with OpenAI messages"


def read(
    source: Source, head: bytes, limits: ImportLimits, stats: ImportStats, where: str
) -> Iterator[Record | RowError]:
    return iter_jsonl(
        iter_lines(source, head),
        make_converter(limits),
        limits,
        stats,
        where,
        make_fast_path(limits),
    )


def make_converter(limits: ImportLimits) -> Any:
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
                n, "external_id", f"must be a string or integer, got {type_name(external_id)}"
            )
        metadata = obj.get("metadata")
        if metadata is None:
            metadata = {}
        elif type(metadata) is not dict:
            return RowError(n, "metadata", f"must be an object, got {type_name(metadata)}")
        tags = obj.get("tags")
        if tags is None:
            tags = []
        elif type(tags) is not list:
            return RowError(n, "tags", f"must be an array of strings, got {type_name(tags)}")
        else:
            for i, tag in enumerate(tags):
                if type(tag) is not str:
                    return RowError(n, f"tags[{i}]", f"must be a string, got {type_name(tag)}")
        model = optional_str(obj.get("model"), "model", n)
        if type(model) is RowError:
            return model
        return make_record(
            n,
            raw,
            limits,
            external_id=external_id,
            metadata=metadata,
            tags=tags,
            model=model,  # type: ignore[arg-type]
        )

    return convert


#: How deep a :class:`PlainRow` nests without its metadata (row, messages, message).
PLAIN_ROW_DEPTH = 3
_ASSISTANT = b'{"role":"assistant"'


class PlainMessage(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True, gc=False):
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


class PlainRow(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    messages: list[PlainMessage]
    external_id: str | int | None = None
    # Kept as JSON text: it is stored as it is, so decoding it would be wasted work.
    metadata: msgspec.Raw = msgspec.Raw()
    tags: list[str] | None = None
    model: str | None = None


def make_fast_path(limits: ImportLimits) -> Any:
    """``fast(n, line)`` for ``openai_jsonl``: one C-level decode validates and normalises a row.

    Most rows are plain chats (role + text content). msgspec decodes such a row straight into
    structs, checking every type on the way, and encodes the messages back in canonical order: the
    bytes that are hashed and stored, equal to what the general path produces (a test holds the two
    to the same records). Anything else (content parts, tool calls, a bad field) returns None, and
    the general path handles the row and words its error.
    """
    decode = msgspec.json.Decoder(PlainRow).decode
    encode = msgspec.json.Encoder().encode
    sha256 = hashlib.sha256
    max_messages = limits.max_messages
    # A PlainRow nests three deep at most (row → messages → message) apart from its metadata,
    # which sits one level below the row; the metadata is the one part whose depth can vary.
    max_metadata_brackets = limits.max_depth - 1
    if limits.max_depth < PLAIN_ROW_DEPTH:
        return lambda n, line: None
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
        elif metadata.count(b"[") + metadata.count(b"{") > max_metadata_brackets:
            return None  # maybe too deep: the general path measures it and words the error
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
        return Record(
            n,
            messages_json=encoded,
            content_hash=sha256(encoded).hexdigest(),
            message_count=len(messages),
            # Every message starts with its role (the struct's first field); a quote inside a
            # string is escaped, so this only matches a message's start.
            kind="transcript" if _ASSISTANT in encoded else "scenario",
            metadata_json=metadata,
            external_id=external_id,  # type: ignore[arg-type]
            tags=row.tags,
            model=row.model or "",
        )

    return fast
