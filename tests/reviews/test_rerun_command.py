"""``manage.py rerun`` against the Clausebook local model server (development tool): it creates
the job through the service, runs it here or leaves it to the worker, and words every refusal
by the option at fault."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from devtools.local_model_server import LocalModelServer
from reviews.models import JobStatus, ModelEndpoint, RerunJob
from transcripts.models import Scenario, ScenarioFlag, Transcript, TranscriptOrigin


@pytest.fixture(scope="module")
def model_server() -> Iterator[LocalModelServer]:
    with LocalModelServer() as server:
        yield server


@pytest.fixture
def server(model_server: LocalModelServer) -> Iterator[LocalModelServer]:
    model_server.reset()
    with override_settings(ALLOW_PRIVATE_HOSTS=[model_server.host_port]):
        yield model_server


def scenario(workspace, text: str) -> Scenario:  # type: ignore[no-untyped-def]
    return Scenario.objects.create(
        workspace=workspace,
        source=Scenario.Source.IMPORT,
        title=text[:40],
        messages=[{"role": "user", "content": text}],
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
    )


def endpoint(workspace, server: LocalModelServer, name: str = "local") -> ModelEndpoint:  # type: ignore[no-untyped-def]
    return ModelEndpoint.objects.create(
        workspace=workspace, name=name, base_url=server.base_url, model=name, timeout_seconds=5
    )


def rerun(personas, *args: str, actor=None) -> str:  # type: ignore[no-untyped-def]
    out = StringIO()
    call_command(
        "rerun",
        "--workspace",
        personas.workspace.slug,
        "--as",
        (actor or personas.adjudicator).email,
        *args,
        stdout=out,
        stderr=StringIO(),
    )
    return out.getvalue()


def test_it_reruns_the_flagged_scenarios_here_and_stores_each_answer(personas, server):
    flagged = scenario(personas.workspace, "Is it safe to mix bleach and ammonia?")
    ScenarioFlag.objects.create(
        scenario=flagged, flagged_by=personas.reviewer, reason="Answer was unsafe"
    )
    scenario(personas.workspace, "Not flagged?")
    endpoint(personas.workspace, server, "first")
    second = endpoint(personas.workspace, server, "second")

    output = rerun(
        personas, "--flagged", "--endpoint", "first", str(second.pk), "--samples", "2",
        "--temperature", "0.5",
    )  # fmt: skip

    job = RerunJob.objects.get(workspace=personas.workspace)
    assert job.status == JobStatus.SUCCEEDED
    assert job.created_by == personas.adjudicator
    assert job.parameters == {"temperature": 0.5}
    assert server.chat_requests == 4
    reruns = Transcript.objects.filter(origin=TranscriptOrigin.RERUN)
    assert set(reruns.values_list("origin_scenario_id", flat=True)) == {flagged.pk}
    assert reruns.count() == 4
    assert f"Re-run job {job.pk} succeeded: 4 of 4 calls answered" in output


def test_queue_leaves_the_job_to_the_worker_without_calling_anything(personas, server):
    chosen = scenario(personas.workspace, "Queued?")
    endpoint(personas.workspace, server)

    output = rerun(personas, "--scenario", str(chosen.pk), "--endpoint", "local", "--queue")

    job = RerunJob.objects.get(workspace=personas.workspace)
    assert job.status == JobStatus.QUEUED
    assert f"Queued re-run job {job.pk}" in output
    assert server.chat_requests == 0


def test_an_unknown_endpoint_is_named_in_the_error(personas, server):
    chosen = scenario(personas.workspace, "Which endpoint?")
    with pytest.raises(CommandError, match="--endpoint: no endpoint named or numbered 'gpt-9'"):
        rerun(personas, "--scenario", str(chosen.pk), "--endpoint", "gpt-9")
    assert not RerunJob.objects.exists()


def test_another_workspaces_scenario_is_refused_by_option(personas, server):
    theirs = scenario(personas.other_workspace, "Not yours?")
    endpoint(personas.workspace, server)
    with pytest.raises(CommandError, match="--scenario: No such scenario in this workspace"):
        rerun(personas, "--scenario", str(theirs.pk), "--endpoint", "local")


def test_a_temperature_out_of_range_is_refused_by_option(personas, server):
    chosen = scenario(personas.workspace, "Too hot?")
    endpoint(personas.workspace, server)
    with pytest.raises(CommandError, match="--temperature: temperature must be a number"):
        rerun(personas, "--scenario", str(chosen.pk), "--endpoint", "local", "--temperature", "9")


def test_it_needs_scenarios_to_run(personas, server):
    endpoint(personas.workspace, server)
    with pytest.raises(CommandError, match="--flagged: no scenario is flagged"):
        rerun(personas, "--flagged", "--endpoint", "local")
    with pytest.raises(CommandError, match="--scenario: choose scenarios"):
        rerun(personas, "--endpoint", "local")


def test_a_reviewer_may_not_start_a_rerun(personas, server):
    chosen = scenario(personas.workspace, "Allowed?")
    endpoint(personas.workspace, server)
    with pytest.raises(CommandError, match="may not run re-runs"):
        rerun(
            personas, "--scenario", str(chosen.pk), "--endpoint", "local", actor=personas.reviewer
        )
    assert server.chat_requests == 0


def test_the_progress_bar_is_drawn_when_asked_for_outside_a_terminal(personas, server, capsys):
    chosen = [scenario(personas.workspace, f"Bar {n}?") for n in range(3)]
    endpoint(personas.workspace, server)
    args = ["--endpoint", "local", "--progress", "--scenario", *(str(s.pk) for s in chosen)]
    rerun(personas, *args)
    job = RerunJob.objects.get(workspace=personas.workspace)
    bar = capsys.readouterr().err
    assert f"job {job.pk}: 100%" in bar and "3/3" in bar


def test_it_reruns_every_prompt_of_an_import(personas, server, settings, tmp_path):
    from tests.transcripts.test_scenarios import MT_BENCH, run_import

    settings.UPLOAD_DIR = tmp_path / "uploads"
    mt_bench = run_import(personas.workspace, MT_BENCH.read_bytes(), "question.jsonl")
    endpoint(personas.workspace, server)
    output = rerun(personas, "--from-import", str(mt_bench.pk), "--endpoint", "local", "--queue")
    job = RerunJob.objects.get(workspace=personas.workspace)
    assert f"Queued re-run job {job.pk}: 80 calls" in output
    with pytest.raises(CommandError, match="--from-import: no import 999999"):
        rerun(personas, "--from-import", "999999", "--endpoint", "local")


def test_it_reruns_every_prompt_a_spec_version_cites(personas, server):
    from tests.reviews.factories import make_published_version

    version = make_published_version(personas.workspace, clause_count=2)
    endpoint(personas.workspace, server)
    output = rerun(
        personas, "--from-spec-version", str(version.pk), "--endpoint", "local", "--queue"
    )
    # The factory's examples all share one prompt: one scenario for both clauses.
    assert "Queued re-run job" in output and ": 1 calls" in output
    assert Scenario.objects.get().source == Scenario.Source.EXAMPLE
    theirs = make_published_version(personas.other_workspace, clause_count=1)
    with pytest.raises(CommandError, match=f"--from-spec-version: no spec version {theirs.pk}"):
        rerun(personas, "--from-spec-version", str(theirs.pk), "--endpoint", "local")
