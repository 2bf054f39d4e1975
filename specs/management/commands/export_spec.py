"""Write a version back to Markdown.

``python manage.py export_spec --workspace SLUG [--as EMAIL] --spec SLUG --label LABEL [-o FILE]``
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import Http404

from clausebook import cli
from specs import access, selectors


class Command(BaseCommand):
    help = (
        "Write a spec version back to Markdown in its dialect (to a file, or stdout). "
        "Importing the output yields the same clauses, keys, authority, tags and examples."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_workspace_arguments(parser)
        parser.add_argument("--spec", required=True, help="Spec slug.")
        parser.add_argument("--label", required=True, help="Version label.")
        parser.add_argument("-o", "--output", default="", help="File to write (default: stdout).")
        parser.add_argument(
            "--json", action="store_true", help="Print a JSON summary (needs --output)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["json"] and not options["output"]:
            raise CommandError("--json: also give --output FILE (stdout carries the summary)")
        # Any member may read a version; --as, when given, must name one.
        workspace = cli.resolve(options).workspace
        try:
            spec = access.spec_for(workspace, options["spec"])
        except Http404 as error:
            raise CommandError(
                f"--spec: no spec {options['spec']!r} in workspace {workspace.slug!r}"
            ) from error
        try:
            version = access.version_for(workspace, spec.slug, options["label"])
        except Http404 as error:
            raise CommandError(
                f"--label: no version {options['label']!r} of spec {spec.slug!r}"
            ) from error
        markdown = selectors.version_export(version)
        if not options["output"]:
            self.stdout.write(markdown, ending="")
            return
        path = Path(options["output"])
        try:
            path.write_text(markdown, encoding="utf-8")
        except OSError as error:
            raise CommandError(f"{path}: {error.strerror}") from error
        summary = {
            "file": str(path),
            "spec": version.spec.slug,
            "label": version.label,
            "bytes": len(markdown.encode("utf-8")),
            "clauses": version.clause_count,
            "examples": version.example_count,
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            self.stdout.write(
                f"Wrote {path}: {version.spec.slug} {version.label}, {version.clause_count} "
                f"clauses, {version.example_count} examples, {summary['bytes']:,} bytes"
            )
