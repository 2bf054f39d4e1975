"""The entry point: :func:`iter_records` streams a file of any known format as records."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from typing import IO

from transcripts.formats.detection import detect_format
from transcripts.formats.limits import DEFAULT_LIMITS, ImportLimits
from transcripts.formats.messages import short
from transcripts.formats.records import FormatError, ImportStats, Record, RowError
from transcripts.formats.registry import FORMATS
from transcripts.formats.streams import Source, open_maybe_gzip


def iter_records(
    binary_stream: IO[bytes],
    *,
    format: str | None = None,
    filename: str = "",
    limits: ImportLimits = DEFAULT_LIMITS,
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
    yielded (see the package docs). The stream is read sequentially and never closed here.
    """
    if format is not None and format not in FORMATS:
        raise FormatError(
            f"{filename or '<stream>'}: unknown format {format!r}; one of {', '.join(FORMATS)}"
        )
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
    source = Source(stream, limits, where, stats)
    head = source.read_head()
    if fmt is None:
        fmt = detect_format(head, filename)
    stats.format = fmt
    items = FORMATS[fmt].read(source, head, limits, stats, where)

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
                            f"duplicate external_id {short(eid)} (first on line {seen})",
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
