"""Submitting an item: what it needs, what it freezes, and outcomes per clause at k submissions."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from reviews.models import Assignment, Item, ItemState, Label, Outcome, OutcomeState
from reviews.services.campaigns import item_claim_next
from reviews.services.labels.core import LabelInput
from reviews.services.labels.save import label_save
from reviews.services.labels.submit import assignment_submit
from tests.reviews.factories import label_and_submit, make_campaign, set_campaign_rule


@pytest.fixture
def campaign(personas):  # type: ignore[no-untyped-def]
    return make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=1,
        clause_count=2,
        k=2,
    )


def _outcomes(campaign) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    return list(
        Outcome.objects.filter(campaign=campaign)
        .order_by("clause__position")
        .values_list("state", "verdict_count")
    )


@pytest.mark.django_db
def test_an_item_labeled_alike_by_k_reviewers_is_agreed(personas, campaign) -> None:
    label_and_submit(campaign, personas.reviewer, ["complies", "not_applicable"])
    item = Item.objects.get(campaign=campaign)
    assert (item.state, item.submitted_count) == (ItemState.OPEN, 1)
    assert _outcomes(campaign) == [(OutcomeState.OPEN, 1), (OutcomeState.OPEN, 1)]
    label_and_submit(campaign, personas.second_reviewer, ["complies", "not_applicable"])
    item.refresh_from_db()
    assert (item.state, item.submitted_count) == (ItemState.AGREED, 2)
    assert _outcomes(campaign) == [(OutcomeState.AGREED, 2), (OutcomeState.AGREED, 2)]
    assert set(Label.objects.values_list("status", flat=True)) == {Label.Status.SUBMITTED}


@pytest.mark.django_db
def test_a_disagreement_is_recorded_on_its_clause_and_makes_the_item_disputed(
    personas, campaign
) -> None:
    label_and_submit(campaign, personas.reviewer, ["complies", "complies"])
    label_and_submit(campaign, personas.second_reviewer, ["complies", "violates"])
    assert _outcomes(campaign) == [(OutcomeState.AGREED, 2), (OutcomeState.DISPUTED, 2)]
    assert Item.objects.get(campaign=campaign).state == ItemState.DISPUTED


@pytest.mark.django_db
def test_submitting_needs_at_least_one_verdict_and_keeps_written_notes(personas, campaign) -> None:
    assignment = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    with pytest.raises(ValidationError, match="at least one clause"):
        assignment_submit(assignment=assignment, reviewer=personas.reviewer)
    clauses = [cc.clause_id for cc in campaign.campaign_clauses.order_by("position")]
    label_save(
        assignment=assignment,
        reviewer=personas.reviewer,
        data=LabelInput(clause=clauses[0], verdict="complies"),
    )
    label_save(
        assignment=assignment,
        reviewer=personas.reviewer,
        data=LabelInput(clause=clauses[1], rationale="Unsure, need to re-read"),
    )
    with pytest.raises(ValidationError, match=r"Pick a verdict"):
        assignment_submit(assignment=assignment, reviewer=personas.reviewer)
    assert Label.objects.count() == 2
    assert Assignment.objects.get(pk=assignment.pk).status == Assignment.Status.ACTIVE


@pytest.mark.django_db
def test_a_campaign_that_requires_every_clause_refuses_a_partial_submission(
    personas, campaign
) -> None:
    assignment = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    first, second = [cc.clause for cc in campaign.campaign_clauses.order_by("position")]
    label_save(
        assignment=assignment,
        reviewer=personas.reviewer,
        data=LabelInput(clause=first.pk, verdict="complies"),
    )
    with pytest.raises(ValidationError, match=f"every clause; 1 missing: {second.key}") as refused:
        assignment_submit(assignment=assignment, reviewer=personas.reviewer)
    assert refused.value.message_dict["missing_clauses"] == [second.key]
    set_campaign_rule(campaign, require_every_clause=False)
    assignment_submit(assignment=assignment, reviewer=personas.reviewer)
    assert Assignment.objects.get(pk=assignment.pk).status == Assignment.Status.SUBMITTED


@pytest.mark.django_db
def test_nobody_submits_someone_elses_assignment_or_the_same_one_twice(personas, campaign) -> None:
    assignment = label_and_submit(campaign, personas.reviewer, ["complies", "complies"])
    with pytest.raises(ValidationError, match="already submitted"):
        assignment_submit(assignment=assignment, reviewer=personas.reviewer)
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        assignment_submit(assignment=assignment, reviewer=personas.second_reviewer)
    assert Item.objects.get(campaign=campaign).submitted_count == 1


@pytest.mark.django_db
def test_a_paused_campaign_takes_no_submission(personas, campaign) -> None:
    assignment = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    for clause_id in campaign.campaign_clauses.values_list("clause_id", flat=True):
        label_save(
            assignment=assignment,
            reviewer=personas.reviewer,
            data=LabelInput(clause=clause_id, verdict="complies"),
        )
    set_campaign_rule(campaign, status="paused")
    with pytest.raises(ValidationError, match="paused"):
        assignment_submit(assignment=assignment, reviewer=personas.reviewer)
    assert Assignment.objects.get(pk=assignment.pk).status == Assignment.Status.ACTIVE


@pytest.mark.django_db
def test_submit_through_the_page_moves_to_the_next_item(personas) -> None:
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer],
        transcripts=2,
        clause_count=1,
        k=1,
    )
    client = personas.client_for(personas.reviewer)
    ws = personas.workspace.slug
    first = client.post(f"/w/{ws}/campaigns/{campaign.pk}/claim/")
    item_id = int(first["Location"].rstrip("/").split("/")[-1])
    clause_id = campaign.campaign_clauses.get().clause_id
    saved = client.post(
        f"/api/v1/workspaces/{ws}/campaigns/{campaign.pk}/items/{item_id}/labels/",
        {"labels": [{"clause": clause_id, "verdict": "complies"}]},
        content_type="application/json",
    )
    assert saved.status_code == 200, saved.content
    response = client.post(f"/w/{ws}/campaigns/{campaign.pk}/items/{item_id}/submit/")
    assert response.status_code == 302
    next_item = int(response["Location"].rstrip("/").split("/")[-1])
    assert next_item != item_id
    assert Assignment.objects.get(item_id=item_id).status == Assignment.Status.SUBMITTED


def _submit_api(personas, campaign, item_id: int, *labels: dict):  # type: ignore[no-untyped-def]
    url = (
        f"/api/v1/workspaces/{personas.workspace.slug}/campaigns/{campaign.pk}/items/"
        f"{item_id}/labels/"
    )
    return personas.client_for(personas.reviewer).post(
        url, {"labels": list(labels), "submit": True}, content_type="application/json"
    )


@pytest.mark.django_db
def test_a_submit_with_clauses_blank_is_a_400_that_names_every_one_of_them(personas) -> None:
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer],
        transcripts=1,
        clause_count=12,
        k=1,
    )
    assignment = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    response = _submit_api(
        personas, campaign, assignment.item_id, {"clause": "clause_1", "verdict": "complies"}
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["missing_clauses"] == [f"clause_{n}" for n in range(2, 13)]
    assert body["submit"] == [
        "This campaign needs a verdict on every clause; 11 missing: clause_2, clause_3, "
        "clause_4, clause_5, clause_6, clause_7, clause_8, clause_9, clause_10, clause_11 "
        "and 1 more."
    ]
    assert Assignment.objects.get(pk=assignment.pk).status == Assignment.Status.ACTIVE
    assert not Label.objects.exists()  # the refused submit wrote nothing, not even the label


@pytest.mark.django_db
def test_the_page_form_asks_to_confirm_a_partial_submit_where_the_campaign_allows_one(
    personas, campaign
) -> None:
    set_campaign_rule(campaign, require_every_clause=False)
    assignment = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    first, second = [cc.clause for cc in campaign.campaign_clauses.order_by("position")]
    label_save(
        assignment=assignment,
        reviewer=personas.reviewer,
        data=LabelInput(clause=first.pk, verdict="complies"),
    )
    client = personas.client_for(personas.reviewer)
    page = f"/w/{personas.workspace.slug}/campaigns/{campaign.pk}/items/{assignment.item_id}/"
    asked = client.post(page + "submit/", follow=True)
    assert asked.redirect_chain[-1][0] == page + "?confirm=partial"
    html = asked.content.decode()
    assert f"1 clause has no verdict: {second.key}. Submit again to confirm" in html
    assert 'name="confirm_partial" value="1"' in html
    assert Assignment.objects.get(pk=assignment.pk).status == Assignment.Status.ACTIVE
    client.post(page + "submit/", {"confirm_partial": "1"})
    assert Assignment.objects.get(pk=assignment.pk).status == Assignment.Status.SUBMITTED


@pytest.mark.django_db
def test_the_page_form_names_the_missing_clauses_when_every_clause_is_required(
    personas, campaign
) -> None:
    assignment = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    first, second = [cc.clause for cc in campaign.campaign_clauses.order_by("position")]
    label_save(
        assignment=assignment,
        reviewer=personas.reviewer,
        data=LabelInput(clause=first.pk, verdict="complies"),
    )
    client = personas.client_for(personas.reviewer)
    page = f"/w/{personas.workspace.slug}/campaigns/{campaign.pk}/items/{assignment.item_id}/"
    refused = client.post(page + "submit/", {"confirm_partial": "1"}, follow=True)
    html = refused.content.decode()
    assert f"This campaign needs a verdict on every clause; 1 missing: {second.key}." in html
    assert "missing_clauses" not in html
    assert Assignment.objects.get(pk=assignment.pk).status == Assignment.Status.ACTIVE
