"""The items API tells a blind reviewer no more than the campaign page does."""

from __future__ import annotations

from django.urls import reverse
from rest_framework.test import APIClient

from reviews.models import Item
from tests.reviews.factories import label_and_submit, make_campaign


def _states(client: APIClient, campaign, slug: str) -> dict[int, str | None]:
    url = reverse("api-campaign-items", args=[slug, campaign.pk])
    response = client.get(url)
    assert response.status_code == 200
    return {row["id"]: row["state"] for row in response.json()["results"]}


def test_a_blind_reviewer_sees_the_state_only_of_items_they_submitted(personas):
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.owner,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=2,
        clause_count=1,
        k=2,
    )
    label_and_submit(campaign, personas.reviewer, ["complies"])
    label_and_submit(campaign, personas.second_reviewer, ["violates"])  # same first item: disputed
    submitted = Item.objects.get(campaign=campaign, assignments__reviewer=personas.reviewer)
    other = Item.objects.filter(campaign=campaign).exclude(pk=submitted.pk).get()
    Item.objects.filter(pk=other.pk).update(state="disputed")  # a state the reviewer must not see

    client = APIClient()
    client.force_authenticate(personas.reviewer)
    states = _states(client, campaign, personas.workspace.slug)
    assert states[submitted.pk] == "disputed"
    assert states[other.pk] is None

    client.force_authenticate(personas.adjudicator)
    states = _states(client, campaign, personas.workspace.slug)
    assert states == {submitted.pk: "disputed", other.pk: "disputed"}


def test_an_open_campaign_shows_every_state_to_reviewers(personas):
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.owner,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=2,
        clause_count=1,
        blind=False,
    )
    Item.objects.filter(campaign=campaign).update(state="agreed")
    client = APIClient()
    client.force_authenticate(personas.reviewer)
    assert set(_states(client, campaign, personas.workspace.slug).values()) == {"agreed"}
