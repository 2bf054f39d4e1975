"""Scenarios from the real Model Spec's eval prompts and example prompts (``data/``), and from
imported prompt sets (MT-Bench), chosen on the re-run form alongside flagged scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied

from clausebook.models import AuditEvent, Membership
from reviews.models import ModelEndpoint, ModelRun, RerunJob
from specs import services as spec_services
from specs.models import EvalPrompt, Example
from tests.spec_facts import EVAL_FOLDERS, NEWEST, spec_text
from tests.transcripts.test_scenarios import run_import
from transcripts.models import Scenario, ScenarioFlag
from transcripts.services.spec_scenarios import example_prompt, scenarios_from_spec_version

MT_BENCH = Path(django_settings.BASE_DIR) / "data" / "transcripts" / "mt-bench" / "question.jsonl"


@pytest.fixture
def version(personas):  # type: ignore[no-untyped-def]
    spec = spec_services.spec_create(
        workspace=personas.workspace, slug="model-spec", title="Model Spec", actor=personas.editor
    )
    imported = spec_services.spec_version_import(
        spec=spec,
        label=NEWEST.label,
        markdown=spec_text(NEWEST.label),
        filename=f"{NEWEST.label}.md",
        actor=personas.editor,
        eval_examples=spec_services.eval_examples_from_folders(*EVAL_FOLDERS),
    )
    return spec_services.spec_version_publish(version=imported, actor=personas.editor)


def _membership(personas, user):  # type: ignore[no-untyped-def]
    return Membership.objects.get(workspace=personas.workspace, user=user)


def test_an_example_prompt_is_its_conversation_before_the_graded_answers() -> None:
    turns = [
        {"message": {"role": "system", "content": "Be brief."}},
        {"message": {"role": "user", "content": "Hi?"}},
        {"comparison": [{"content": "Hello.", "grade": "good"}]},
        {"message": {"role": "user", "content": "Later turn"}},
    ]
    assert example_prompt(turns) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi?"},
    ]
    assert example_prompt([{"message": {"role": "user", "content": "No answers"}}]) == []
    assert example_prompt([{"comparison": []}]) == []


@pytest.mark.django_db
def test_every_eval_prompt_and_example_prompt_of_the_real_spec_becomes_one_scenario(
    personas, version
) -> None:
    assert EvalPrompt.objects.filter(clause__version=version).count() == NEWEST.eval_prompts
    result = scenarios_from_spec_version(
        membership=_membership(personas, personas.adjudicator), version=version
    )
    prompts = Scenario.objects.filter(source=Scenario.Source.EVAL_PROMPT)
    examples = Scenario.objects.filter(source=Scenario.Source.EXAMPLE)
    # One scenario per distinct prompt: the spec cites a few prompts twice.
    distinct = set(Scenario.objects.values_list("content_hash", flat=True))
    assert result.created == len(distinct) == prompts.count() + examples.count()
    assert 0.9 * NEWEST.eval_prompts <= prompts.count() <= NEWEST.eval_prompts
    assert 0.9 * NEWEST.with_comparison <= examples.count() <= NEWEST.with_comparison
    assert len(result.scenario_ids) == result.created
    sample = prompts.select_related("eval_prompt__clause").first()
    assert sample.eval_prompt.clause.version_id == version.pk
    assert sample.messages == sample.eval_prompt.messages
    assert sample.messages[-1]["role"] == "user"
    example = examples.select_related("example").first()
    assert example.messages == example_prompt(example.example.turns)
    assert AuditEvent.objects.filter(verb="scenario.from_spec").count() == 1
    # Again: nothing new, the same scenarios.
    again = scenarios_from_spec_version(
        membership=_membership(personas, personas.adjudicator), version=version
    )
    assert (again.created, again.reused) == (0, result.created)
    assert sorted(again.scenario_ids) == sorted(result.scenario_ids)
    assert Example.objects.filter(clause__version=version).count() == NEWEST.examples


@pytest.mark.django_db
def test_a_reviewer_or_another_workspace_may_not(personas, version) -> None:
    with pytest.raises(PermissionDenied):
        scenarios_from_spec_version(
            membership=_membership(personas, personas.reviewer), version=version
        )
    outsider = Membership.objects.get(user=personas.outsider)
    with pytest.raises(PermissionDenied):
        scenarios_from_spec_version(membership=outsider, version=version)
    assert not Scenario.objects.exists()


# --- the re-run form -----------------------------------------------------------------------------


def _endpoint(personas) -> ModelEndpoint:  # type: ignore[no-untyped-def]
    return ModelEndpoint.objects.create(
        workspace=personas.workspace, name="dev", base_url="https://1.1.1.1/v1", model="m"
    )


@pytest.mark.django_db
def test_the_form_lists_only_flagged_scenarios(personas) -> None:
    flagged, plain = (
        Scenario.objects.create(
            workspace=personas.workspace,
            source=Scenario.Source.IMPORT,
            title=title,
            messages=[{"role": "user", "content": title}],
            content_hash=str(n) * 64,
        )
        for n, title in enumerate(["Flagged prompt", "Never flagged prompt"], start=1)
    )
    ScenarioFlag.objects.create(scenario=flagged, flagged_by=personas.reviewer, reason="Why")
    html = (
        personas.client_for(personas.adjudicator)
        .get(f"/w/{personas.workspace.slug}/reruns/new/")
        .content.decode()
    )
    assert "Flagged prompt" in html
    assert "Never flagged prompt" not in html


@pytest.mark.django_db
def test_the_form_runs_every_prompt_of_an_import_or_of_a_spec_version(
    personas, settings, tmp_path, version
) -> None:
    settings.UPLOAD_DIR = tmp_path / "uploads"
    mt_bench = run_import(personas.workspace, MT_BENCH.read_bytes(), "question.jsonl")
    endpoint = _endpoint(personas)
    client = personas.client_for(personas.adjudicator)
    url = f"/w/{personas.workspace.slug}/reruns/new/"
    page = client.get(url).content.decode()
    assert f"#{mt_bench.pk} question.jsonl (80 prompts)" in page
    assert f"Model Spec {version.label} ({NEWEST.eval_prompts} eval prompts" in page

    response = client.post(
        url, {"import_run": mt_bench.pk, "endpoints": [endpoint.pk], "samples": 1}
    )
    assert response.status_code == 302
    job = RerunJob.objects.get()
    assert ModelRun.objects.filter(job=job).count() == 80
    assert set(ModelRun.objects.filter(job=job).values_list("scenario__import_run", flat=True)) == {
        mt_bench.pk
    }

    response = client.post(
        url, {"spec_version": version.pk, "endpoints": [endpoint.pk], "samples": 1}
    )
    assert response.status_code == 302
    job = RerunJob.objects.latest("pk")
    sources = set(ModelRun.objects.filter(job=job).values_list("scenario__source", flat=True))
    assert sources == {Scenario.Source.EVAL_PROMPT, Scenario.Source.EXAMPLE}


@pytest.mark.django_db
def test_the_form_says_what_to_choose_when_nothing_is(personas) -> None:
    endpoint = _endpoint(personas)
    response = personas.client_for(personas.adjudicator).post(
        f"/w/{personas.workspace.slug}/reruns/new/", {"endpoints": [endpoint.pk], "samples": 1}
    )
    assert response.status_code == 400
    assert "Choose flagged scenarios, an imported prompt set or a spec version" in (
        response.content.decode()
    )
    assert not RerunJob.objects.exists()
