"""Every size limit of a transcript import, in one place.

Two kinds: :class:`ImportLimits` caps what one file may cost to read (memory, time), and the
field limits below cap what one stored value may hold. The field limits are the model's column
sizes (``transcripts.models`` takes its ``max_length`` from here), so the readers, the COPY
encoder, the forms, the API and the filters all refuse or cut at the same length.
"""

from __future__ import annotations

from dataclasses import dataclass

#: One tag, on a transcript or an import.
MAX_TAG = 60
#: Tags given with one import (the API's list length).
MAX_IMPORT_TAGS = 50
#: What an import prepends to every external id and pair key.
MAX_ID_PREFIX = 60
#: Where the transcripts came from ("eval run 12").
MAX_SOURCE = 120
MAX_EXTERNAL_ID = 200
MAX_MODEL = 120
MAX_PAIR_KEY = 120
MAX_VARIANT = 20
#: The uploaded file's name as shown (the stored file is named by a UUID).
MAX_FILENAME = 255
MAX_IDEMPOTENCY_KEY = 128
#: Characters of the first user message kept as an imported scenario's title.
SCENARIO_TITLE_CHARS = 200


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """Caps that keep one import bounded in memory and time.

    ``max_bytes`` counts decompressed bytes (so gzip bombs stop early); ``max_line_bytes`` caps one
    physical line, and for CSV also one (multi-line) row; ``max_depth`` caps JSON nesting (the row
    object is level 1); ``max_messages`` caps one record; ``max_rows`` caps data rows per file.
    ``max_document_bytes`` caps whole-document formats (``jailbreakbench_json``), which cannot be
    streamed line by line.
    """

    max_bytes: int = 2 * 1024**3
    max_line_bytes: int = 8 * 1024**2
    max_depth: int = 32
    max_messages: int = 2000
    max_rows: int = 5_000_000
    max_document_bytes: int = 64 * 1024**2


DEFAULT_LIMITS = ImportLimits()
