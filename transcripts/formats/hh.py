"""``hh_jsonl``: Anthropic HH-RLHF preference pairs, ``{"chosen": text, "rejected": text}``.

Each side is a ``"\\n\\nHuman: … \\n\\nAssistant: …"`` dialogue; a row becomes two records that
share a ``pair_key`` (variants ``chosen`` and ``rejected``). One bad side rejects the row.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any

from transcripts.formats.jsonl import iter_jsonl
from transcripts.formats.limits import ImportLimits
from transcripts.formats.messages import make_record, short, type_name
from transcripts.formats.records import ImportStats, Record, RowError
from transcripts.formats.streams import Source, iter_lines

NAME = "hh_jsonl"
LABEL = "Anthropic HH (chosen / rejected pairs)"

# "\n\nHuman: " / "\n\nAssistant: " (also at the very start, and a bare "Assistant:" at the end).
_HH_TURN = re.compile(r"(?:^|\n\n)(Human|Assistant):(?: |\Z)")
_HH_ROLES = {"Human": "user", "Assistant": "assistant"}


def _hh_messages(text: object, fieldname: str, line: int) -> list[dict[str, str]] | RowError:
    if not isinstance(text, str):
        return RowError(line, fieldname, f"must be a string, got {type_name(text)}")
    parts = _HH_TURN.split(text)
    if len(parts) < 3:
        return RowError(line, fieldname, "no '\\n\\nHuman: ' / '\\n\\nAssistant: ' turns")
    if parts[0].strip():
        return RowError(line, fieldname, f"text before the first turn: {short(parts[0], 40)}")
    # Turn text is kept verbatim (no stripping) so hashes match the source exactly.
    return [{"role": _HH_ROLES[parts[k]], "content": parts[k + 1]} for k in range(1, len(parts), 2)]


def make_converter(limits: ImportLimits) -> Any:
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
            rec = make_record(n, msgs, limits, pair_key=pair_key, variant=variant)
            if type(rec) is RowError:
                # A pair is the unit: one bad side rejects the whole row.
                return RowError(n, f"{variant}.{rec.field}", rec.message)
            out.append(rec)
        return out

    return convert


def read(
    source: Source, head: bytes, limits: ImportLimits, stats: ImportStats, where: str
) -> Iterator[Record | RowError]:
    return iter_jsonl(iter_lines(source, head), make_converter(limits), limits, stats, where)
