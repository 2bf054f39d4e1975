"""``python manage.py import_transcripts FILE --workspace SLUG [--as EMAIL]``: bulk import, in this
process. ``--workspace`` and ``--as`` are the options every workspace command shares
(:mod:`clausebook.cli`); every failure is a ``CommandError`` (non-zero exit)."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from clausebook import cli
from transcripts.access import IMPORT_ROLE
from transcripts.formats import FORMATS
from transcripts.models import TranscriptImport
from transcripts.services import transcript_import_path

SHOWN_ERRORS = 20


class Command(BaseCommand):
    help = (
        "Import transcripts from a JSONL / HH / CSV / JailbreakBench / MT-Bench file (gzip "
        "accepted) into a workspace. Runs in this process and exits non-zero on failure. By "
        "default the import is all-or-nothing; --valid-rows imports the valid rows and reports "
        "the rest."
    )
    # System checks import the whole URL conf (~0.5 s); an import needs only the models.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Path to the file to import.")
        cli.add_workspace_arguments(parser)
        parser.add_argument("--format", choices=FORMATS, help="Skip detection: the file's format.")
        parser.add_argument("--source", default="", help="Where the transcripts came from.")
        parser.add_argument(
            "--tag", action="append", default=[], help="Tag every transcript (repeatable)."
        )
        parser.add_argument("--id-prefix", default="", help="Prefix for every external id.")
        parser.add_argument(
            "--valid-rows",
            action="store_true",
            help="Import the valid rows and report the rejected ones (default: all-or-nothing).",
        )
        parser.add_argument(
            "--idempotency-key", default="", help="Skip the import if this key was used before."
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["file"]
        if not os.path.isfile(path):
            raise CommandError(f"{path}: no such file")
        # --as names a member who may import (an editor or above); without it the system acts.
        context = cli.resolve(options, role=IMPORT_ROLE)
        quiet = options["json"] or options["verbosity"] == 0
        bar = tqdm(
            total=os.path.getsize(path),
            unit="B",
            unit_scale=True,
            desc=os.path.basename(path),
            disable=quiet or None,  # None: only on a terminal
            file=sys.stderr,
        )

        def progress(run: TranscriptImport) -> None:
            bar.update(run.bytes_read - bar.n)
            bar.set_postfix(created=run.created_count, dup=run.duplicate_count, refresh=False)

        started = time.monotonic()
        try:
            run, ran = transcript_import_path(
                workspace=context.workspace,
                actor=context.actor,
                path=path,
                format=options["format"] or "",
                source=options["source"],
                tags=options["tag"],
                id_prefix=options["id_prefix"],
                mode=(
                    TranscriptImport.Mode.VALID_ROWS
                    if options["valid_rows"]
                    else TranscriptImport.Mode.ALL_OR_NOTHING
                ),
                idempotency_key=options["idempotency_key"],
                progress=progress,
            )
        except ValidationError as error:
            raise CommandError(f"{path}: {'; '.join(error.messages)}") from error
        finally:
            bar.close()
        seconds = time.monotonic() - started
        summary = {
            "import_id": run.pk,
            "status": run.status,
            "already_imported": not ran,
            "format": run.format,
            "created": run.created_count,
            "duplicates": run.duplicate_count,
            "rejected": run.rejected_count,
            "skipped": run.skipped_count,
            "scenarios": run.scenario_count,
            "seconds": round(seconds, 3),
            "error": run.error_message,
            "errors": run.errors[:SHOWN_ERRORS],
        }
        failed = run.status == TranscriptImport.Status.FAILED
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            verb = "Already imported" if not ran else ("Failed" if failed else "Imported")
            self.stdout.write(
                f"{verb}: {path} ({run.format or 'unknown format'}) — {run.created_count} "
                f"created, {run.duplicate_count} duplicates, {run.rejected_count} rejected, "
                f"{run.skipped_count} skipped, {run.scenario_count} scenarios in {seconds:.2f} s"
            )
        for error in run.errors[:SHOWN_ERRORS]:
            field = f" {error['field']}:" if error["field"] else ""
            self.stderr.write(f"{path}:{error['line']}:{field} {error['message']}")
        if run.rejected_count > SHOWN_ERRORS:
            self.stderr.write(f"… and {run.rejected_count - SHOWN_ERRORS} more rejected rows")
        if failed:
            raise CommandError(f"{path}: {run.error_message}")
