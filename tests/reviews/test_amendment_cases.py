"""The cases that motivated an amendment, linked without promoting them: from the amendment
page's panel and the API, by whoever may edit amendments, idempotent, audited, refused for a case
of another workspace, kept through merge and publish, and named in the published changelog."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clausebook.models import AuditEvent
from reviews.models import AmendmentCase
from specs.amendments.services import (
    amendment_approve,
    amendment_change_add,
    amendment_merge,
    amendment_propose,
    draft_publish,
    draft_start_from,
)
from specs.models import AmendmentChange
from tests.reviews.factories import make_campaign, make_published_version
from tests.reviews.test_amendment_hooks import decide

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
WS = "policy-team"


@pytest.fixture
def setup(personas):  # type: ignore[no-untyped-def]
    version = make_published_version(personas.workspace, keys=["be_kind", "be_honest"])
    campaign = make_campaign(
        personas.workspace, created_by=personas.editor, version=version, transcripts=3
    )
    decision = decide(campaign, 1, "be_honest", "complies", by=personas.adjudicator)
    amendment = amendment_propose(
        spec=version.spec,
        base_version=version,
        title="Honest about limits",
        rationale="Reviewers split on item 2.",
        actor=personas.editor,
    )
    amendment_change_add(
        amendment=amendment,
        kind=AmendmentChange.Kind.CHANGE_CLAUSE,
        clause_key="be_honest",
        payload={"title": "Be honest about limits"},
        actor=personas.editor,
    )
    return version, campaign, decision, amendment


def panel(amendment) -> str:  # type: ignore[no-untyped-def]
    return reverse("reviews:amendment-cases-panel", args=[WS, amendment.pk])


def link(amendment, ws: str = WS) -> str:  # type: ignore[no-untyped-def]
    return reverse("reviews:amendment-case-link", args=[ws, amendment.pk])


def unlink(amendment, case) -> str:  # type: ignore[no-untyped-def]
    return reverse("reviews:amendment-case-unlink", args=[WS, amendment.pk, case.pk])


def api(amendment, ws: str = WS) -> str:  # type: ignore[no-untyped-def]
    return reverse("api-amendment-cases", args=[ws, amendment.spec.slug, amendment.pk])


def api_case(amendment, case) -> str:  # type: ignore[no-untyped-def]
    return reverse("api-amendment-case", args=[WS, amendment.spec.slug, amendment.pk, case.pk])


def test_the_amendment_page_loads_the_cases_panel(personas, setup) -> None:
    *_, amendment = setup
    page = reverse("specs:amendment-detail", args=[WS, amendment.spec.slug, amendment.pk])
    html = personas.client_for(personas.viewer).get(page).text
    assert f'hx-get="{panel(amendment)}"' in html


def test_an_editor_links_a_gold_case_from_the_page_once(personas, setup) -> None:
    _, campaign, decision, amendment = setup
    client = personas.client_for(personas.editor)
    response = client.post(link(amendment), {"decision": decision.pk})
    case = AmendmentCase.objects.get(amendment=amendment)
    assert response.status_code == 302 and response["Location"].endswith(f"#case-{case.pk}")
    assert (case.item_id, case.clause_id, case.decision_id) == (
        decision.item_id,
        decision.clause_id,
        decision.pk,
    )
    html = personas.client_for(personas.viewer).get(panel(amendment), **HX).text
    assert campaign.title in html and "item #2" in html and "be_honest" in html
    assert f"gold decision #{decision.pk}" in html
    assert 'data-testid="case-link-form"' not in html  # viewers read only

    again = client.post(link(amendment), {"decision": decision.pk}, follow=True)
    assert "already linked" in again.text
    assert AmendmentCase.objects.filter(amendment=amendment).count() == 1
    event = AuditEvent.objects.get(verb="amendment.case_link")
    assert event.actor == personas.editor and event.data["decision"] == decision.pk


def test_a_pair_without_gold_is_linked_by_campaign_item_and_clause_then_unlinked(
    personas, setup
) -> None:
    _, campaign, _, amendment = setup
    client = personas.client_for(personas.adjudicator)
    response = client.post(
        link(amendment), {"campaign": campaign.pk, "item": 3, "clause_key": "be_kind"}
    )
    assert response.status_code == 302
    case = AmendmentCase.objects.get(amendment=amendment)
    assert case.item.position == 2 and case.clause.key == "be_kind" and case.decision is None
    assert "no gold decision" in client.get(panel(amendment), **HX).text

    assert client.post(unlink(amendment, case)).status_code == 302
    assert not AmendmentCase.objects.filter(amendment=amendment).exists()
    assert AuditEvent.objects.filter(verb="amendment.case_unlink", actor=personas.adjudicator)


def test_bad_cases_are_a_400_that_says_what(personas, setup) -> None:
    _, campaign, _, amendment = setup
    client = personas.client_for(personas.editor)
    response = client.post(
        link(amendment), {"campaign": campaign.pk, "item": 9, "clause_key": "be_kind"}
    )
    assert response.status_code == 400 and "no item 9" in response.text
    response = client.post(
        link(amendment), {"campaign": campaign.pk, "item": 1, "clause_key": "nope"}
    )
    assert response.status_code == 400 and "does not review clause “nope”" in response.text
    assert client.post(link(amendment), {}).status_code == 400
    assert not AmendmentCase.objects.exists()


def test_the_api_links_lists_and_unlinks(personas, setup) -> None:
    _, campaign, decision, amendment = setup
    client = personas.client_for(personas.editor)
    created = client.post(
        api(amendment), {"decision": decision.pk}, content_type="application/json"
    )
    assert created.status_code == 201
    body = created.json()
    assert body["decision"] == decision.pk and body["item_number"] == 2
    assert body["clause_key"] == "be_honest" and body["campaign"] == campaign.pk
    same = client.post(api(amendment), {"decision": decision.pk}, content_type="application/json")
    assert same.status_code == 200 and same.json()["id"] == body["id"]
    pair = client.post(
        api(amendment),
        {"item": decision.item_id, "clause_key": "be_kind"},
        content_type="application/json",
    )
    assert pair.status_code == 201 and pair.json()["decision"] is None

    listed = personas.client_for(personas.viewer).get(api(amendment)).json()["results"]
    assert [row["id"] for row in listed] == [body["id"], pair.json()["id"]]

    case = AmendmentCase.objects.get(pk=body["id"])
    assert client.delete(api_case(amendment, case)).status_code == 204
    assert [row["id"] for row in client.get(api(amendment)).json()["results"]] == [
        pair.json()["id"]
    ]
    assert client.delete(api_case(amendment, case)).status_code == 404


def test_the_api_schema_describes_the_routes(personas) -> None:
    schema = personas.client_for(personas.editor).get(reverse("api-schema")).text
    assert "/amendments/{amendment_id}/cases/" in schema
    assert "Link a motivating case" in schema


def test_reviewers_and_viewers_get_403_and_another_workspace_404(personas, setup) -> None:
    _, _, decision, amendment = setup
    for user in (personas.reviewer, personas.viewer):
        client = personas.client_for(user)
        assert client.post(link(amendment), {"decision": decision.pk}).status_code == 403
        assert (
            client.post(
                api(amendment), {"decision": decision.pk}, content_type="application/json"
            ).status_code
            == 403
        )
    outsider = personas.client_for(personas.outsider)
    assert outsider.get(panel(amendment)).status_code == 404
    assert outsider.post(link(amendment), {"decision": decision.pk}).status_code == 404
    assert outsider.post(link(amendment, "other-org"), {"decision": 1}).status_code == 404
    assert (
        outsider.post(
            api(amendment, "other-org"), {"decision": 1}, content_type="application/json"
        ).status_code
        == 404
    )
    assert not AmendmentCase.objects.exists()


def test_a_case_from_another_workspace_is_refused_with_a_400(personas, setup) -> None:
    *_, amendment = setup
    theirs = make_published_version(personas.other_workspace, keys=["be_kind"])
    campaign = make_campaign(
        personas.other_workspace, created_by=personas.outsider, version=theirs, transcripts=1
    )
    decision = decide(campaign, 0, "be_kind", "complies", by=personas.outsider)
    client = personas.client_for(personas.editor)
    response = client.post(
        api(amendment), {"decision": decision.pk}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {"decision": [f"No gold decision #{decision.pk} in this workspace."]}
    response = client.post(
        api(amendment),
        {"item": decision.item_id, "clause_key": "be_kind"},
        content_type="application/json",
    )
    assert response.status_code == 400 and "item" in response.json()
    assert not AmendmentCase.objects.exists()


def test_the_link_survives_merge_and_publish_and_the_changelog_names_the_case(
    personas, setup
) -> None:
    version, campaign, decision, amendment = setup
    client = personas.client_for(personas.editor)
    client.post(link(amendment), {"decision": decision.pk})
    client.post(link(amendment), {"campaign": campaign.pk, "item": 1, "clause_key": "be_kind"})
    draft = draft_start_from(version=version, actor=personas.editor, label="2026-03-01")
    amendment_approve(amendment=amendment, actor=personas.owner)
    amendment_merge(amendment=amendment, actor=personas.editor)
    published = draft_publish(version=draft, actor=personas.editor)

    assert AmendmentCase.objects.filter(amendment=amendment).count() == 2
    assert f"Motivating case: campaign “{campaign.title}”, item 2, clause `be_honest`" in (
        published.changelog
    )
    assert f"(decision #{decision.pk})" in published.changelog
    assert "item 1, clause `be_kind`, no gold decision" in published.changelog
    # A merged amendment's cases are what was published: they no longer change.
    response = client.post(
        link(amendment), {"campaign": campaign.pk, "item": 3, "clause_key": "be_kind"}
    )
    assert response.status_code == 400 and "can no longer change" in response.text
