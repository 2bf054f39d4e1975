"""Creating a campaign: the form and the API through one service, scopes, transcript selections,
custom scales and roles."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from reviews.models import Campaign, CampaignReviewer, Item
from reviews.selectors.campaigns import ScopeChoice, TranscriptChoice
from reviews.services.campaigns import XSTEST_VERDICT_SCALE, campaign_create, validate_scale
from tests.reviews.factories import make_published_version, make_transcript

ALL = ScopeChoice(mode="all")


@pytest.mark.django_db
def test_an_adjudicator_creates_a_draft_campaign_on_a_subtree_from_the_form(personas) -> None:
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
            "reviewers": [personas.reviewer.email, personas.second_reviewer.email],
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get()
    assert campaign.status == Campaign.Status.DRAFT  # "open now" was not ticked
    assert campaign.verdict_scale == XSTEST_VERDICT_SCALE
    assert campaign.clauses.count() == 4
    assert Item.objects.filter(campaign=campaign, open_slots=2).count() == 3
    assert CampaignReviewer.objects.filter(campaign=campaign).count() == 2


@pytest.mark.django_db
def test_the_form_previews_how_many_transcripts_match(personas) -> None:
    make_transcript(personas.workspace, tags=["hh"])
    client = personas.client_for(personas.adjudicator)
    response = client.get(
        f"/w/{personas.workspace.slug}/campaigns/new/?partial=preview&source=tag&tag=hh",
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "1 transcript match: <strong>1 item</strong>" in response.content.decode()
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
            scope=ALL,
            transcripts=TranscriptChoice(source="ids", ids=[transcript.pk]),
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
            scope=ALL,
            transcripts=TranscriptChoice(source="ids", ids=[transcript.pk]),
        )
    client = personas.client_for(personas.adjudicator)
    answers = []
    for ref in (foreign.pk, 999_999):  # another workspace's id is answered like no id at all
        response = client.post(
            f"/api/v1/workspaces/{personas.workspace.slug}/campaigns/",
            {"title": "x", "spec_version": ref},
            content_type="application/json",
        )
        assert response.status_code == 400
        answers.append(response.json()["spec_version"][0].replace(str(ref), "N"))
    assert answers == ["No spec version #N in this workspace."] * 2
    assert not Campaign.objects.exists()


@pytest.mark.django_db
def test_the_api_creates_and_opens_a_campaign_with_a_custom_scale_and_lists_it(personas) -> None:
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
            "open": True,
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert [c["key"] for c in response.json()["clauses"]] == ["clause_2", "clause_3"]
    assert (response.json()["status"], response.json()["seated_reviewers"]) == ("open", 1)
    listed = client.get(api).json()
    assert listed["count"] == 1 and listed["results"][0]["title"] == "API campaign"
    claim = personas.client_for(personas.reviewer).post(f"{api}{response.json()['id']}/claim/")
    assert claim.status_code == 200 and claim.json()["status"] == "active"


def _items(campaign: Campaign) -> list[str]:
    return list(
        Item.objects.filter(campaign=campaign)
        .order_by("position")
        .values_list("transcript__external_id", flat=True)
    )


@pytest.mark.django_db
def test_the_form_and_the_api_resolve_the_same_choices_to_the_same_campaign(personas) -> None:
    version = make_published_version(personas.workspace, clause_count=4)
    for n in range(4):
        make_transcript(personas.workspace, tags=["hh"], external_id=f"hh-{n}")
    make_transcript(personas.workspace, tags=["other"], external_id="other")
    client = personas.client_for(personas.adjudicator)
    form = client.post(
        f"/w/{personas.workspace.slug}/campaigns/new/",
        {
            "title": "From the form",
            "spec_version": version.pk,
            "scope": "subtree",
            "parent_key": "clause_1",
            "source": "tag",
            "tag": "hh",
            "limit": 3,
            "reviewers_per_item": 1,
            "verdict_preset": "default",
        },
    )
    assert form.status_code == 302, form.content.decode()[:2000]
    api = client.post(
        f"/api/v1/workspaces/{personas.workspace.slug}/campaigns/",
        {
            "title": "From the API",
            "spec_version": version.pk,
            "parent_key": "clause_1",
            "transcript_tag": "hh",
            "limit": 3,
            "reviewers_per_item": 1,
        },
        content_type="application/json",
    )
    assert api.status_code == 201, api.content
    from_form = Campaign.objects.get(title="From the form")
    from_api = Campaign.objects.get(title="From the API")
    keys = ["clause_1", "clause_2", "clause_3", "clause_4"]
    assert list(from_form.clauses.order_by("position").values_list("key", flat=True)) == keys
    assert [c["key"] for c in api.json()["clauses"]] == keys
    assert _items(from_form) == _items(from_api) == ["hh-0", "hh-1", "hh-2"]
    assert from_form.scope_description == from_api.scope_description == "Subtree clause_1"


@pytest.mark.django_db
def test_the_api_finds_transcripts_by_search_as_the_form_does(personas) -> None:
    version = make_published_version(personas.workspace)
    make_transcript(
        personas.workspace,
        external_id="needle",
        messages=[{"role": "user", "content": "Where is the Haystack?"}],
    )
    make_transcript(personas.workspace, external_id="hay")
    response = personas.client_for(personas.editor).post(
        f"/api/v1/workspaces/{personas.workspace.slug}/campaigns/",
        {"title": "Search", "spec_version": version.pk, "transcript_search": "haystack"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert _items(Campaign.objects.get()) == ["needle"]


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"clause_keys": ["clause_1", "nope"]}, "clause_keys", "Unknown keys: nope"),
        ({"parent_key": "nope"}, "parent_key", "No clause with this key"),
        ({"transcript_tag": "no-such-tag"}, "transcripts", "No transcript matches"),
        ({"transcript_ids": [999_999]}, "transcripts", "999999"),
        ({"reviewers": ["nobody@nowhere.test"]}, "reviewers", "nobody@nowhere.test"),
        ({"reviewers_per_item": 2, "open": True}, "reviewers", "each item needs 2"),
    ],
)
@pytest.mark.django_db
def test_the_api_names_what_is_wrong_with_a_choice(personas, body, field, says) -> None:
    version = make_published_version(personas.workspace)
    make_transcript(personas.workspace)
    response = personas.client_for(personas.editor).post(
        f"/api/v1/workspaces/{personas.workspace.slug}/campaigns/",
        {"title": "Bad", "spec_version": version.pk, **body},
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert says in " ".join(response.json()[field])
    assert not Campaign.objects.exists()


@pytest.mark.django_db
def test_a_foreign_transcript_id_is_refused(personas) -> None:
    version = make_published_version(personas.workspace)
    foreign = make_transcript(personas.other_workspace)
    with pytest.raises(ValidationError, match=str(foreign.pk)):
        campaign_create(
            workspace=personas.workspace,
            actor=personas.adjudicator,
            title="x",
            spec_version=version,
            scope=ALL,
            transcripts=TranscriptChoice(source="ids", ids=[foreign.pk]),
        )


@pytest.mark.django_db
def test_the_api_sets_and_shows_how_pairs_become_gold(personas) -> None:
    version = make_published_version(personas.workspace)
    make_transcript(personas.workspace)
    client = personas.client_for(personas.adjudicator)
    response = client.post(
        f"/api/v1/workspaces/{personas.workspace.slug}/campaigns/",
        {
            "title": "Adjudicate everything",
            "spec_version": version.pk,
            "gold_from_agreement": False,
            "adjudicator_may_have_labeled": True,
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["gold_from_agreement"], body["adjudicator_may_have_labeled"]) == (False, True)
    campaign = Campaign.objects.get()
    assert (campaign.gold_from_agreement, campaign.adjudicator_may_have_labeled) == (False, True)
