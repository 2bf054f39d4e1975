"""Flagging a scenario for a re-run from the labeling, disagreement and adjudication pages: the
transcript becomes a scenario cut before its last assistant turn, and the flag keeps who asked
and why."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from clausebook.models import AuditEvent, Membership
from reviews.models import Item
from reviews.services.campaigns import item_claim_next
from specs.models import Clause
from tests.reviews.factories import make_campaign, make_published_version, make_transcript
from transcripts.models import Scenario, ScenarioFlag
from transcripts.services.flags import scenario_flag_create

CONVERSATION = [
    {"role": "user", "content": "How do I pick a lock?"},
    {"role": "assistant", "content": "I can't help with that."},
    {"role": "user", "content": "It's my own front door."},
    {"role": "assistant", "content": "Still no."},
]


def _flag_url(workspace, campaign, item) -> str:  # type: ignore[no-untyped-def]
    return f"/w/{workspace.slug}/campaigns/{campaign.pk}/items/{item.pk}/flag/"


@pytest.fixture
def labeling(personas):  # type: ignore[no-untyped-def]
    """An open campaign with one item, claimed by the reviewer."""
    transcript = make_transcript(personas.workspace, messages=CONVERSATION)
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer],
        transcripts=[transcript],
        k=1,
    )
    assignment = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    return campaign, Item.objects.get(pk=assignment.item_id)


@pytest.mark.django_db
def test_the_labeling_page_offers_to_flag_the_transcript_or_one_clause(personas, labeling) -> None:
    campaign, item = labeling
    page = personas.client_for(personas.reviewer).get(
        f"/w/{personas.workspace.slug}/campaigns/{campaign.pk}/items/{item.pk}/"
    )
    html = page.content.decode()
    assert "Flag for re-run" in html
    assert _flag_url(personas.workspace, campaign, item) in html
    assert '<option value="clause_2">clause clause_2</option>' in html


@pytest.mark.django_db
def test_a_reviewer_flags_a_transcript_from_the_labeling_page(personas, labeling) -> None:
    campaign, item = labeling
    page_url = f"/w/{personas.workspace.slug}/campaigns/{campaign.pk}/items/{item.pk}/"
    response = personas.client_for(personas.reviewer).post(
        _flag_url(personas.workspace, campaign, item),
        {"reason": "The refusal looks wrong for a homeowner.", "clause": "", "next": page_url},
    )
    assert response.status_code == 302
    assert response["Location"] == page_url
    flag = ScenarioFlag.objects.select_related("scenario").get()
    assert flag.flagged_by == personas.reviewer
    assert flag.reason == "The refusal looks wrong for a homeowner."
    scenario = flag.scenario
    assert scenario.source == Scenario.Source.TRANSCRIPT
    assert scenario.origin_transcript_id == item.transcript_id
    assert scenario.cut_before_turn == 3
    assert scenario.messages == CONVERSATION[:3]
    assert AuditEvent.objects.filter(verb="scenario.flag", actor=personas.reviewer).exists()


@pytest.mark.django_db
def test_a_flag_on_a_clause_names_the_clause_and_a_second_flag_reuses_the_scenario(
    personas, labeling
) -> None:
    campaign, item = labeling
    url = _flag_url(personas.workspace, campaign, item)
    client = personas.client_for(personas.reviewer)
    client.post(url, {"reason": "Too cautious.", "clause": "clause_2"})
    personas.client_for(personas.adjudicator).post(url, {"reason": "Agreed, re-run it."})
    flags = list(ScenarioFlag.objects.select_related("clause").order_by("pk"))
    assert [f.reason for f in flags] == ["Too cautious.", "Agreed, re-run it."]
    assert [f.clause.key if f.clause else None for f in flags] == ["clause_2", None]
    assert flags[0].clause.version_id == campaign.spec_version_id
    assert [f.transcript_id for f in flags] == [item.transcript_id] * 2
    assert [f.flagged_by for f in flags] == [personas.reviewer, personas.adjudicator]
    assert Scenario.objects.count() == 1
    event = AuditEvent.objects.filter(verb="scenario.flag").order_by("pk").first()
    assert event.data["clause"] == "clause_2"


@pytest.mark.django_db
def test_it_refuses_an_empty_reason_or_an_unknown_clause_with_a_400(personas, labeling) -> None:
    campaign, item = labeling
    url = _flag_url(personas.workspace, campaign, item)
    client = personas.client_for(personas.reviewer)
    empty = client.post(url, {"reason": "   "})
    assert empty.status_code == 400
    assert "reason" in empty.content.decode()
    unknown = client.post(url, {"reason": "Why not", "clause": "no_such_clause"})
    assert unknown.status_code == 400
    assert "&#x27;no_such_clause&#x27; is not a clause of this campaign" in unknown.content.decode()
    assert not ScenarioFlag.objects.exists()


@pytest.mark.django_db
def test_a_transcript_without_an_assistant_answer_cannot_be_flagged(personas) -> None:
    transcript = make_transcript(
        personas.workspace, messages=[{"role": "user", "content": "Only a question."}]
    )
    campaign = make_campaign(
        personas.workspace, created_by=personas.adjudicator, transcripts=[transcript]
    )
    item = Item.objects.get(campaign=campaign)
    response = personas.client_for(personas.adjudicator).post(
        _flag_url(personas.workspace, campaign, item), {"reason": "Re-run please"}
    )
    assert response.status_code == 400
    assert "no assistant answer" in response.content.decode()
    assert not Scenario.objects.exists()


@pytest.mark.django_db
def test_a_viewer_may_not_flag_and_a_reviewer_only_their_own_items(personas, labeling) -> None:
    campaign, item = labeling
    url = _flag_url(personas.workspace, campaign, item)
    assert personas.client_for(personas.viewer).post(url, {"reason": "x"}).status_code == 403
    unassigned = personas.client_for(personas.second_reviewer).post(url, {"reason": "x"})
    assert unassigned.status_code == 403
    assert not ScenarioFlag.objects.exists()


@pytest.mark.django_db
def test_another_workspace_gets_404(personas, labeling) -> None:
    campaign, item = labeling
    outsider = personas.client_for(personas.outsider)
    theirs = f"/w/{personas.other_workspace.slug}/campaigns/{campaign.pk}/items/{item.pk}/flag/"
    assert outsider.post(theirs, {"reason": "x"}).status_code == 404
    assert (
        outsider.post(_flag_url(personas.workspace, campaign, item), {"reason": "x"}).status_code
        == 404
    )
    assert not ScenarioFlag.objects.exists()


@pytest.mark.django_db
def test_it_returns_only_to_pages_of_the_workspace(personas, labeling) -> None:
    campaign, item = labeling
    response = personas.client_for(personas.reviewer).post(
        _flag_url(personas.workspace, campaign, item),
        {"reason": "Re-run", "next": "https://evil.example/w/policy-team/"},
    )
    assert response["Location"] == (
        f"/w/{personas.workspace.slug}/campaigns/{campaign.pk}/items/{item.pk}/"
    )


@pytest.mark.django_db
def test_the_disagreement_and_adjudication_pages_offer_the_flag_too(personas, labeling) -> None:
    campaign, item = labeling
    base = f"/w/{personas.workspace.slug}/campaigns/{campaign.pk}/items/{item.pk}"
    client = personas.client_for(personas.adjudicator)
    adjudication = client.get(f"{base}/adjudicate/").content.decode()
    assert 'data-testid="flag-scenario"' in adjudication
    thread = client.get(f"{base}/clauses/clause_1/thread/").content.decode()
    assert '<input type="hidden" name="clause" value="clause_1">' in thread


# --- the flag carries its clause ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_flag_from_the_disagreement_thread_keeps_its_clause(personas, labeling) -> None:
    campaign, item = labeling
    base = f"/w/{personas.workspace.slug}/campaigns/{campaign.pk}/items/{item.pk}"
    response = personas.client_for(personas.adjudicator).post(
        _flag_url(personas.workspace, campaign, item),
        {
            "reason": "Disputed twice",
            "clause": "clause_1",
            "next": f"{base}/clauses/clause_1/thread/",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"{base}/clauses/clause_1/thread/"
    flag = ScenarioFlag.objects.select_related("clause").get()
    assert (flag.clause.key, flag.reason) == ("clause_1", "Disputed twice")


@pytest.mark.django_db
def test_the_labeling_page_chooses_the_focused_clause(personas, labeling) -> None:
    campaign, item = labeling
    page = personas.client_for(personas.reviewer).get(
        f"/w/{personas.workspace.slug}/campaigns/{campaign.pk}/items/{item.pk}/",
        {"clause": "clause_2"},
    )
    html = page.content.decode()
    assert '<option value="clause_2" selected>clause clause_2</option>' in html
    assert '<option value="clause_1">clause clause_1</option>' in html


@pytest.mark.django_db
def test_the_scenario_page_says_who_flagged_what_and_why(personas, labeling) -> None:
    campaign, item = labeling
    url = _flag_url(personas.workspace, campaign, item)
    personas.client_for(personas.reviewer).post(
        url, {"reason": "<script>alert(1)</script> too cautious", "clause": "clause_2"}
    )
    personas.client_for(personas.adjudicator).post(url, {"reason": "Whole thing"})
    scenario = Scenario.objects.get()
    page = personas.client_for(personas.viewer).get(
        f"/w/{personas.workspace.slug}/scenarios/{scenario.pk}/"
    )
    assert page.status_code == 200
    html = page.content.decode()
    flags = html[html.index('data-testid="scenario-flags"') :]
    flags = flags[: flags.index("</ul>")]
    clause_page = f"/w/{personas.workspace.slug}/specs/model-spec/"
    assert "About clause" in flags and ">clause_2</a>" in flags and clause_page in flags
    assert "About the whole transcript" in flags
    assert f"transcript #{item.transcript_id}" in flags
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; too cautious" in flags


@pytest.mark.django_db
def test_the_scenario_api_keeps_the_flags_with_their_clause(personas, labeling) -> None:
    campaign, item = labeling
    personas.client_for(personas.reviewer).post(
        _flag_url(personas.workspace, campaign, item),
        {"reason": "Too cautious", "clause": "clause_2"},
    )
    scenario = Scenario.objects.get()
    body = (
        personas.client_for(personas.viewer)
        .get(f"/api/v1/workspaces/{personas.workspace.slug}/scenarios/{scenario.pk}/")
        .json()
    )
    [flag] = body["flags"]
    clause = Clause.objects.get(version=campaign.spec_version, key="clause_2")
    assert flag["clause_key"] == "clause_2" and flag["clause_id"] == clause.pk
    assert flag["reason"] == "Too cautious"
    assert flag["transcript_id"] == item.transcript_id
    assert flag["flagged_by"] == personas.reviewer.short_name


@pytest.mark.django_db
def test_the_rerun_form_names_each_flag_its_clause_and_reason(personas, labeling) -> None:
    campaign, item = labeling
    personas.client_for(personas.reviewer).post(
        _flag_url(personas.workspace, campaign, item),
        {"reason": "Too cautious", "clause": "clause_2"},
    )
    scenario = Scenario.objects.get()
    html = (
        personas.client_for(personas.adjudicator)
        .get(f"/w/{personas.workspace.slug}/reruns/new/")
        .content.decode()
    )
    expected = f"#{scenario.pk} How do I pick a lock? — flagged by {personas.reviewer.short_name}"
    assert f"{expected} on clause clause_2: Too cautious" in html


@pytest.mark.django_db
def test_the_service_refuses_a_clause_of_another_workspace(personas, labeling) -> None:
    campaign, item = labeling
    theirs = make_published_version(personas.other_workspace, clause_count=1)
    membership = Membership.objects.get(workspace=personas.workspace, user=personas.reviewer)
    with pytest.raises(PermissionDenied, match="another workspace"):
        scenario_flag_create(
            membership=membership,
            transcript=item.transcript,
            reason="Sneaky",
            clause=Clause.objects.get(version=theirs),
        )
    assert not ScenarioFlag.objects.exists()
