"""``python manage.py import_labels FILE --workspace SLUG --campaign ID [--as EMAIL]``: migrate
existing labels into a campaign.

Rows (CSV with a header, or JSONL objects) carry: ``external_id`` (transcript), ``clause_key``,
``reviewer`` (the email of a workspace member: the import adds no members), ``verdict``, ``rationale`` and optionally ``severity``. All-or-nothing unless
``--valid-rows``. Prints a summary (created, duplicates, rejected) or, with ``--json``, one JSON
object; rejected rows are listed on stderr by file, line and field. Fails with a CommandError
(exit status 1) when nothing was imported or an option is wrong.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from clausebook import cli, jsonbody, permissions
from reviews.models import Campaign
from reviews.services.labels.imports import (
    LabelImportRejected,
    LabelImportSummary,
    LabelRow,
    labels_import,
)

ALIASES = {
    "external_id": ("external_id", "transcript", "transcript_external_id", "transcript_id"),
    "clause_key": ("clause_key", "clause"),
    "reviewer": ("reviewer", "reviewer_email", "email"),
    "verdict": ("verdict", "label"),
    "rationale": ("rationale", "reason", "comment"),
    "severity": ("severity",),
}
REQUIRED = ("external_id", "clause_key", "reviewer", "verdict")


def _pick(row: dict[str, Any], name: str) -> str:
    for alias in ALIASES[name]:
        if alias in row and row[alias] is not None:
            return str(row[alias]).strip() if name != "rationale" else str(row[alias])
    return ""


def read_rows(path: Path) -> tuple[list[LabelRow], list[dict[str, Any]]]:
    """Parse CSV or JSONL into rows and row errors (line, field, message)."""
    text = path.read_text(encoding="utf-8-sig")
    rows: list[LabelRow] = []
    errors: list[dict[str, Any]] = []
    records: list[tuple[int, dict[str, Any]]] = []
    if path.suffix.lower() in {".jsonl", ".ndjson", ".json"}:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = jsonbody.parse(line)
            except jsonbody.MalformedJSON as error:
                errors.append(
                    {"line": number, "field": "", "message": f"invalid JSON: {error.problem}"}
                )
                continue
            if not isinstance(value, dict):
                errors.append({"line": number, "field": "", "message": "must be a JSON object"})
                continue
            records.append((number, value))
    else:
        reader = csv.DictReader(io.StringIO(text))
        for record in reader:
            records.append(
                (reader.line_num, {k.strip().lower(): v for k, v in record.items() if k})
            )
    for number, record in records:
        missing = [name for name in REQUIRED if not _pick(record, name)]
        if missing:
            errors.append({"line": number, "field": missing[0], "message": "missing"})
            continue
        rows.append(
            LabelRow(
                line=number,
                external_id=_pick(record, "external_id"),
                clause_key=_pick(record, "clause_key"),
                reviewer_email=_pick(record, "reviewer"),
                verdict=_pick(record, "verdict"),
                rationale=_pick(record, "rationale"),
                severity=_pick(record, "severity"),
            )
        )
    return rows, errors


class Command(BaseCommand):
    help = "Import existing labels (CSV or JSONL) into a campaign."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        cli.add_workspace_arguments(parser)
        parser.add_argument(
            "--campaign", type=int, required=True, help="Campaign id (in the workspace)."
        )
        parser.add_argument(
            "--valid-rows", action="store_true", help="Import valid rows, report the rest."
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON summary.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        context = cli.resolve(options, role=permissions.role_for("labels.import"))
        campaign = Campaign.objects.filter(
            workspace=context.workspace, pk=options["campaign"]
        ).first()
        if campaign is None:
            raise CommandError(
                f"--campaign: no campaign {options['campaign']} in workspace "
                f"{context.workspace.slug!r}"
            )
        campaign.workspace = context.workspace
        actor = context.actor
        rows, parse_errors = read_rows(path)
        rows = list(
            tqdm(rows, desc="rows", unit="row", disable=options["json"] or len(rows) < 1000)
        )
        rejected_early = bool(parse_errors) and not options["valid_rows"]
        try:
            if rejected_early:
                raise LabelImportRejected(_summary_with(parse_errors))
            summary = labels_import(
                campaign=campaign, rows=rows, actor=actor, valid_rows=options["valid_rows"]
            )
            summary.rejected = parse_errors + summary.rejected
        except LabelImportRejected as rejected:
            summary = rejected.summary
            if summary.rejected is not parse_errors:
                summary.rejected = parse_errors + [
                    e for e in summary.rejected if e not in parse_errors
                ]
        summary.rejected.sort(key=lambda e: e["line"])
        result = summary.as_dict() | {"file": str(path), "campaign": campaign.pk}
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            state = "imported" if summary.applied else "NOT imported (all or nothing)"
            self.stdout.write(
                f"{path}: {state}: {summary.created} created, {summary.duplicates} duplicates, "
                f"{len(summary.rejected)} rejected; {summary.items_created} items created"
            )
            for error in summary.rejected[:50]:
                where = f"{path}:{error['line']}" + (f" {error['field']}" if error["field"] else "")
                self.stderr.write(f"{where}: {error['message']}")
        if not summary.applied:
            raise CommandError(
                f"{path}: {len(summary.rejected)} row(s) rejected; nothing was imported"
            )


def _summary_with(errors: list[dict[str, Any]]) -> LabelImportSummary:
    return LabelImportSummary(rejected=list(errors))
