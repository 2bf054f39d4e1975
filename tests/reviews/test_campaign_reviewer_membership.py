"""Only current members can be seated on a campaign, and the answer for any other address is the
same whether or not it has an account (issue 9, security): the form and the API both refuse
it with a 400 naming the address, drop nothing silently and create no account or membership."""

from __future__ import annotations

import re

import pytest

from clausebook.models import Membership, User
from reviews.models import Campaign, CampaignReviewer
from tests.reviews.factories import make_campaign, make_published_version, make_transcript

pytestmark = pytest.mark.django_db

UNKNOWN = "nobody-at-all@nowhere.test"


def _counts() -> tuple[int, int, int, int]:
    return (
        User.objects.count(),
        Membership.objects.count(),
        Campaign.objects.count(),
        CampaignReviewer.objects.count(),
    )


def _form_error(html: str) -> str:
    """The reviewers field's error text on the re-rendered form."""
    match = re.search(r'<div class="field-error">(Not members[^<]*)</div>', html)
    assert match, "the form names no address"
    return match.group(1)


def _post_form(personas, version, emails: list[str]):  # type: ignore[no-untyped-def]
    return personas.client_for(personas.adjudicator).post(
        f"/w/{personas.workspace.slug}/campaigns/new/",
        {
            "title": "Membership check",
            "spec_version": version.pk,
            "scope": "all",
            "source": "all",
            "reviewers_per_item": 1,
            "verdict_preset": "default",
            "reviewers": emails,
        },
    )


def _post_api(personas, version, emails: list[str]):  # type: ignore[no-untyped-def]
    return personas.client_for(personas.adjudicator).post(
        f"/api/v1/workspaces/{personas.workspace.slug}/campaigns/",
        {"title": "Membership check", "spec_version": version.pk, "reviewers": emails},
        content_type="application/json",
    )


def test_the_form_answers_an_unknown_address_and_another_workspaces_admin_alike(personas) -> None:
    version = make_published_version(personas.workspace)
    make_transcript(personas.workspace)
    before = _counts()
    answers = {}
    for stranger in (UNKNOWN, personas.outsider.email):
        response = _post_form(personas, version, [personas.reviewer.email, stranger])
        assert response.status_code == 200  # the form again, with the error: nothing created
        answers[stranger] = _form_error(response.content.decode())
    assert answers[UNKNOWN] == f"Not members of this workspace: {UNKNOWN}."
    assert answers[personas.outsider.email] == answers[UNKNOWN].replace(
        UNKNOWN, personas.outsider.email
    )
    assert _counts() == before


def test_the_api_answers_an_unknown_address_and_another_workspaces_admin_alike(personas) -> None:
    version = make_published_version(personas.workspace)
    make_transcript(personas.workspace)
    before = _counts()
    answers = {}
    for stranger in (UNKNOWN, personas.outsider.email):
        response = _post_api(personas, version, [personas.reviewer.email, stranger])
        assert response.status_code == 400
        answers[stranger] = response.json()
    assert answers[UNKNOWN] == {"reviewers": [f"Not members of this workspace: {UNKNOWN}."]}
    assert answers[personas.outsider.email] == {
        "reviewers": [f"Not members of this workspace: {personas.outsider.email}."]
    }
    assert _counts() == before


def test_every_refused_address_is_named_and_the_member_alone_is_seated(personas) -> None:
    version = make_published_version(personas.workspace)
    make_transcript(personas.workspace)
    both = _post_api(personas, version, [personas.reviewer.email, UNKNOWN, personas.outsider.email])
    assert both.json() == {
        "reviewers": [f"Not members of this workspace: {UNKNOWN}, {personas.outsider.email}."]
    }
    member_only = _post_api(personas, version, [personas.reviewer.email.upper()])
    assert member_only.status_code == 201, member_only.content
    assert list(CampaignReviewer.objects.values_list("user__email", flat=True)) == [
        personas.reviewer.email
    ]


def test_seating_later_answers_strangers_alike_on_the_page_and_in_the_api(personas) -> None:
    campaign = make_campaign(
        personas.workspace, created_by=personas.adjudicator, reviewers=[personas.reviewer], k=1
    )
    client = personas.client_for(personas.adjudicator)
    before = _counts()
    for stranger in (UNKNOWN, personas.outsider.email):
        page = client.post(
            f"/w/{personas.workspace.slug}/campaigns/{campaign.pk}/reviewers/",
            {"revision": campaign.revision, "reviewers": [stranger]},
        )
        assert page.status_code == 400
        assert f"Not members of this workspace: {stranger}." in page.content.decode()
        api = client.post(
            f"/api/v1/workspaces/{personas.workspace.slug}/campaigns/{campaign.pk}/reviewers/",
            {"revision": campaign.revision, "reviewers": [stranger]},
            content_type="application/json",
        )
        assert api.json() == {"reviewers": [f"Not members of this workspace: {stranger}."]}
    assert _counts() == before
