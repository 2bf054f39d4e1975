"""Opening a campaign: the form, the API, scopes, custom scales and roles."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from reviews.models import Campaign, CampaignReviewer, Item
from reviews.services.campaigns import XSTEST_VERDICT_SCALE, campaign_create, validate_scale
from tests.reviews.factories import make_published_version, make_transcript


@pytest.mark.django_db
def test_an_adjudicator_opens_a_campaign_on_a_subtree_from_the_form(personas) -> None:
    version = make_published_version(personas.workspace, clause_count=4)
    for _ in range(3):
        make_transcript(personas.workspace, tags=["xstest"])
    make_transcript(personas.workspace, tags=["other"])
    client = personas.client_for(personas.adjudicator)
    response = client.post(
        f"/w/{personas.workspace.slug}/campaigns/new/",
        {
            "title": "XSTest sample",
            "spec_version": version.pk,
            "scope": "subtree",
            "parent_key": "clause_1",
            "source": "tag",
            "tag": "xstest",
            "reviewers_per_item": 2,
            "blind": "on",
            "verdict_preset": "xstest",
            "reviewers": [personas.reviewer.pk, personas.second_reviewer.pk],
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get()
    assert campaign.verdict_scale == XSTEST_VERDICT_SCALE
    assert campaign.clauses.count() == 4
    assert Item.objects.filter(campaign=campaign, open_slots=2).count() == 3
    assert CampaignReviewer.objects.filter(campaign=campaign).count() == 2


@pytest.mark.django_db
def test_the_form_previews_how_many_transcripts_match(personas) -> None:
    make_transcript(personas.workspace, tags=["hh"])
    client = personas.client_for(personas.adjudicator)
    response = client.get(
        f"/w/{personas.workspace.slug}/campaigns/new/?preview=1&source=tag&tag=hh",
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "1 transcript match" in response.content.decode()
    assert "<form" not in response.content.decode()


@pytest.mark.django_db
def test_a_custom_scale_is_validated(personas) -> None:
    version = make_published_version(personas.workspace)
    transcript = make_transcript(personas.workspace)
    client = personas.client_for(personas.adjudicator)
    response = client.post(
        f"/w/{personas.workspace.slug}/campaigns/new/",
        {
            "title": "Bad scale",
            "spec_version": version.pk,
            "scope": "all",
            "source": "all",
            "reviewers_per_item": 1,
            "verdict_preset": "custom",
            "verdict_custom": "Yes Please | yes\nok | fine",
        },
    )
    assert response.status_code == 200
    assert "must be 1-40 of a-z" in response.content.decode()
    assert not Campaign.objects.exists()
    with pytest.raises(ValidationError):
        validate_scale([{"value": "a"}, {"value": "a"}], name="verdict_scale", minimum=2)
    with pytest.raises(ValidationError):
        campaign_create(
            workspace=personas.workspace,
            actor=personas.adjudicator,
            title="x",
            spec_version=version,
            clauses=list(version.clauses.all()),
            transcript_ids=[transcript.pk],
            verdict_scale=[{"value": "only_one"}],
        )


@pytest.mark.django_db
def test_t08_a_reviewer_cannot_open_a_campaign(personas) -> None:
    version = make_published_version(personas.workspace)
    make_transcript(personas.workspace)
    client = personas.client_for(personas.reviewer)
    assert client.get(f"/w/{personas.workspace.slug}/campaigns/new/").status_code == 403
    api = client.post(
        f"/api/v1/workspaces/{personas.workspace.slug}/campaigns/",
        {"title": "x", "spec_version": version.pk},
        content_type="application/json",
    )
    assert api.status_code == 403
    assert not Campaign.objects.exists()


@pytest.mark.django_db
def test_campaigns_pin_a_published_version_of_the_same_workspace(personas) -> None:
    foreign = make_published_version(personas.other_workspace)
    transcript = make_transcript(personas.workspace)
    with pytest.raises(ValidationError):
        campaign_create(
            workspace=personas.workspace,
            actor=personas.adjudicator,
            title="x",
            spec_version=foreign,
            clauses=list(foreign.clauses.all()),
            transcript_ids=[transcript.pk],
        )
    client = personas.client_for(personas.adjudicator)
    response = client.post(
        f"/api/v1/workspaces/{personas.workspace.slug}/campaigns/",
        {"title": "x", "spec_version": foreign.pk},
        content_type="application/json",
    )
    assert response.status_code == 404


@pytest.mark.django_db
def test_the_api_opens_a_campaign_with_a_custom_scale_and_lists_it(personas) -> None:
    version = make_published_version(personas.workspace, clause_count=3)
    make_transcript(personas.workspace, external_id="a")
    client = personas.client_for(personas.editor)
    api = f"/api/v1/workspaces/{personas.workspace.slug}/campaigns/"
    response = client.post(
        api,
        {
            "title": "API campaign",
            "spec_version": version.pk,
            "clause_keys": ["clause_2", "clause_3"],
            "reviewers": [personas.reviewer.email],
            "reviewers_per_item": 1,
            "blind": False,
            "verdict_scale": XSTEST_VERDICT_SCALE,
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["clauses"] == ["clause_2", "clause_3"]
    listed = client.get(api).json()
    assert listed["count"] == 1 and listed["results"][0]["title"] == "API campaign"
    claim = personas.client_for(personas.reviewer).post(f"{api}{response.json()['id']}/claim/")
    assert claim.status_code == 200 and claim.json()["status"] == "active"
