"""What the readers produce: a :class:`Record` per conversation, a :class:`RowError` per rejected
row, :class:`ImportStats` for the counts, and :class:`FormatError` when the whole file is unusable."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import orjson

decode_json = json.JSONDecoder().decode


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
                decode_json(self.metadata_json.decode("utf-8")) if self.metadata_json else {}
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
    """Counters filled in by :func:`iter_records` when passed as ``stats=`` .

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
