"""Streaming readers that turn transcript files into normalised records.

Framework-free on purpose (stdlib, orjson and msgspec only; no Django imports): the import engine
drives it, the API reuses :func:`normalise_messages` and :func:`content_hash`, and the benchmark
reuses :func:`generate_openai_jsonl`. One module per format (``openai_jsonl``, ``hh``,
``prompt_response_csv``, ``jailbreakbench``, ``mtbench``), listed once in :data:`FORMATS`
(``registry``); ``detection`` names a file's format, ``limits`` holds every size limit,
``records`` the shared record types, ``messages`` validation and hashing, ``streams`` gzip and
lines, ``jsonl`` the JSON lines loop.

Contracts
---------
* :func:`iter_records` reads a binary stream (optionally gzip, detected by magic bytes) in bounded
  memory and yields :class:`Record` or :class:`RowError` in file order. A bad row never stops the
  stream; it becomes exactly one ``RowError`` (its first problem; ``"(+N more)"`` counts the
  rest) and no record.
* :class:`FormatError` means the file as a whole is unusable: unknown format, CSV without a prompt
  column, corrupt gzip, or a file-level limit (``max_bytes``, ``max_rows``,
  ``max_document_bytes``). It is raised either by the call or *during* iteration (a limit can only
  be seen once reached), so an importer must treat the whole file as failed and roll back
  whatever it wrote for it.
* Memory: JSONL and CSV hold at most one line (``max_line_bytes``) plus one read chunk, plus the
  set of external ids seen (for the duplicate check). ``jailbreakbench_json`` is one JSON document
  and is parsed whole, capped by ``max_document_bytes``.
* Every string that reaches a record is valid Unicode without NUL (PostgreSQL rejects both in text
  and jsonb), so the importer can write records without re-validating them.
"""

from transcripts.formats.detection import detect_format
from transcripts.formats.limits import DEFAULT_LIMITS, ImportLimits
from transcripts.formats.messages import ROLE_NAMES, ROLES, content_hash, normalise_messages
from transcripts.formats.reading import iter_records
from transcripts.formats.records import FormatError, ImportStats, Record, RowError
from transcripts.formats.registry import FORMATS, Format
from transcripts.formats.streams import HEAD_BYTES, open_maybe_gzip
from transcripts.formats.synthetic import generate_openai_jsonl

__all__ = [
    "DEFAULT_LIMITS",
    "FORMATS",
    "HEAD_BYTES",
    "ROLES",
    "ROLE_NAMES",
    "Format",
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
