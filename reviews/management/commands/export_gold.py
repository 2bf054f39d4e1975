"""``python manage.py export_gold --workspace SLUG [--as EMAIL] --format jsonl|csv|parquet|pairs
--output FILE [filters]``: write the workspace's gold to a file, in this process, with a
progress bar. Filters are those of the gold list (and the API); ``--emails`` (admins only)
names reviewers by email instead of their stable pseudonyms. Each export is an audit event
(``gold.export``, the ``--as`` member or the system as the actor)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from clausebook import cli, permissions
from clausebook.models import Membership
from reviews.models import ExportFormat
from reviews.selectors.gold import GoldFilters, gold_filters_check
from reviews.services.gold_export import (
    EXPORT_PERMISSION,
    check_emails_allowed,
    gold_export_to_file,
)

#: option → the gold list's query parameter
FILTER_OPTIONS = {
    "spec_version": "spec_version",
    "clause": "clause",
    "verdict": "verdict",
    "campaign": "campaign",
    "adjudicator": "adjudicator",
    "decided_from": "from",
    "decided_to": "to",
    "search": "q",
    "how": "how",
}


class Command(BaseCommand):
    help = (
        "Export gold (current adjudicated and agreed decisions) as JSONL, CSV, Parquet or "
        "preference pairs. Streams: memory stays flat however many rows."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_workspace_arguments(parser)
        parser.add_argument("--format", choices=ExportFormat.values, default=ExportFormat.JSONL)
        parser.add_argument("-o", "--output", required=True, help="File to write.")
        parser.add_argument("--spec-version", dest="spec_version", help="Spec version id.")
        parser.add_argument("--clause", help="Clause key.")
        parser.add_argument("--verdict", help="Gold verdict.")
        parser.add_argument("--campaign", help="Campaign id.")
        parser.add_argument("--adjudicator", help="Adjudicator's user id.")
        parser.add_argument("--from", dest="decided_from", help="Decided on or after (YYYY-MM-DD).")
        parser.add_argument("--to", dest="decided_to", help="Decided on or before (YYYY-MM-DD).")
        parser.add_argument("--search", help="Text in the rationale.")
        parser.add_argument("--how", choices=["adjudicated", "agreed"], help="How it was decided.")
        parser.add_argument(
            "--emails",
            action="store_true",
            help="Name reviewers by email (needs --as an admin); default: stable pseudonyms.",
        )
        parser.add_argument("--json", action="store_true", help="Print a JSON summary.")

    def handle(self, *args: Any, **options: Any) -> None:
        context = cli.resolve(options)
        membership = None
        if context.actor is not None:
            membership = Membership.objects.get(workspace=context.workspace, user=context.actor)
            try:
                permissions.require(membership, EXPORT_PERMISSION)
            except PermissionDenied as error:
                raise CommandError(f"--as: {error}") from error
        try:
            check_emails_allowed(membership, options["emails"])
        except PermissionDenied as error:
            raise CommandError(f"--emails: {error} Name an admin with --as.") from error
        params = {
            param: options[option]
            for option, param in FILTER_OPTIONS.items()
            if options.get(option) not in (None, "")
        }
        try:
            filters = GoldFilters.from_params(params)
            gold_filters_check(context.workspace, filters)
        except ValidationError as error:
            flags = {
                "spec_version": "--spec-version",
                "from": "--from",
                "to": "--to",
                "q": "--search",
            }
            raise CommandError(
                "; ".join(
                    f"{flags.get(param, '--' + param)}: {' '.join(messages)}"
                    for param, messages in error.message_dict.items()
                )
            ) from error
        path = Path(options["output"])
        if not path.parent.is_dir():
            raise CommandError(f"--output: {path.parent} is not a folder")
        quiet = options["json"] or options["verbosity"] == 0
        bar = tqdm(unit=" rows", desc=path.name, disable=quiet or None, file=sys.stderr)

        def progress(written: int, total: int) -> None:
            bar.total = total
            bar.update(written - bar.n)

        started = time.monotonic()
        try:
            read, lines = gold_export_to_file(
                workspace=context.workspace,
                actor=context.actor,
                filters=filters,
                format=options["format"],
                path=path,
                emails=options["emails"],
                progress=progress,
            )
        except OSError as error:
            raise CommandError(f"--output: {path}: {error.strerror}") from error
        finally:
            bar.close()
        seconds = time.monotonic() - started
        summary = {
            "file": str(path),
            "format": options["format"],
            "gold_rows": read,
            "lines": lines,
            "bytes": path.stat().st_size,
            "seconds": round(seconds, 3),
            "filters": filters.to_json(),
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            what = (
                f"{lines:,} pairs from {read:,} gold rows"
                if options["format"] == "pairs"
                else f"{read:,} gold rows"
            )
            self.stdout.write(
                f"Wrote {path}: {what}, {summary['bytes']:,} bytes in {seconds:.2f} s"
            )
