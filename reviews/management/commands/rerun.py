"""``python manage.py rerun --workspace SLUG --as EMAIL (--scenario ID … | --flagged |
--from-import ID | --from-spec-version ID) --endpoint NAME|ID … [--samples N] [--temperature T]
[--campaign ID] [--queue] [--progress]``: re-run scenarios on model endpoints.

Scenarios are chosen by id, as every flagged one, as every prompt of an imported set (MT-Bench,
SimpleSafetyTests, …), or as every prompt a spec version cites (its eval prompts and its
examples' prompts, made scenarios once by ``transcripts.services.spec_scenarios``); the choices
add up.

The job is created by the same service as the job page and the API (``rerun_job_create``: the
``--as`` member needs the ``reruns.run`` right, and is recorded as its creator). By default it
runs here, in the foreground, with a progress bar; ``--queue`` leaves it to the worker and
prints its id. The job is queued for the worker in both cases: if this process stops, a worker
takes the job over once this process's lease on it lapses, and no call with a stored answer is
made again."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q
from tqdm import tqdm

from clausebook import cli
from clausebook.models import Membership
from reviews.models import JobStatus, ModelEndpoint, RerunJob
from reviews.selectors.reruns import rerun_job_progress
from reviews.services.reruns import MAX_SAMPLES, rerun_job_create, rerun_job_run
from specs.models import SpecVersion
from transcripts.models import Scenario, ScenarioFlag, TranscriptImport
from transcripts.services.spec_scenarios import scenarios_from_spec_version

#: The service's field → the option a user typed.
OPTION_OF_FIELD = {
    "scenario_ids": "--scenario",
    "endpoint_ids": "--endpoint",
    "samples": "--samples",
    "parameters": "--temperature",
    "campaign_id": "--campaign",
}
#: How often to look at a job that a worker took before this process could (seconds).
FOLLOW_SECONDS = 1.0


def endpoint_ids_for(workspace: Any, values: list[str]) -> list[int]:
    """Each ``--endpoint`` value is an endpoint's name, or its id; CommandError names the
    first one that is neither in the workspace."""
    ids: list[int] = []
    for value in values:
        lookup = Q(name=value)
        if value.isdigit():
            lookup |= Q(pk=int(value))
        found = list(
            ModelEndpoint.objects.filter(lookup, workspace=workspace).values_list("pk", flat=True)
        )
        if not found:
            raise CommandError(
                f"--endpoint: no endpoint named or numbered {value!r} in {workspace.slug!r}"
            )
        if len(found) > 1:
            raise CommandError(
                f"--endpoint: {value!r} is one endpoint's name and another's id; use the id"
            )
        ids.append(found[0])
    return ids


def scenario_ids_for(
    workspace: Any,
    *,
    ids: list[int],
    flagged: bool,
    import_id: int | None = None,
    spec_version_id: int | None = None,
    actor: Any = None,
) -> list[int]:
    chosen = list(ids)
    if flagged:
        # From the flags' side: "flags__resolved_at__isnull" on scenarios would also match
        # every scenario that was never flagged (the outer join's empty row).
        found = list(
            ScenarioFlag.objects.filter(
                scenario__workspace=workspace, resolved_at__isnull=True
            ).values_list("scenario_id", flat=True)
        )
        if not found and not chosen:
            raise CommandError(f"--flagged: no scenario is flagged in {workspace.slug!r}")
        chosen += found
    if import_id is not None:
        if not TranscriptImport.objects.filter(workspace=workspace, pk=import_id).exists():
            raise CommandError(f"--from-import: no import {import_id} in {workspace.slug!r}")
        found = list(
            Scenario.objects.filter(workspace=workspace, import_run_id=import_id).values_list(
                "pk", flat=True
            )
        )
        if not found:
            raise CommandError(f"--from-import: import {import_id} made no scenarios")
        chosen += found
    if spec_version_id is not None:
        version = (
            SpecVersion.objects.filter(spec__workspace=workspace, pk=spec_version_id)
            .select_related("spec")
            .first()
        )
        if version is None:
            raise CommandError(
                f"--from-spec-version: no spec version {spec_version_id} in {workspace.slug!r}"
            )
        membership = Membership.objects.get(workspace=workspace, user=actor)
        made = scenarios_from_spec_version(membership=membership, version=version)
        if not made.scenario_ids:
            raise CommandError(f"--from-spec-version: {version.label} cites no prompts")
        chosen += made.scenario_ids
    if not chosen:
        raise CommandError(
            "--scenario: choose scenarios by id, or --flagged, --from-import or --from-spec-version"
        )
    return list(dict.fromkeys(sorted(chosen)))


def command_error(error: ValidationError) -> CommandError:
    """The service's field errors, worded by the option the user typed."""
    if not hasattr(error, "error_dict"):
        return CommandError("; ".join(error.messages))
    parts = []
    for field_name, messages in error.message_dict.items():
        option = OPTION_OF_FIELD.get(field_name, field_name)
        parts.append(f"{option}: {' '.join(messages)}")
    return CommandError("; ".join(parts))


