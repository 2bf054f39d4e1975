"""Saving labels through the one contract: optimistic locking (T27), double submit (T29), mass
assignment (T09), partial updates, revisions after submission, and the page on the same endpoint."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connections
from django.test import Client

from clausebook.models import AuditEvent
from reviews.models import Assignment, Label, Outcome, OutcomeState
from reviews.services.campaigns import item_claim_next
from reviews.services.labels.core import LabelConflict, LabelInput
from reviews.services.labels.save import label_save, labels_save
from tests.reviews.factories import label_and_submit, make_campaign, set_campaign_rule


@pytest.fixture
def claimed(personas):  # type: ignore[no-untyped-def]
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
    )
    assignment = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    clause = campaign.campaign_clauses.order_by("position").first().clause
    return campaign, assignment, clause


def _save_url(personas, campaign, item_id: int) -> str:  # type: ignore[no-untyped-def]
    return (
        f"/api/v1/workspaces/{personas.workspace.slug}/campaigns/{campaign.pk}"
        f"/items/{item_id}/labels/"
    )


def _labels_url(personas) -> str:  # type: ignore[no-untyped-def]
    return f"/api/v1/workspaces/{personas.workspace.slug}/labels/"


def _post(client: Client, url: str, *labels: dict, submit: bool = False):  # type: ignore[no-untyped-def]
    return client.post(
        url, {"labels": list(labels), "submit": submit}, content_type="application/json"
    )


@pytest.mark.django_db
def test_t27_a_stale_revision_gets_409_with_the_current_state_and_nothing_is_overwritten(
    personas, claimed
) -> None:
    campaign, assignment, clause = claimed
    client = personas.client_for(personas.reviewer)
    url = _save_url(personas, campaign, assignment.item_id)
    first = _post(client, url, {"clause": clause.pk, "verdict": "complies"})
    assert first.status_code == 200, first.content
    assert first.json()["labels"][0]["revision"] == 1
    # Tab A saves on revision 1 → 2.
    tab_a = _post(client, url, {"clause": clause.pk, "verdict": "violates", "revision": 1})
    assert tab_a.status_code == 200 and tab_a.json()["labels"][0]["revision"] == 2
    # Tab B still holds revision 1.
    tab_b = _post(client, url, {"clause": clause.pk, "verdict": "borderline", "revision": 1})
    assert tab_b.status_code == 409
    [stale] = tab_b.json()["current"]
    assert stale["clause"] == clause.pk
    assert (stale["label"]["verdict"], stale["label"]["revision"]) == ("violates", 2)
    label = Label.objects.get()
    assert (label.verdict, label.revision) == ("violates", 2)
    verbs = list(
        AuditEvent.objects.filter(verb__startswith="label.")
        .order_by("id")
        .values_list("verb", flat=True)
    )
    assert verbs == ["label.save", "label.save", "label.conflict"]
    saved = AuditEvent.objects.filter(verb="label.save").order_by("id").last()
    assert saved.data["before"]["verdict"] == "complies"
    assert saved.data["after"]["verdict"] == "violates"


@pytest.mark.django_db
def test_one_stale_label_in_a_request_saves_none_of_it(personas, claimed) -> None:
    campaign, assignment, clause = claimed
    other = campaign.campaign_clauses.order_by("position")[1].clause
    client = personas.client_for(personas.reviewer)
    url = _save_url(personas, campaign, assignment.item_id)
    _post(client, url, {"clause": clause.pk, "verdict": "complies"})
    response = _post(
        client,
        url,
        {"clause": other.key, "verdict": "violates"},
        {"clause": clause.key, "verdict": "borderline", "revision": 5},
    )
    assert response.status_code == 409
    assert [entry["clause"] for entry in response.json()["current"]] == [clause.pk]
    assert list(Label.objects.values_list("clause_id", "verdict")) == [(clause.pk, "complies")]


@pytest.mark.django_db
def test_the_labeling_page_saves_through_the_same_endpoint_as_the_api(personas, claimed) -> None:
    campaign, assignment, clause = claimed
    client = personas.client_for(personas.reviewer)
    page = client.get(
        f"/w/{personas.workspace.slug}/campaigns/{campaign.pk}/items/{assignment.item_id}/"
    )
    config = json.loads(
        page.content.decode()
        .split('id="label-data" type="application/json">', 1)[1]
        .split("</script>", 1)[0]
    )
    assert config["saveUrl"] == _save_url(personas, campaign, assignment.item_id)
    with open("static/js/labeling.js", encoding="utf-8") as script:
        source = script.read()
    assert "fetch(config.saveUrl" in source and "labels: [" in source


@pytest.mark.django_db
def test_a_partial_update_changes_only_the_fields_it_names(personas, claimed) -> None:
    campaign, assignment, clause = claimed
    client = personas.client_for(personas.reviewer)
    span = {"message_index": 1, "start": 3, "end": 9, "text": "how do"}
    created = _post(
        client,
        _save_url(personas, campaign, assignment.item_id),
        {
            "clause": clause.pk,
            "verdict": "violates",
            "severity": "high",
            "rationale": "Step-by-step help.",
            "spans": [span],
        },
    )
    label_id = created.json()["labels"][0]["id"]
    patch = client.patch(
        f"{_labels_url(personas)}{label_id}/",
        {"revision": 1, "severity": "medium"},
        content_type="application/json",
    )
    assert patch.status_code == 200, patch.content
    label = Label.objects.get(pk=label_id)
    assert (label.verdict, label.severity, label.rationale, label.spans, label.revision) == (
        "violates",
        "medium",
        "Step-by-step help.",
        [span],
        2,
    )
    again = _post(
        client,
        _save_url(personas, campaign, assignment.item_id),
        {"clause": clause.key, "rationale": "", "revision": 2},
    )
    assert again.status_code == 200
    label.refresh_from_db()
    assert (label.verdict, label.severity, label.rationale) == ("violates", "medium", "")


@pytest.mark.django_db
def test_a_patch_on_a_stale_revision_gets_409_with_the_label_as_it_is(personas, claimed) -> None:
    campaign, assignment, clause = claimed
    label = label_save(
        assignment=assignment,
        reviewer=personas.reviewer,
        data=LabelInput(clause=clause.pk, verdict="complies"),
    )
    client = personas.client_for(personas.reviewer)
    url = f"{_labels_url(personas)}{label.pk}/"
    assert (
        client.patch(
            url, {"revision": 1, "verdict": "violates"}, content_type="application/json"
        ).status_code
        == 200
    )
    stale = client.patch(
        url, {"revision": 1, "verdict": "borderline"}, content_type="application/json"
    )
    assert stale.status_code == 409
    assert (stale.json()["current"]["verdict"], stale.json()["current"]["revision"]) == (
        "violates",
        2,
    )
    others = personas.client_for(personas.second_reviewer).patch(
        url, {"revision": 2, "verdict": "complies"}, content_type="application/json"
    )
    assert others.status_code == 404  # a blind draft of someone else's is not even readable


@pytest.mark.django_db
def test_t09_mass_assignment_fields_are_ignored(personas, claimed) -> None:
    campaign, assignment, clause = claimed
    client = personas.client_for(personas.reviewer)
    response = _post(
        client,
        _save_url(personas, campaign, assignment.item_id),
        {
            "clause": clause.pk,
            "verdict": "complies",
            "reviewer": personas.second_reviewer.pk,
            "status": "submitted",
            "source": "judge",
            "assignment": 999999,
        },
    )
    assert response.status_code == 200
    label = Label.objects.get()
    assert label.reviewer == personas.reviewer
    assert (label.status, label.source) == (Label.Status.DRAFT, "human")
    assert label.assignment_id == assignment.pk
    patch = client.patch(
        f"{_labels_url(personas)}{label.pk}/",
        {"revision": 1, "verdict": "violates", "reviewer": personas.second_reviewer.pk, "item": 1},
        content_type="application/json",
    )
    assert patch.status_code == 200
    label.refresh_from_db()
    assert (label.reviewer, label.item_id, label.verdict) == (
        personas.reviewer,
        assignment.item_id,
        "violates",
    )


@pytest.mark.django_db
def test_a_verdict_off_the_campaign_scale_or_a_clause_out_of_scope_is_refused(
    personas, claimed
) -> None:
    campaign, assignment, clause = claimed
    client = personas.client_for(personas.reviewer)
    url = _save_url(personas, campaign, assignment.item_id)
    off_scale = _post(client, url, {"clause": clause.pk, "verdict": "full_refusal"})
    assert off_scale.status_code == 400
    assert "'full_refusal' is not on this campaign's scale" in off_scale.json()["verdict"][0]
    other = make_campaign(personas.workspace, created_by=personas.adjudicator)
    foreign_clause = other.campaign_clauses.first().clause_id
    out_of_scope = _post(client, url, {"clause": foreign_clause, "verdict": "complies"})
    assert out_of_scope.status_code == 400
    assert "not a clause in this campaign's scope" in out_of_scope.json()["clause"][0]
    no_such_key = _post(client, url, {"clause": "nope", "verdict": "complies"})
    assert no_such_key.status_code == 400
    assert not Label.objects.exists()


@pytest.mark.django_db
def test_someone_without_the_assignment_cannot_label_the_item(personas, claimed) -> None:
    campaign, assignment, clause = claimed
    url = _save_url(personas, campaign, assignment.item_id)
    body = {"clause": clause.pk, "verdict": "complies"}
    assert _post(personas.client_for(personas.second_reviewer), url, body).status_code == 403
    assert _post(personas.client_for(personas.viewer), url, body).status_code == 403
    assert _post(personas.client_for(personas.outsider), url, body).status_code == 404
    other = make_campaign(personas.workspace, created_by=personas.adjudicator)
    wrong_campaign = _save_url(personas, other, assignment.item_id)
    assert _post(personas.client_for(personas.reviewer), wrong_campaign, body).status_code == 404
    assert not Label.objects.exists()


@pytest.mark.django_db
def test_an_identical_retry_of_a_first_save_returns_the_stored_row(personas, claimed) -> None:
    campaign, assignment, clause = claimed
    data = LabelInput(clause=clause.pk, verdict="complies")
    first = label_save(assignment=assignment, reviewer=personas.reviewer, data=data)
    again = label_save(assignment=assignment, reviewer=personas.reviewer, data=data)
    assert (again.pk, again.revision) == (first.pk, 1)
    with pytest.raises(LabelConflict) as conflict:
        label_save(
            assignment=assignment,
            reviewer=personas.reviewer,
            data=LabelInput(clause=clause.pk, verdict="violates"),
        )
    assert conflict.value.current.verdict == "complies"
    assert Label.objects.count() == 1


@pytest.mark.django_db
def test_after_submitting_a_reviewer_may_revise_and_the_outcome_follows(personas) -> None:
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=1,
        clause_count=1,
    )
    mine = label_and_submit(campaign, personas.reviewer, ["complies"])
    label_and_submit(campaign, personas.second_reviewer, ["violates"])
    assert Outcome.objects.get().state == OutcomeState.DISPUTED
    label = Label.objects.get(reviewer=personas.reviewer)
    result = labels_save(
        assignment=mine,
        reviewer=personas.reviewer,
        labels=[LabelInput(clause=label.clause_id, verdict="violates", revision=label.revision)],
    )
    assert result.item_state == OutcomeState.AGREED
    assert Outcome.objects.get().state == OutcomeState.AGREED
    label.refresh_from_db()
    assert (label.status, label.verdict) == (Label.Status.SUBMITTED, "violates")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="needs a verdict"):
        labels_save(
            assignment=mine,
            reviewer=personas.reviewer,
            labels=[LabelInput(clause=label.clause_id, verdict="", revision=label.revision)],
        )
    set_campaign_rule(campaign, status="closed")
    with pytest.raises(ValidationError, match="closed"):
        labels_save(
            assignment=mine,
            reviewer=personas.reviewer,
            labels=[LabelInput(clause=label.clause_id, verdict="complies", revision=3)],
        )


@pytest.mark.django_db
def test_saving_with_submit_saves_and_submits_in_one_request(personas, claimed) -> None:
    campaign, assignment, _ = claimed
    clauses = [cc.clause for cc in campaign.campaign_clauses.order_by("position")]
    client = personas.client_for(personas.reviewer)
    url = _save_url(personas, campaign, assignment.item_id)
    partial = _post(client, url, {"clause": clauses[0].key, "verdict": "complies"}, submit=True)
    assert partial.status_code == 400
    assert "every clause" in partial.json()["submit"][0]
    assert partial.json()["missing_clauses"] == [c.key for c in clauses[1:]]
    assert not Label.objects.exists()  # a refused submit writes nothing
    response = _post(
        client, url, *({"clause": c.key, "verdict": "complies"} for c in clauses), submit=True
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["assignment"] == {"id": assignment.pk, "status": "submitted"}
    assert body["item"] == {
        "id": assignment.item_id,
        "state": "open",
        "transcript": assignment.item.transcript_id,
        "campaign": campaign.pk,
    }
    assert [label["status"] for label in body["labels"]] == ["submitted"] * len(clauses)
    assert [label["revision"] for label in body["labels"]] == [2] * len(clauses)
    assert set(Label.objects.values_list("status", flat=True)) == {"submitted"}


@pytest.mark.django_db(transaction=True)
def test_t29_a_concurrent_double_submit_makes_exactly_one_label_and_no_error(personas) -> None:
    campaign = make_campaign(
        personas.workspace, created_by=personas.adjudicator, reviewers=[personas.reviewer], k=1
    )
    assignment = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    clause_id = campaign.campaign_clauses.first().clause_id
    url = _save_url(personas, campaign, assignment.item_id)
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def click(verdict: str) -> None:
        try:
            client = personas.client_for(personas.reviewer)
            barrier.wait()
            response = _post(client, url, {"clause": clause_id, "verdict": verdict})
            statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=click, args=("complies" if n < 6 else "violates",))
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(statuses) == 8
    assert set(statuses) <= {200, 409}
    assert 200 in statuses
    assert Label.objects.count() == 1


@pytest.mark.django_db
def test_t12_the_save_endpoint_refuses_a_session_post_without_the_csrf_token(
    personas, claimed
) -> None:
    campaign, assignment, clause = claimed
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.reviewer)
    url = _save_url(personas, campaign, assignment.item_id)
    body = json.dumps({"labels": [{"clause": clause.pk, "verdict": "complies"}]})
    assert client.post(url, body, content_type="application/json").status_code == 403
    assert not Label.objects.exists()
    client.get(f"/w/{personas.workspace.slug}/campaigns/{campaign.pk}/items/{assignment.item_id}/")
    token = client.cookies["csrftoken"].value
    ok = client.post(url, body, content_type="application/json", headers={"X-CSRFToken": token})
    assert ok.status_code == 200


@pytest.mark.django_db
def test_spans_must_lie_inside_the_transcript(personas, claimed) -> None:
    campaign, assignment, clause = claimed
    client = personas.client_for(personas.reviewer)
    url = _save_url(personas, campaign, assignment.item_id)
    span = {"message_index": 1, "start": 3, "end": 9, "text": "how do"}
    ok = _post(client, url, {"clause": clause.pk, "verdict": "violates", "spans": [span]})
    assert ok.status_code == 200 and ok.json()["labels"][0]["spans"] == [span]
    bad = _post(
        client,
        url,
        {
            "clause": clause.pk,
            "verdict": "violates",
            "spans": [span | {"message_index": 99}],
            "revision": 1,
        },
    )
    assert bad.status_code == 400
    assert "outside the transcript" in bad.json()["spans"][0]
    assert Label.objects.get().spans == [span]


@pytest.mark.django_db
def test_a_skipped_assignment_takes_no_labels(personas, claimed) -> None:
    from django.core.exceptions import ValidationError

    from reviews.services.campaigns import assignment_skip

    campaign, assignment, clause = claimed
    assignment_skip(assignment=assignment, reviewer=personas.reviewer, reason="Not my language")
    with pytest.raises(ValidationError, match="skipped"):
        label_save(
            assignment=Assignment.objects.get(pk=assignment.pk),
            reviewer=personas.reviewer,
            data=LabelInput(clause=clause.pk, verdict="complies"),
        )


_SPAN = {"message_index": 1, "start": 0, "end": 5, "text": "hello"}
_BODIES = [
    {"labels": [{"clause": "be_honest", "verdict": "complies"}]},
    {"labels": [{"clause": 12, "verdict": "", "revision": 3}], "submit": True, "next": True},
    {"labels": [{"clause": "k", "rationale": "  kept as typed  ", "spans": [_SPAN]}]},
    {"labels": [{"clause": "k", "severity": "high", "revision": None, "spans": []}]},
    {"labels": [{"clause": "k", "spans": [{"message_index": 0, "start": 1, "end": 2}]}]},
    {"labels": [], "submit": True},
    {"submit": True, "unknown": 1},
    # What the serializer trims, coerces or refuses: read by it, not by the plain reading.
    {"labels": [{"clause": " k ", "verdict": "complies"}]},
    {"labels": [{"clause": "k", "verdict": " complies "}]},
    {"labels": [{"clause": "k", "verdict": 5}]},
    {"labels": [{"clause": "k", "revision": "3"}]},
    {"labels": [{"clause": "k", "revision": 0}]},
    {"labels": [{"clause": True}]},
    {"labels": [{"clause": "k", "verdict": None}]},
    {"labels": [{"clause": "k", "rationale": "nul \x00 byte"}]},
    {"labels": [{"clause": "k", "spans": [{"message_index": -1, "start": 0, "end": 1}]}]},
    {"labels": [{"clause": "k", "spans": [dict(_SPAN, text=" padded ")]}]},
    {"labels": [{"clause": "k", "spans": {"message_index": 0}}]},
    {"labels": {"clause": "k"}},
    {"labels": [{"clause": "k"}], "submit": "true"},
    {"labels": [{"clause": "k"}], "next": True},
    {"labels": [{"clause": "k", "verdict": "x" * 41}]},
]


@pytest.mark.parametrize("body", _BODIES)
def test_the_plain_reading_of_a_save_body_agrees_with_the_serializer(body) -> None:  # type: ignore[no-untyped-def]
    from rest_framework.exceptions import ValidationError as DRFValidationError

    from reviews.api.labels import plain_save_body, serialized_save_body

    plain = plain_save_body(body)
    try:
        serialized = serialized_save_body(body)
    except DRFValidationError:
        assert plain is None  # a body the serializer refuses is always left to it
        return
    assert plain is None or plain == serialized


def test_a_plain_save_body_is_read_without_the_serializer() -> None:
    from reviews.api.labels import plain_save_body

    for body in _BODIES[:7]:
        assert plain_save_body(body) is not None, body
