"""CSV: one gold row per line, nested values as JSON text, formula injection neutralised.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some
programs, a tab or carriage return followed by one) as a formula: ``=HYPERLINK(...)`` in a
transcript would become a live link in whoever opens the export. Such cells are written with a
leading apostrophe, which spreadsheets show as text and drop. Only the CSV is changed this way:
the JSONL keeps the original text.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from typing import IO, Any

import orjson

#: Columns, in order. Nested values (messages, labels, reviewers) are JSON text in one cell.
COLUMNS = (
    "decision_id",
    "clause",
    "spec",
    "spec_version",
    "verdict",
    "severity",
    "rationale",
    "decided_how",
    "decided_by",
    "agreeing_reviewers",
    "rule",
    "label_count",
    "top_verdict",
    "top_share",
    "gold_share",
    "labels",
    "messages",
    "campaign_id",
    "campaign_title",
    "item_id",
    "transcript_id",
    "transcript_external_id",
    "decided_at",
    "exported_at",
    "clausebook_version",
)

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """``value`` as a cell no spreadsheet evaluates: prefixed with ``'`` when it starts like a
    formula."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def flatten(row: dict[str, Any]) -> list[Any]:
    """A gold row as the CSV's cells, in :data:`COLUMNS` order (not yet neutralised)."""
    agreement, provenance = row["agreement"], row["provenance"]
    return [
        provenance["decision_id"],
        row["clause"],
        row["spec"],
        row["spec_version"],
        row["verdict"],
        row["severity"],
        row["rationale"],
        row["decided_how"],
        row["decided_by"],
        _json(row["agreeing_reviewers"]),
        row["rule"],
        agreement["labels"],
        agreement["top_verdict"],
        "" if agreement["top_share"] is None else agreement["top_share"],
        "" if agreement["gold_share"] is None else agreement["gold_share"],
        _json(row["labels"]),
        _json(row["messages"]),
        provenance["campaign_id"],
        provenance["campaign_title"],
        provenance["item_id"],
        provenance["transcript_id"],
        provenance["transcript_external_id"],
        provenance["decided_at"],
        provenance["exported_at"],
        provenance["clausebook_version"],
    ]


def write_csv(
    rows: Iterable[dict[str, Any]],
    out: IO[str],
    *,
    on_row: Callable[[int], None] | None = None,
) -> int:
    """Write a header and one line per row to ``out`` (opened with ``newline=""``), pulling rows
    one at a time; return the count."""
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    count = 0
    for row in rows:
        writer.writerow(
            [neutralise(cell) if isinstance(cell, str) else cell for cell in flatten(row)]
        )
        count += 1
        if on_row is not None:
            on_row(count)
    return count
