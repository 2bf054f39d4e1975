"""Byte streams: gzip by magic bytes, a byte budget, and lines in bounded memory."""

from __future__ import annotations

import codecs
import gzip
import io
import zlib
from collections.abc import Iterator
from typing import IO, Any

from transcripts.formats.limits import ImportLimits
from transcripts.formats.records import FormatError, ImportStats

#: How much of the (decompressed) stream :func:`~transcripts.formats.detection.detect_format`
#: looks at.
HEAD_BYTES = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"
# Large reads let bytes.split do the line splitting in C; 1 MiB keeps the per-chunk memory small.
CHUNK = 1024 * 1024
BOM = codecs.BOM_UTF8


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


class Source:
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

    def read_chunk(self) -> bytes:
        """The next chunk of up to :data:`CHUNK` bytes (``b""`` at the end)."""
        return self.read(CHUNK)

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


class Overlong:
    """Marker yielded by :func:`iter_lines` in place of a line longer than ``max_line_bytes``."""


OVERLONG = Overlong()


def iter_lines(source: Source, head: bytes) -> Iterator[bytes | Overlong]:
    """Yield physical lines (without ``\\n``), one item per line, in bounded memory.

    A line over ``max_line_bytes`` is never held beyond the cap plus one chunk: the rest of it is read
    and dropped, and :data:`OVERLONG` is yielded instead so line numbers stay right.
    """
    cap = source.limits.max_line_bytes
    pending = b""
    skipping = False
    chunk = head if head else source.read_chunk()
    while chunk:
        parts = chunk.split(b"\n")
        tail = parts.pop()
        if parts:
            if skipping:
                # This newline ends the overlong line whose head was already dropped.
                skipping = False
                yield OVERLONG
                del parts[0]
            elif pending:
                parts[0] = pending + parts[0]
            for part in parts:
                yield OVERLONG if len(part) > cap else part
            pending = tail
        elif not skipping:
            pending += tail
        if not skipping and len(pending) > cap:
            pending = b""
            skipping = True
        chunk = source.read_chunk()
    if skipping:
        yield OVERLONG
    elif pending:
        yield pending
