"""The campaign lifecycle: draft → open (only with k seated reviewers) → paused → open → closed,
seats added and removed later, every write checked against the revision the client saw."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from clausebook.models import AuditEvent
from reviews.models import Assignment, Campaign, CampaignReviewer, Item, ItemState
from reviews.services.campaign_lifecycle import (
    CampaignConflict,
    campaign_close,
    campaign_open,
    campaign_pause,
    campaign_resume,
    campaign_reviewer_remove,
    campaign_reviewers_add,
)
from reviews.services.campaigns import item_claim_next
from tests.reviews.factories import make_campaign

pytestmark = pytest.mark.django_db


def _draft(personas, *, reviewers=None, k=2, transcripts=3):  # type: ignore[no-untyped-def]
    if reviewers is None:
        reviewers = [personas.reviewer, personas.second_reviewer]
    return make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=reviewers,
        k=k,
        transcripts=transcripts,
        status="draft",
    )


def _api(personas, campaign, action: str = "") -> str:  # type: ignore[no-untyped-def]
    base = f"/api/v1/workspaces/{personas.workspace.slug}/campaigns/{campaign.pk}/"
    return base + (f"{action}/" if action else "")


def _page(personas, campaign, action: str = "") -> str:  # type: ignore[no-untyped-def]
    base = f"/w/{personas.workspace.slug}/campaigns/{campaign.pk}/"
    return base + (f"{action}/" if action else "")


# --- Opening ---------------------------------------------------------------------------------


def test_a_new_campaign_is_a_draft_that_nobody_can_claim_from(personas) -> None:
    campaign = _draft(personas)
    assert campaign.status == Campaign.Status.DRAFT
    with pytest.raises(ValidationError, match="draft"):
        item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    assert not Assignment.objects.exists()


def test_it_refuses_to_open_with_fewer_seated_reviewers_than_k(personas) -> None:
    campaign = _draft(personas, reviewers=[personas.reviewer], k=2)
    with pytest.raises(ValidationError, match="1 reviewer seated, and each item needs 2"):
        campaign_open(campaign=campaign, actor=personas.adjudicator, revision=campaign.revision)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.revision) == (Campaign.Status.DRAFT, 1)
    assert not AuditEvent.objects.filter(verb="campaign.open").exists()


def test_the_api_says_why_a_campaign_short_of_reviewers_cannot_open(personas) -> None:
    campaign = _draft(personas, reviewers=[personas.reviewer], k=2)
    client = personas.client_for(personas.adjudicator)
    response = client.post(
        _api(personas, campaign, "open"), {"revision": 1}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "each item needs 2" in response.json()["reviewers"][0]
    detail = client.get(_api(personas, campaign)).json()
    assert (detail["status"], detail["seated_reviewers"], detail["short_of_reviewers"]) == (
        "draft",
        1,
        True,
    )
    assert "Short of reviewers" in detail["warnings"][0]


def test_opening_with_k_seated_reviewers_lets_them_claim_and_is_audited(personas) -> None:
    campaign = _draft(personas)
    opened = campaign_open(campaign=campaign, actor=personas.adjudicator, revision=1)
    assert (opened.status, opened.revision) == (Campaign.Status.OPEN, 2)
    assert opened.opened_at is not None
    assert item_claim_next(campaign=opened, reviewer=personas.reviewer) is not None
    event = AuditEvent.objects.get(verb="campaign.open")
    assert (event.actor, event.target_id, event.data["revision"]) == (
        personas.adjudicator,
        str(campaign.pk),
        2,
    )


def test_the_form_can_create_and_open_in_one_step_only_with_k_reviewers(personas) -> None:
    from tests.reviews.factories import make_published_version, make_transcript

    version = make_published_version(personas.workspace)
    make_transcript(personas.workspace)
    client = personas.client_for(personas.adjudicator)
    form = {
        "title": "One step",
        "spec_version": version.pk,
        "scope": "all",
        "source": "all",
        "reviewers_per_item": 2,
        "verdict_preset": "default",
        "open_now": "on",
        "reviewers": [personas.reviewer.email],
    }
    refused = client.post(f"/w/{personas.workspace.slug}/campaigns/new/", form)
    assert refused.status_code == 200
    assert "each item needs 2" in refused.content.decode()
    assert not Campaign.objects.exists()
    form["reviewers"] = [personas.reviewer.email, personas.second_reviewer.email]
    created = client.post(f"/w/{personas.workspace.slug}/campaigns/new/", form)
    assert created.status_code == 302
    assert Campaign.objects.get().status == Campaign.Status.OPEN


# --- Pause, resume, close --------------------------------------------------------------------


def test_a_paused_campaign_hands_out_nothing_until_it_resumes(personas) -> None:
    campaign = _draft(personas)
    campaign = campaign_open(campaign=campaign, actor=personas.adjudicator, revision=1)
    campaign = campaign_pause(campaign=campaign, actor=personas.adjudicator, revision=2)
    with pytest.raises(ValidationError, match="paused"):
        item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    campaign = campaign_resume(campaign=campaign, actor=personas.adjudicator, revision=3)
    assert campaign.status == Campaign.Status.OPEN
    assert item_claim_next(campaign=campaign, reviewer=personas.reviewer) is not None
    verbs = list(
        AuditEvent.objects.filter(verb__startswith="campaign.")
        .order_by("id")
        .values_list("verb", flat=True)
    )
    assert verbs == ["campaign.create", "campaign.open", "campaign.pause", "campaign.resume"]


def test_a_closed_campaign_is_final(personas) -> None:
    campaign = _draft(personas)
    campaign = campaign_open(campaign=campaign, actor=personas.adjudicator, revision=1)
    campaign = campaign_close(campaign=campaign, actor=personas.adjudicator, revision=2)
    assert campaign.status == Campaign.Status.CLOSED and campaign.closed_at is not None
    with pytest.raises(ValidationError, match="closed: it cannot be resumed"):
        campaign_resume(campaign=campaign, actor=personas.adjudicator, revision=3)
    with pytest.raises(ValidationError, match="closed: its reviewers can no longer change"):
        campaign_reviewers_add(
            campaign=campaign, actor=personas.adjudicator, reviewers=[personas.editor], revision=3
        )
    with pytest.raises(ValidationError, match="closed"):
        item_claim_next(campaign=campaign, reviewer=personas.reviewer)


def test_the_api_walks_the_whole_lifecycle_with_revisions(personas) -> None:
    campaign = _draft(personas)
    client = personas.client_for(personas.adjudicator)
    revision = client.get(_api(personas, campaign)).json()["revision"]
    for action, status in [
        ("open", "open"),
        ("pause", "paused"),
        ("resume", "open"),
        ("close", "closed"),
    ]:
        response = client.post(
            _api(personas, campaign, action),
            {"revision": revision},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        assert response.json()["status"] == status
        assert response.json()["revision"] == revision + 1
        revision += 1


def test_a_lifecycle_write_without_a_revision_is_a_400_naming_it(personas) -> None:
    campaign = _draft(personas)
    client = personas.client_for(personas.adjudicator)
    response = client.post(_api(personas, campaign, "open"), {}, content_type="application/json")
    assert response.status_code == 400
    assert "revision" in response.json()


@pytest.mark.parametrize("persona", ["reviewer", "viewer"])
def test_only_an_adjudicator_or_above_changes_the_lifecycle(personas, persona) -> None:
    campaign = _draft(personas)
    client = personas.client_for(getattr(personas, persona))
    api = client.post(
        _api(personas, campaign, "open"), {"revision": 1}, content_type="application/json"
    )
    page = client.post(_page(personas, campaign, "open"), {"revision": 1})
    assert (api.status_code, page.status_code) == (403, 403)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_another_workspace_gets_404_for_a_lifecycle_write(personas) -> None:
    campaign = _draft(personas)
    client = personas.client_for(personas.outsider)
    url = f"/api/v1/workspaces/{personas.other_workspace.slug}/campaigns/{campaign.pk}/open/"
    assert client.post(url, {"revision": 1}, content_type="application/json").status_code == 404


# --- Stale revisions -------------------------------------------------------------------------


def test_it_rejects_a_stale_revision_with_the_current_state(personas) -> None:
    campaign = _draft(personas)
    campaign_open(campaign=campaign, actor=personas.adjudicator, revision=1)
    with pytest.raises(CampaignConflict) as conflict:
        campaign_close(campaign=campaign, actor=personas.owner, revision=1)
    assert (conflict.value.current.status, conflict.value.current.revision) == ("open", 2)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.OPEN


def test_the_api_answers_409_with_the_current_campaign_on_a_stale_revision(personas) -> None:
    campaign = _draft(personas)
    client = personas.client_for(personas.adjudicator)
    first = client.post(
        _api(personas, campaign, "open"), {"revision": 1}, content_type="application/json"
    )
    assert first.status_code == 200
    stale = client.post(
        _api(personas, campaign, "pause"), {"revision": 1}, content_type="application/json"
    )
    assert stale.status_code == 409
    body = stale.json()
    assert (body["current"]["status"], body["current"]["revision"]) == ("open", 2)
    assert "changed since you loaded it" in body["detail"]
    assert not AuditEvent.objects.filter(verb="campaign.pause").exists()


def test_the_page_answers_409_and_shows_the_campaign_as_it_is_now(personas) -> None:
    campaign = _draft(personas)
    client = personas.client_for(personas.adjudicator)
    page = client.get(_page(personas, campaign)).content.decode()
    assert 'data-testid="campaign-open"' in page and 'name="revision" value="1"' in page
    assert client.post(_page(personas, campaign, "open"), {"revision": 1}).status_code == 302
    stale = client.post(_page(personas, campaign, "close"), {"revision": 1})
    assert stale.status_code == 409
    html = stale.content.decode()
    assert "changed since you loaded it" in html
    assert 'data-testid="campaign-pause"' in html and 'name="revision" value="2"' in html
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.OPEN


def test_a_refused_page_action_is_a_400_with_the_reason(personas) -> None:
    campaign = _draft(personas, reviewers=[personas.reviewer])
    client = personas.client_for(personas.adjudicator)
    response = client.post(_page(personas, campaign, "open"), {"revision": 1})
    assert response.status_code == 400
    assert "each item needs 2" in response.content.decode()


# --- Seats -----------------------------------------------------------------------------------


def test_reviewers_added_later_let_a_short_campaign_open(personas) -> None:
    campaign = _draft(personas, reviewers=[personas.reviewer])
    client = personas.client_for(personas.adjudicator)
    added = client.post(
        _api(personas, campaign, "reviewers"),
        {"revision": 1, "reviewers": [personas.second_reviewer.email]},
        content_type="application/json",
    )
    assert added.status_code == 200, added.content
    assert (added.json()["seated_reviewers"], added.json()["short_of_reviewers"]) == (2, False)
    opened = client.post(
        _api(personas, campaign, "open"), {"revision": 2}, content_type="application/json"
    )
    assert opened.status_code == 200 and opened.json()["status"] == "open"
    assert AuditEvent.objects.filter(verb="campaign.reviewers_add").count() == 1


def test_seating_someone_who_is_not_a_member_is_a_400_naming_them(personas) -> None:
    campaign = _draft(personas)
    client = personas.client_for(personas.adjudicator)
    response = client.post(
        _api(personas, campaign, "reviewers"),
        {"revision": 1, "reviewers": [personas.outsider.email]},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert personas.outsider.email in response.json()["reviewers"][0]
    with pytest.raises(ValidationError, match=r"need the reviewer role \(or higher\).*viewer@"):
        campaign_reviewers_add(
            campaign=campaign, actor=personas.adjudicator, reviewers=[personas.viewer], revision=1
        )


def test_removing_a_reviewer_returns_their_slot_and_keeps_their_submitted_work(personas) -> None:
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        k=2,
        transcripts=3,
    )
    done = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    Assignment.objects.filter(pk=done.pk).update(status=Assignment.Status.SUBMITTED)
    in_progress = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    assert Item.objects.get(pk=in_progress.item_id).open_slots == 1
    campaign = campaign_reviewer_remove(
        campaign=campaign,
        actor=personas.adjudicator,
        reviewer=personas.reviewer,
        revision=campaign.revision,
    )
    assert Item.objects.get(pk=in_progress.item_id).open_slots == 2
    assert Assignment.objects.get(pk=in_progress.pk).status == Assignment.Status.RELEASED
    assert Assignment.objects.get(pk=done.pk).status == Assignment.Status.SUBMITTED
    seat = CampaignReviewer.objects.get(campaign=campaign, user=personas.reviewer)
    assert seat.removed_at is not None
    assert (campaign.seated_count, campaign.short_of_reviewers) == (1, True)
    # The slot goes to someone else; the removed reviewer can no longer claim.
    theirs = item_claim_next(campaign=campaign, reviewer=personas.second_reviewer)
    assert theirs is not None
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    event = AuditEvent.objects.get(verb="campaign.reviewer_remove")
    assert event.data["released_items"] == [in_progress.item_id]
    assert "short of reviewers" in event.summary


def test_removing_a_reviewer_re_evaluates_the_campaigns_outcomes(personas) -> None:
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=2,
    )
    # An item state that its (absent) labels do not support: the re-evaluation puts it right.
    Item.objects.filter(campaign=campaign).update(state=ItemState.DISPUTED)
    campaign_reviewer_remove(
        campaign=campaign,
        actor=personas.adjudicator,
        reviewer=personas.second_reviewer,
        revision=campaign.revision,
    )
    assert set(Item.objects.filter(campaign=campaign).values_list("state", flat=True)) == {
        ItemState.OPEN
    }


def test_a_campaign_that_falls_below_k_says_so_on_its_page_and_in_the_api(personas) -> None:
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        k=2,
    )
    client = personas.client_for(personas.adjudicator)
    assert "Short of reviewers" not in client.get(_page(personas, campaign)).content.decode()
    removed = client.delete(
        _api(personas, campaign, "reviewers"),
        {"revision": campaign.revision, "reviewer": personas.second_reviewer.email},
        content_type="application/json",
    )
    assert removed.status_code == 200, removed.content
    body = removed.json()
    assert (body["status"], body["seated_reviewers"], body["short_of_reviewers"]) == (
        "open",
        1,
        True,
    )
    page = client.get(_page(personas, campaign)).content.decode()
    assert "Short of reviewers: 1 seated, and each item needs 2" in page
    seats = client.get(_api(personas, campaign, "reviewers")).json()
    assert [(s["email"], s["seated"]) for s in seats] == [
        (personas.reviewer.email, True),
        (personas.second_reviewer.email, False),
    ]


def test_the_page_removes_and_seats_reviewers(personas) -> None:
    campaign = _draft(personas)
    client = personas.client_for(personas.adjudicator)
    removed = client.post(
        _page(personas, campaign, "reviewers/remove"),
        {"revision": 1, "reviewer": personas.second_reviewer.pk},
    )
    assert removed.status_code == 302
    added = client.post(
        _page(personas, campaign, "reviewers"),
        {"revision": 2, "reviewers": [personas.second_reviewer.email, personas.editor.email]},
    )
    assert added.status_code == 302
    seated = CampaignReviewer.objects.seated().filter(campaign=campaign)
    assert set(seated.values_list("user__email", flat=True)) == {
        personas.reviewer.email,
        personas.second_reviewer.email,
        personas.editor.email,
    }
    campaign.refresh_from_db()
    assert campaign.revision == 3


def test_removing_someone_not_seated_is_refused(personas) -> None:
    campaign = _draft(personas)
    with pytest.raises(ValidationError, match="not seated"):
        campaign_reviewer_remove(
            campaign=campaign, actor=personas.adjudicator, reviewer=personas.editor, revision=1
        )
    campaign.refresh_from_db()
    assert campaign.revision == 1


def test_two_admins_removing_the_same_reviewer_get_a_redirect_and_a_409(personas) -> None:
    campaign = _draft(personas)
    form = {"revision": 1, "reviewer": personas.second_reviewer.pk}
    url = _page(personas, campaign, "reviewers/remove")
    assert personas.client_for(personas.adjudicator).post(url, form).status_code == 302
    stale = personas.client_for(personas.owner).post(url, form)
    assert stale.status_code == 409
    assert "changed since you loaded it" in stale.content.decode()
    assert AuditEvent.objects.filter(verb="campaign.reviewer_remove").count() == 1
