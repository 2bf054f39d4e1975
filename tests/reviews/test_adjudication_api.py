"""The adjudication API: the pairs needing a decision, an item's view, recording gold (a race is a
409 with the current state, never a silent overwrite), reopening, and who may do it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clausebook.models import Membership, Role
from reviews.models import DecisionKind, GoldDecision, Item
from reviews.services.labels.judge import judge_label_record
from tests.reviews.factories import label_and_submit, make_campaign, make_judge_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def disputed(personas):  # type: ignore[no-untyped-def]
    """One item, two clauses: the reviewers disagree on the first, agree on the second."""
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.editor,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=1,
        clause_count=2,
    )
    label_and_submit(campaign, personas.reviewer, ["complies", "complies"])
    label_and_submit(campaign, personas.second_reviewer, ["violates", "complies"])
    item = Item.objects.get(campaign=campaign)
    clauses = [cc.clause for cc in campaign.campaign_clauses.order_by("position")]
    return campaign, item, clauses


def _url(personas, name, campaign, item=None):  # type: ignore[no-untyped-def]
    args = [personas.workspace.slug, campaign.pk] + ([item.pk] if item is not None else [])
    return reverse(name, args=args)


def _post(personas, user, url, body):  # type: ignore[no-untyped-def]
    return personas.client_for(user).post(url, body, content_type="application/json")


def _decide(personas, disputed, *, user=None, expected=None, **fields):  # type: ignore[no-untyped-def]
    campaign, item, (clause, _) = disputed
    body = {
        "clause": clause.key,
        "verdict": "violates",
        "severity": "high",
        "rationale": "Real uplift.",
        "expected_decision": expected,
        **fields,
    }
    url = _url(personas, "api-adjudication-record", campaign, item)
    return _post(personas, user or personas.adjudicator, url, body)


def test_it_lists_the_pairs_needing_adjudication_filtered_by_clause(personas, disputed) -> None:
    campaign, item, (first, second) = disputed
    client = personas.client_for(personas.adjudicator)
    url = _url(personas, "api-adjudication-queue", campaign)
    listed = client.get(url).json()
    assert [(row["item"], row["clause_key"], row["state"]) for row in listed["results"]] == [
        (item.pk, first.key, "disputed")
    ]
    assert listed["results"][0]["verdict_count"] == 2
    assert client.get(url, {"clause": second.key}).json()["results"] == []
    assert len(client.get(url, {"clause": str(first.pk)}).json()["results"]) == 1
    refused = client.get(url, {"clause": "nope"})
    assert refused.status_code == 400 and "clause" in refused.json()


def test_the_item_view_shows_labels_side_by_side_and_marks_a_judges(personas, disputed) -> None:
    campaign, item, (first, second) = disputed
    run = make_judge_run(campaign, created_by=personas.editor)
    judge_label_record(judge_run=run, item=item, clause=first, verdict="violates")
    body = personas.client_for(personas.adjudicator).get(
        _url(personas, "api-adjudication-item", campaign, item)
    )
    assert body.status_code == 200
    data = body.json()
    assert data["may_decide"] is True and data["gold_from_agreement"] is True
    pair = data["pairs"][0]
    assert (pair["clause_key"], pair["state"], pair["needs_decision"]) == (
        first.key,
        "disputed",
        True,
    )
    assert pair["clause_body"] == first.body and pair["examples"]
    assert [(label["source"], label["reviewer"], label["verdict"]) for label in pair["labels"]] == [
        ("human", personas.reviewer.email, "complies"),
        ("human", personas.second_reviewer.email, "violates"),
        ("judge", None, "violates"),
    ]
    assert pair["labels"][2]["judge"]["prompt_version"] == "judge-v1"
    assert pair["current_decision"] is None
    agreed = data["pairs"][1]
    assert agreed["current_decision"]["kind"] == "agreed"
    assert agreed["current_decision"]["agreeing_reviewers"] == sorted(
        [personas.reviewer.email, personas.second_reviewer.email]
    )


def test_recording_a_decision_answers_it_with_the_pair_and_the_item(personas, disputed) -> None:
    response = _decide(personas, disputed)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["decision"]["kind"] == "adjudicated"
    assert data["decision"]["decided_by"] == personas.adjudicator.email
    assert data["pair"]["state"] == "adjudicated"
    assert data["pair"]["current_decision"]["id"] == data["decision"]["id"]
    assert data["item"]["state"] == "adjudicated"


def test_two_adjudicators_racing_get_a_409_with_the_current_state(personas, disputed) -> None:
    """Both loaded the pair with no decision; the first wins, the second is told what it is now
    and nothing of theirs is written."""
    first = _decide(personas, disputed, user=personas.adjudicator, verdict="violates")
    second = _decide(personas, disputed, user=personas.owner, verdict="complies")
    assert first.status_code == 201
    assert second.status_code == 409
    current = second.json()["current"]
    assert second.json()["detail"]
    assert current["state"] == "adjudicated"
    assert current["current_decision"]["id"] == first.json()["decision"]["id"]
    assert current["current_decision"]["decided_by"] == personas.adjudicator.email
    assert current["current_decision"]["verdict"] == "violates"
    assert GoldDecision.objects.filter(kind=DecisionKind.ADJUDICATED).count() == 1

    # Naming the decision it now knows, the second adjudicator may replace it.
    again = _decide(
        personas,
        disputed,
        user=personas.owner,
        verdict="complies",
        expected=current["current_decision"]["id"],
    )
    assert again.status_code == 201
    assert again.json()["decision"]["supersedes"] == first.json()["decision"]["id"]


def test_a_decision_must_say_which_decision_it_saw_and_stay_on_the_scale(
    personas, disputed
) -> None:
    campaign, item, (clause, _) = disputed
    url = _url(personas, "api-adjudication-record", campaign, item)
    missing = _post(
        personas,
        personas.adjudicator,
        url,
        {"clause": clause.pk, "verdict": "violates", "rationale": "x"},
    )
    assert missing.status_code == 400 and "expected_decision" in missing.json()
    off_scale = _decide(personas, disputed, verdict="catastrophic")
    assert off_scale.status_code == 400 and "verdict" in off_scale.json()
    bad_severity = _decide(personas, disputed, severity="extreme")
    assert bad_severity.status_code == 400 and "severity" in bad_severity.json()
    blank = _decide(personas, disputed, rationale="   ")
    assert blank.status_code == 400 and "rationale" in blank.json()
    out_of_scope = _decide(personas, disputed, clause="not_in_scope")
    assert out_of_scope.status_code == 400 and "clause" in out_of_scope.json()
    assert not GoldDecision.objects.filter(kind=DecisionKind.ADJUDICATED).exists()


def test_only_adjudicators_of_the_workspace_who_did_not_label_decide(personas, disputed) -> None:
    campaign, item, _ = disputed
    assert _decide(personas, disputed, user=personas.reviewer).status_code == 403
    assert _decide(personas, disputed, user=personas.viewer).status_code == 403
    assert _decide(personas, disputed, user=personas.outsider).status_code == 404
    read = _url(personas, "api-adjudication-item", campaign, item)
    assert personas.client_for(personas.reviewer).get(read).status_code == 403

    # A reviewer who labeled the item and is made an adjudicator may not settle it.
    Membership.objects.filter(user=personas.reviewer).update(role=Role.ADJUDICATOR)
    refused = _decide(personas, disputed, user=personas.reviewer)
    assert refused.status_code == 403 and "labeled this item" in refused.json()["detail"]
    view = personas.client_for(personas.reviewer).get(read).json()
    assert view["may_decide"] is False and "labeled this item" in view["refusal"]


def test_reopening_needs_gold_a_reason_and_the_current_decision(personas, disputed) -> None:
    campaign, item, (clause, agreed) = disputed
    url = _url(personas, "api-adjudication-reopen", campaign, item)
    decided = _decide(personas, disputed).json()["decision"]
    no_reason = _post(
        personas,
        personas.adjudicator,
        url,
        {"clause": clause.pk, "reason": "", "expected_decision": decided["id"]},
    )
    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    stale = _post(
        personas,
        personas.adjudicator,
        url,
        {"clause": clause.pk, "reason": "Spec changed.", "expected_decision": decided["id"] + 99},
    )
    assert stale.status_code == 409
    assert stale.json()["current"]["current_decision"]["id"] == decided["id"]
    reopened = _post(
        personas,
        personas.adjudicator,
        url,
        {"clause": clause.pk, "reason": "Spec changed.", "expected_decision": decided["id"]},
    )
    assert reopened.status_code == 201
    assert reopened.json()["decision"]["kind"] == "reopened"
    assert reopened.json()["pair"]["state"] == "disputed"
    again = _post(
        personas,
        personas.adjudicator,
        url,
        {
            "clause": clause.pk,
            "reason": "Twice.",
            "expected_decision": reopened.json()["decision"]["id"],
        },
    )
    assert again.status_code == 400  # nothing left to reopen
    view = personas.client_for(personas.adjudicator).get(
        _url(personas, "api-adjudication-item", campaign, item)
    )
    history = view.json()["pairs"][0]["history"]
    assert [entry["kind"] for entry in history] == ["reopened", "adjudicated"]
    assert [entry["is_current"] for entry in history] == [True, False]


def test_the_schema_documents_the_adjudication_endpoints(personas) -> None:
    client = personas.client_for(personas.owner)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    paths = [path for path in schema["paths"] if "adjudication" in path]
    assert len(paths) == 4
    record = next(path for path in paths if path.endswith("/decisions/"))
    assert "409" in schema["paths"][record]["post"]["responses"]
