"""Model judge runs against the Clausebook local model server (development tool): valid answers
become judge labels (hidden from blind reviewers, shown to adjudicators as a model's), invalid
ones are recorded as invalid, a second run creates nothing twice, and the per-clause trust
figures reach the agreement report."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from devtools import local_model_server
from devtools.local_model_server import LocalModelServer
from reviews.models import JudgeRun, Label, ModelEndpoint
from reviews.selectors.agreement import campaign_agreement
from reviews.services.campaigns import item_claim_next
from reviews.services.gold import decision_record
from reviews.services.judges import judge_run_create, judge_run_execute
from reviews.services.labels.core import LabelInput
from reviews.services.labels.save import labels_save
from tests.reviews.factories import make_campaign

pytestmark = pytest.mark.django_db

BROKEN_MODEL = "broken-judge"


def _answer(self, body, faults):  # type: ignore[no-untyped-def]
    # Test-only: the development server answers a schema with valid JSON; this model answers
    # prose instead, the way a judge ignoring structured output would.
    if body.get("model") == BROKEN_MODEL:
        document = local_model_server.completion_document({"messages": body.get("messages")})
        document["choices"][0]["message"]["content"] = "It clearly complies, trust me."
        document["usage"]["completion_tokens"] = 5  # its words, as the server counts them
        self._raw(200, json.dumps(document).encode(), "application/json")
        return
    local_model_server._Handler._answer(self, body, faults)


@pytest.fixture(scope="module")
def model_server() -> Iterator[LocalModelServer]:
    server = LocalModelServer()
    handler = server._server.RequestHandlerClass
    server._server.RequestHandlerClass = type("JudgeTestHandler", (handler,), {"_answer": _answer})
    with server:
        yield server


@pytest.fixture
def campaign(personas, model_server):  # type: ignore[no-untyped-def]
    with override_settings(ALLOW_PRIVATE_HOSTS=[model_server.host_port]):
        yield make_campaign(
            personas.workspace,
            created_by=personas.adjudicator,
            reviewers=[personas.reviewer, personas.second_reviewer],
            transcripts=2,
            clause_count=2,
            blind=True,
        )


def _endpoint(personas, server: LocalModelServer, model: str = "judge-local") -> ModelEndpoint:  # type: ignore[no-untyped-def]
    return ModelEndpoint.objects.create(
        workspace=personas.workspace,
        name=f"Local dev server ({model})",
        base_url=server.base_url,
        model=model,
    )


def _run(personas, campaign, server, model: str = "judge-local", mode: str = "per_pair"):  # type: ignore[no-untyped-def]
    run, calls = judge_run_create(
        campaign=campaign,
        endpoint=_endpoint(personas, server, model),
        actor=personas.adjudicator,
        mode=mode,
    )
    return judge_run_execute(run_id=run.pk), calls


def test_valid_answers_become_judge_labels_hidden_from_blind_reviewers_shown_to_adjudicators(
    personas, campaign, model_server
) -> None:
    model_server.reset()
    run, calls = _run(personas, campaign, model_server)
    assert calls == 4 and model_server.chat_requests == 4
    assert (run.status, run.calls_done, run.invalid_count) == ("succeeded", 4, 0)
    labels = Label.objects.filter(judge_run=run)
    assert labels.count() == 4 and {label.source for label in labels} == {"judge"}
    scale = {entry["value"] for entry in campaign.verdict_scale}
    assert all(label.verdict in scale for label in labels)
    assignment = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    marker = labels.filter(item=assignment.item_id).first().rationale
    assert "development tool" in marker
    page = f"/w/{personas.workspace.slug}/campaigns/{campaign.pk}/items/{assignment.item_id}/"
    api = f"/api/v1/workspaces/{personas.workspace.slug}/labels/?item={assignment.item_id}"
    reviewer = personas.client_for(personas.reviewer)
    assert marker not in reviewer.get(page).content.decode()
    labels_save(
        assignment=assignment,
        reviewer=personas.reviewer,
        labels=[
            LabelInput(clause=cc.clause_id, verdict="complies")
            for cc in campaign.campaign_clauses.all()
        ],
        submit=True,
    )
    assert marker not in reviewer.get(page).content.decode()
    assert {label["source"] for label in reviewer.get(api).json()["results"]} == {"human"}
    adjudicator = personas.client_for(personas.adjudicator)
    html = adjudicator.get(page).content.decode()
    assert marker in html
    assert f"model: Local dev server (judge-local) ({run.prompt_version})" in html
    judged = [
        label for label in adjudicator.get(api).json()["results"] if label["source"] == "judge"
    ]
    assert len(judged) == 2 and judged[0]["judge_run"]["prompt_version"] == "judge-v1"


def test_an_invalid_answer_is_recorded_as_invalid_and_no_label_is_guessed(
    personas, campaign, model_server
) -> None:
    run, _ = _run(personas, campaign, model_server, model=BROKEN_MODEL)
    assert (run.status, run.calls_done, run.invalid_count) == ("succeeded", 4, 4)
    assert not Label.objects.filter(judge_run=run).exists()
    sample = run.invalid_sample[0]
    assert sample["reason"] == "the answer is not JSON"
    assert sample["answer"].startswith("It clearly complies")
    page = personas.client_for(personas.adjudicator).get(
        f"/w/{personas.workspace.slug}/judges/{run.pk}/"
    )
    assert "4 invalid answers" in page.content.decode()


def test_running_twice_creates_no_duplicates_and_calls_only_for_missing_pairs(
    personas, campaign, model_server
) -> None:
    run, _ = _run(personas, campaign, model_server, mode="per_item")
    assert run.calls_total == 2 and Label.objects.filter(judge_run=run).count() == 4
    model_server.reset()
    assert judge_run_execute(run_id=run.pk).status == "succeeded"  # not queued: a no-op
    Label.objects.filter(judge_run=run, clause=campaign.campaign_clauses.first().clause).delete()
    JudgeRun.objects.filter(pk=run.pk).update(status="queued")
    again = judge_run_execute(run_id=run.pk)
    assert model_server.chat_requests == 2  # one per item, for the one missing clause each
    assert Label.objects.filter(judge_run=run).count() == 4
    assert again.calls_done == again.calls_total == 2


def test_per_clause_judge_figures_with_the_prompt_version_reach_the_report_and_the_page(
    personas, campaign, model_server
) -> None:
    clause = campaign.campaign_clauses.order_by("position").first().clause
    for reviewer, verdict in [
        (personas.reviewer, "complies"),
        (personas.second_reviewer, "violates"),
    ]:
        assignment = item_claim_next(campaign=campaign, reviewer=reviewer)
        labels_save(
            assignment=assignment,
            reviewer=reviewer,
            labels=[
                LabelInput(clause=cc.clause_id, verdict=verdict)
                for cc in campaign.campaign_clauses.all()
            ],
            submit=True,
        )
    item = assignment.item
    run, _ = _run(personas, campaign, model_server)
    judged = Label.objects.get(judge_run=run, item=item, clause=clause).verdict
    decision_record(
        item=item,
        clause=clause,
        actor=personas.adjudicator,
        verdict=judged,
        rationale="Settled.",
        current_decision_id=None,
    )
    [judge] = campaign_agreement(campaign, use_cache=False)["judges"]
    assert judge["prompt_version"] == "judge-v1"
    first = judge["clauses"][0]
    assert first["key"] == clause.key
    assert (first["with_gold"]["n_pairs"], first["with_gold"]["percent_agreement"]) == (1, 1.0)
    assert {h["reviewer_id"] for h in first["with_reviewers"]} == {
        personas.reviewer.pk,
        personas.second_reviewer.pk,
    }
    assert judge["clauses"][1]["with_gold"]["n_pairs"] == 0
    page = personas.client_for(personas.adjudicator).get(
        f"/w/{personas.workspace.slug}/campaigns/{campaign.pk}/judges/"
    )
    html = page.content.decode()
    assert 'data-testid="judge-trust"' in html and "judge-v1" in html
    assert 'data-testid="judge-calls-per_pair">4<' in html
    assert 'data-testid="judge-calls-per_item">2<' in html


def test_starting_a_run_needs_the_judge_right_and_the_campaigns_workspace(
    personas, campaign, model_server
) -> None:
    endpoint = _endpoint(personas, model_server)
    start = f"/w/{personas.workspace.slug}/campaigns/{campaign.pk}/judges/"
    api = f"/api/v1/workspaces/{personas.workspace.slug}/campaigns/{campaign.pk}/judge-runs/"
    reviewer = personas.client_for(personas.reviewer)
    assert reviewer.get(start).status_code == 403
    assert reviewer.post(start, {"endpoint": endpoint.pk}).status_code == 403
    outsider = personas.client_for(personas.outsider)
    assert outsider.get(start).status_code == 404
    client = APIClient()
    client.force_authenticate(personas.reviewer)
    assert client.post(api, {"endpoint": endpoint.pk}, format="json").status_code == 403
    client.force_authenticate(personas.adjudicator)
    other = (
        f"/api/v1/workspaces/{personas.other_workspace.slug}/campaigns/{campaign.pk}/judge-runs/"
    )
    assert client.get(other).status_code == 404
    foreign = ModelEndpoint.objects.create(
        workspace=personas.other_workspace, name="Theirs", base_url=model_server.base_url, model="m"
    )
    assert client.post(api, {"endpoint": foreign.pk}, format="json").status_code == 404
    assert (
        client.post(api, {"endpoint": endpoint.pk, "mode": "all"}, format="json").status_code == 400
    )
    created = client.post(api, {"endpoint": endpoint.pk}, format="json")
    assert created.status_code == 201 and created.json()["calls"] == 4
    run_id = created.json()["run"]["id"]
    assert client.get(api).json()["calls_per_mode"] == {"per_pair": 4, "per_item": 2}
    detail = f"/api/v1/workspaces/{personas.workspace.slug}/judge-runs/{run_id}/"
    assert client.get(detail).json()["status"] == "queued"
    client.force_authenticate(personas.outsider)
    assert client.get(detail).status_code == 404
    page = personas.client_for(personas.adjudicator).post(start, {"endpoint": endpoint.pk})
    assert page.status_code == 302 and "/judges/" in page["Location"]
    run_page = personas.client_for(personas.adjudicator).get(
        page["Location"], HTTP_HX_REQUEST="true"
    )
    assert 'id="judge-progress"' in run_page.content.decode()
    assert "<html" not in run_page.content.decode()


def test_a_judge_runs_token_usage_is_totalled_and_shown_on_its_page_and_api(
    personas, campaign, model_server
) -> None:
    # The development server reports the words of the answer as its completion tokens: the
    # broken model's answer is five words, and an invalid answer costs its tokens all the same.
    broken, _ = _run(personas, campaign, model_server, model=BROKEN_MODEL)
    assert broken.invalid_count == 4
    assert broken.completion_tokens == 4 * 5  # "It clearly complies, trust me." per call
    assert broken.prompt_tokens > 0
    judged, _ = _run(personas, campaign, model_server, mode="per_item")
    assert judged.status == "succeeded"
    assert judged.prompt_tokens > 0 and judged.completion_tokens > 0
    broken.refresh_from_db()
    assert broken.completion_tokens == 20  # each run totals its own calls only

    page = personas.client_for(personas.adjudicator).get(
        f"/w/{personas.workspace.slug}/judges/{broken.pk}/"
    )
    assert (
        f"Tokens used: {broken.prompt_tokens:,} prompt · {broken.completion_tokens:,} completion"
        in page.content.decode()
    )
    client = APIClient()
    client.force_authenticate(personas.adjudicator)
    body = client.get(
        f"/api/v1/workspaces/{personas.workspace.slug}/judge-runs/{judged.pk}/"
    ).json()
    assert (body["prompt_tokens"], body["completion_tokens"]) == (
        judged.prompt_tokens,
        judged.completion_tokens,
    )
