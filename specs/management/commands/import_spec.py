"""``python manage.py import_spec FILE... --workspace SLUG --spec SLUG [--as EMAIL]``: import spec
versions."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import Http404
from tqdm import tqdm

from clausebook import cli, permissions
from clausebook.models import User
from specs import access, services
from specs.models import Spec
from specs.spec_markdown import SpecSyntaxError


class Command(BaseCommand):
    help = (
        "Import one or more spec versions from Markdown (Model Spec dialect or plain). Each file "
        "is all-or-nothing; the label defaults to the file name without .md. Eval prompt "
        "folders (--examples) attach eval prompts to the clauses citing their footnotes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", help="Markdown files, oldest first.")
        cli.add_workspace_arguments(parser)
        parser.add_argument("--spec", required=True, help="Spec slug (created if missing).")
        parser.add_argument("--title", default="", help="Title for a new spec.")
        parser.add_argument("--label", default="", help="Version label (one file only).")
        parser.add_argument(
            "--examples",
            action="append",
            default=[],
            help="Folder of eval prompt files <footnote>.md (repeatable; first wins).",
        )
        parser.add_argument("--publish", action="store_true", help="Publish after importing.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        files = [Path(name) for name in options["files"]]
        for path in files:
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
        if options["label"] and len(files) > 1:
            raise CommandError("--label: only with a single file")
        for folder in options["examples"]:
            if not Path(folder).is_dir():
                raise CommandError(f"--examples: {folder}: no such folder")
        context = cli.resolve(options, role=permissions.role_for("specs.import"))
        workspace, actor = context.workspace, context.actor
        try:
            spec = access.spec_for(workspace, options["spec"])
        except Http404:
            try:
                spec = services.spec_create(
                    workspace=workspace,
                    slug=options["spec"],
                    title=options["title"] or options["spec"],
                    actor=actor,
                )
            except ValidationError as error:
                raise CommandError(f"--spec: {'; '.join(error.messages)}") from error
        prompts = (
            services.eval_examples_from_folders(*options["examples"])
            if options["examples"]
            else None
        )
        quiet = options["json"] or options["verbosity"] == 0
        results = []
        for path in tqdm(
            files, desc="Importing", unit="file", disable=quiet or None, file=sys.stderr
        ):
            results.append(self.import_one(spec, path, options, prompts, actor))
        if options["json"]:
            self.stdout.write(json.dumps({"spec": spec.slug, "versions": results}))

    def import_one(
        self,
        spec: Spec,
        path: Path,
        options: dict[str, Any],
        prompts: dict[str, str] | None,
        actor: User | None,
    ) -> dict[str, Any]:
        label = options["label"] or path.stem
        started = time.monotonic()
        try:
            version = services.spec_version_import(
                spec=spec,
                label=label,
                markdown=path.read_text(encoding="utf-8"),
                filename=path.name,
                actor=actor,
                eval_examples=prompts,
            )
            if options["publish"]:
                version = services.spec_version_publish(version=version, actor=actor)
        except SpecSyntaxError as error:
            if options["json"]:
                self.stdout.write(
                    json.dumps(
                        {"ok": False, "file": str(path), "line": error.line, "error": error.message}
                    )
                )
            raise CommandError(
                f"{path}:{error.line}: {error.message} (nothing imported)"
            ) from error
        except UnicodeDecodeError as error:
            raise CommandError(f"{path}: not UTF-8 text (byte {error.start})") from error
        except OSError as error:
            raise CommandError(f"{path}: {error.strerror}") from error
        except ValidationError as error:
            raise CommandError(f"{path}: {'; '.join(error.messages)}") from error
        summary = {
            "ok": True,
            "file": str(path),
            "label": version.label,
            "status": version.status,
            "clauses": version.clause_count,
            "examples": version.example_count,
            "eval_prompts": version.eval_prompt_count,
            "warnings": version.warnings,
            "seconds": round(time.monotonic() - started, 3),
        }
        if not options["json"]:
            self.stdout.write(
                f"Imported {path} as {spec.slug} {version.label} ({version.status}): "
                f"{version.clause_count} clauses, {version.example_count} examples, "
                f"{version.eval_prompt_count} eval prompts, {len(version.warnings)} warnings "
                f"in {summary['seconds']:.2f} s"
            )
            for warning in version.warnings:
                self.stderr.write(f"  warning: {path.name} {warning}")
        return summary