class Command(BaseCommand):
    help = (
        "Re-run scenarios (by id, or every flagged one) on model endpoints, in the foreground "
        "with a progress bar, or --queue to leave the job to the worker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_workspace_arguments(parser, actor_required=True)
        parser.add_argument(
            "--scenario",
            dest="scenarios",
            type=int,
            nargs="+",
            default=[],
            metavar="ID",
            help="Scenario ids.",
        )
        parser.add_argument(
            "--flagged", action="store_true", help="Every scenario with an open flag."
        )
        parser.add_argument(
            "--from-import",
            dest="import_id",
            type=int,
            default=None,
            metavar="ID",
            help="Every prompt of this import (e.g. MT-Bench, SimpleSafetyTests).",
        )
        parser.add_argument(
            "--from-spec-version",
            dest="spec_version_id",
            type=int,
            default=None,
            metavar="ID",
            help="Every eval prompt and example prompt this spec version cites.",
        )
        parser.add_argument(
            "--endpoint",
            dest="endpoints",
            nargs="+",
            required=True,
            metavar="NAME_OR_ID",
            help="Endpoints to call, by name or id.",
        )
        parser.add_argument(
            "--samples",
            type=int,
            default=1,
            help=f"Answers per scenario and endpoint (1 to {MAX_SAMPLES}).",
        )
        parser.add_argument("--temperature", type=float, default=None, help="0 to 2.")
        parser.add_argument(
            "--campaign", type=int, default=None, metavar="ID", help="Add the results to it."
        )
        parser.add_argument(
            "--queue",
            action="store_true",
            help="Create the job and leave it to the worker instead of running it here.",
        )
        parser.add_argument(
            "--progress",
            action="store_true",
            help="Draw the progress bar even when stderr is not a terminal (e.g. in CI logs).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        context = cli.resolve(options)
        if context.actor is None:  # --as is required, so argparse has refused this already
            raise CommandError("--as: name the member who runs the job")
        workspace = context.workspace
        parameters = {}
        if options["temperature"] is not None:
            parameters["temperature"] = options["temperature"]
        try:
            job = rerun_job_create(
                workspace=workspace,
                actor=context.actor,
                scenario_ids=scenario_ids_for(
                    workspace,
                    ids=options["scenarios"],
                    flagged=options["flagged"],
                    import_id=options["import_id"],
                    spec_version_id=options["spec_version_id"],
                    actor=context.actor,
                ),
                endpoint_ids=endpoint_ids_for(workspace, options["endpoints"]),
                samples=options["samples"],
                parameters=parameters,
                campaign_id=options["campaign"],
            )
        except ValidationError as error:
            raise command_error(error) from None
        except PermissionDenied:
            raise CommandError(
                f"--as: {context.actor.email} may not run re-runs in {workspace.slug!r}"
            ) from None
        calls = job.runs.count()
        if options["queue"]:
            self.stdout.write(f"Queued re-run job {job.pk}: {calls} calls, for the worker.")
            return
        finished = self.run_here(job, calls, force_bar=options["progress"])
        self.report(finished)

    def run_here(self, job: RerunJob, calls: int, *, force_bar: bool = False) -> RerunJob:
        # disable=None: no bar when stderr is not a terminal, unless asked for.
        bar = tqdm(
            total=calls,
            unit=" calls",
            desc=f"job {job.pk}",
            file=sys.stderr,
            disable=False if force_bar else None,
        )

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            finished = rerun_job_run(job_id=job.pk, progress=progress)
            if finished is None:
                # A worker claimed it first (the job is queued for one too): follow its progress.
                finished = self.follow(job, progress)
        except KeyboardInterrupt:
            raise CommandError(
                f"Interrupted: re-run job {job.pk} continues on a worker once this process's "
                "lease lapses; cancel it on the job page to stop it."
            ) from None
        finally:
            bar.close()
        return finished

    def follow(self, job: RerunJob, progress: Any) -> RerunJob:
        while True:
            state = rerun_job_progress(job=job)
            progress(state.done, state.total)
            if not state.is_active:
                return state.job
            time.sleep(FOLLOW_SECONDS)
            job.refresh_from_db()

    def report(self, job: RerunJob) -> None:
        state = rerun_job_progress(job=job)
        for endpoint in state.endpoints:
            counts = ", ".join(f"{n} {status}" for status, n in sorted(endpoint.counts.items()))
            self.stdout.write(f"  {endpoint.name}: {counts}")
            for message, n in endpoint.errors:
                self.stdout.write(f"    {n} × {message}")
        self.stdout.write(
            f"Re-run job {job.pk} {job.status}: {state.succeeded} of {state.total} calls answered, "
            f"{state.prompt_tokens} prompt and {state.completion_tokens} completion tokens."
        )
        if job.status == JobStatus.FAILED:
            raise CommandError(f"Re-run job {job.pk} failed: {job.error}")
