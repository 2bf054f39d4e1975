"""Saving labels: optimistic locking (T27), double submit (T29), mass assignment (T09), audit."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connections

from clausebook.models import AuditEvent
from reviews.models import Label
from reviews.services.campaigns import item_claim_next
from reviews.services.labels import LabelConflict, LabelInput, label_save
from tests.reviews.factories import make_campaign


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


def _api(personas, user):  # type: ignore[no-untyped-def]
    return personas.client_for(user)


def _labels_url(personas) -> str:  # type: ignore[no-untyped-def]
    return f"/api/v1/workspaces/{personas.workspace.slug}/labels/"


@pytest.mark.django_db
def test_t27_a_stale_revision_gets_409_with_the_current_state_and_nothing_is_overwritten(
    personas, claimed
) -> None:
    campaign, assignment, clause = claimed
    client = _api(personas, personas.reviewer)
    url = _labels_url(personas)
    first = client.post(
        url,
        {"item": assignment.item_id, "clause": clause.pk, "verdict": "complies"},
        content_type="application/json",
    )
    assert first.status_code == 200, first.content
    assert first.json()["revision"] == 1
    # Tab A saves on revision 1 → 2.
    tab_a = client.post(
        url,
        {"item": assignment.item_id, "clause": clause.pk, "verdict": "violates", "revision": 1},
        content_type="application/json",
    )
    assert tab_a.status_code == 200 and tab_a.json()["revision"] == 2
    # Tab B still holds revision 1.
    tab_b = client.post(
        url,
        {"item": assignment.item_id, "clause": clause.pk, "verdict": "borderline", "revision": 1},
        content_type="application/json",
    )
    assert tab_b.status_code == 409
    assert tab_b.json()["current"]["verdict"] == "violates"
    assert tab_b.json()["current"]["revision"] == 2
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
def test_the_autosave_endpoint_answers_409_with_the_current_state(personas, claimed) -> None:
    campaign, assignment, clause = claimed
    client = personas.client_for(personas.reviewer)
    url = f"/w/{personas.workspace.slug}/campaigns/{campaign.pk}/items/{assignment.item_id}/labels/"
    body = {"clause": clause.pk, "verdict": "complies", "rationale": "fine", "revision": None}
    saved = client.post(url, json.dumps(body), content_type="application/json")
    assert saved.status_code == 200
    Label.objects.update(revision=7, verdict="violates")  # another tab saved meanwhile
    stale = client.post(url, json.dumps(body | {"revision": 1}), content_type="application/json")
    assert stale.status_code == 409
    assert stale.json()["current"]["revision"] == 7
    keep_mine = client.post(
        url, json.dumps(body | {"revision": 7}), content_type="application/json"
    )
    assert keep_mine.status_code == 200 and keep_mine.json()["label"]["revision"] == 8
    assert Label.objects.get().verdict == "complies"


@pytest.mark.django_db
def test_t09_mass_assignment_fields_are_ignored(personas, claimed) -> None:
    campaign, assignment, clause = claimed
    client = _api(personas, personas.reviewer)
    response = client.post(
        _labels_url(personas),
        {
            "item": assignment.item_id,
            "clause": clause.pk,
            "verdict": "complies",
            "reviewer": personas.second_reviewer.pk,
            "status": "submitted",
            "is_gold": True,
            "assignment": 999999,
        },
        content_type="application/json",
    )
    assert response.status_code == 200
    label = Label.objects.get()
    assert label.reviewer == personas.reviewer
    assert label.status == Label.Status.DRAFT
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
    client = _api(personas, personas.reviewer)
    off_scale = client.post(
        _labels_url(personas),
        {"item": assignment.item_id, "clause": clause.pk, "verdict": "full_refusal"},
        content_type="application/json",
    )
    assert off_scale.status_code == 400
    other = make_campaign(personas.workspace, created_by=personas.adjudicator)
    foreign_clause = other.campaign_clauses.first().clause_id
    out_of_scope = client.post(
        _labels_url(personas),
        {"item": assignment.item_id, "clause": foreign_clause, "verdict": "complies"},
        content_type="application/json",
    )
    assert out_of_scope.status_code == 400
    assert not Label.objects.exists()


@pytest.mark.django_db
def test_someone_without_the_assignment_cannot_label_the_item(personas, claimed) -> None:
    campaign, assignment, clause = claimed
    body = {"item": assignment.item_id, "clause": clause.pk, "verdict": "complies"}
    other = _api(personas, personas.second_reviewer).post(
        _labels_url(personas), body, content_type="application/json"
    )
    assert other.status_code == 403
    viewer = _api(personas, personas.viewer).post(
        _labels_url(personas), body, content_type="application/json"
    )
    assert viewer.status_code == 403
    outsider = _api(personas, personas.outsider).post(
        _labels_url(personas), body, content_type="application/json"
    )
    assert outsider.status_code == 404
    assert not Label.objects.exists()


@pytest.mark.django_db
def test_an_identical_retry_of_a_first_save_returns_the_stored_row(personas, claimed) -> None:
    campaign, assignment, clause = claimed
    data = LabelInput(clause_id=clause.pk, verdict="complies")
    first = label_save(assignment=assignment, reviewer=personas.reviewer, data=data, revision=None)
    again = label_save(assignment=assignment, reviewer=personas.reviewer, data=data, revision=None)
    assert again.pk == first.pk
    with pytest.raises(LabelConflict) as conflict:
        label_save(
            assignment=assignment,
            reviewer=personas.reviewer,
            data=LabelInput(clause_id=clause.pk, verdict="violates"),
            revision=None,
        )
    assert conflict.value.current.verdict == "complies"
    assert Label.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_t29_a_concurrent_double_submit_makes_exactly_one_label_and_no_error(personas) -> None:
    campaign = make_campaign(
        personas.workspace, created_by=personas.adjudicator, reviewers=[personas.reviewer]
    )
    assignment = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    clause_id = campaign.campaign_clauses.first().clause_id
    client_url = f"/api/v1/workspaces/{personas.workspace.slug}/labels/"
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def click(verdict: str) -> None:
        try:
            client = personas.client_for(personas.reviewer)
            barrier.wait()
            response = client.post(
                client_url,
                {"item": assignment.item_id, "clause": clause_id, "verdict": verdict},
                content_type="application/json",
            )
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
    assert 500 not in statuses
    assert Label.objects.count() == 1


@pytest.mark.django_db
def test_t12_the_autosave_endpoint_refuses_a_post_without_the_csrf_token(personas, claimed) -> None:
    from django.test import Client

    campaign, assignment, clause = claimed
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.reviewer)
    url = f"/w/{personas.workspace.slug}/campaigns/{campaign.pk}/items/{assignment.item_id}/labels/"
    body = json.dumps({"clause": clause.pk, "verdict": "complies"})
    assert client.post(url, body, content_type="application/json").status_code == 403
    assert not Label.objects.exists()
    client.get(f"/w/{personas.workspace.slug}/campaigns/{campaign.pk}/items/{assignment.item_id}/")
    token = client.cookies["csrftoken"].value
    ok = client.post(url, body, content_type="application/json", headers={"X-CSRFToken": token})
    assert ok.status_code == 200


@pytest.mark.django_db
def test_spans_must_lie_inside_the_transcript(personas, claimed) -> None:
    campaign, assignment, clause = claimed
    client = _api(personas, personas.reviewer)
    span = {"message_index": 1, "start": 3, "end": 9, "text": "how do"}
    ok = client.post(
        _labels_url(personas),
        {"item": assignment.item_id, "clause": clause.pk, "verdict": "violates", "spans": [span]},
        content_type="application/json",
    )
    assert ok.status_code == 200 and ok.json()["spans"] == [span]
    bad = client.post(
        _labels_url(personas),
        {
            "item": assignment.item_id,
            "clause": clause.pk,
            "verdict": "violates",
            "spans": [span | {"message_index": 99}],
            "revision": 1,
        },
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert Label.objects.get().spans == [span]
