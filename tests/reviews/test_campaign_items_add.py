"""Adding transcripts to an existing campaign: the service, the page and the API (issue 13).

Transcripts are chosen as at creation (one resolver), the ones already in the campaign are
skipped and counted, a closed campaign refuses with 409, another workspace's transcripts are a
400 naming the field, and new items are claimable by k reviewers at once.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connections
from django.urls import reverse
from rest_framework.test import APIClient

from clausebook.models import AuditEvent
from reviews.models import Assignment, Campaign, Item, ModelEndpoint, ModelRun, RerunJob
from reviews.selectors.campaigns import TranscriptChoice
from reviews.services.campaigns import (
    CampaignClosed,
    campaign_transcripts_add,
    item_claim_next,
)
from tests.reviews.factories import label_and_submit, make_campaign, make_transcript
from transcripts.formats import content_hash
from transcripts.models import Scenario, Transcript, TranscriptOrigin


def _campaign(personas, **kwargs):  # type: ignore[no-untyped-def]
    kwargs.setdefault("reviewers", [personas.reviewer, personas.second_reviewer])
    kwargs.setdefault("transcripts", 2)
    kwargs.setdefault("clause_count", 1)
    return make_campaign(personas.workspace, created_by=personas.adjudicator, **kwargs)


def _api_url(personas, campaign, workspace=None) -> str:  # type: ignore[no-untyped-def]
    slug = (workspace or personas.workspace).slug
    return reverse("api-campaign-items", args=[slug, campaign.pk])


def _page_url(personas, campaign) -> str:  # type: ignore[no-untyped-def]
    return reverse("reviews:campaign-items-add", args=[personas.workspace.slug, campaign.pk])


def _api(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(user)
    return client


def _transcript_ids(campaign) -> list[int]:  # type: ignore[no-untyped-def]
    return list(
        Item.objects.filter(campaign=campaign)
        .order_by("position")
        .values_list("transcript_id", flat=True)
    )


# --------------------------------------------------------------------------------------------------
# The service
# --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_added_items_follow_the_last_one_and_skip_what_is_there(personas):
    campaign = _campaign(personas, k=2)
    before = _transcript_ids(campaign)
    fresh = [make_transcript(personas.workspace).pk for _ in range(3)]

    done = campaign_transcripts_add(
        campaign=campaign,
        actor=personas.adjudicator,
        transcripts=TranscriptChoice(source="ids", ids=[fresh[0], before[0], fresh[1], fresh[2]]),
    )

    assert (done.added, done.already, done.item_count) == (3, 1, 5)
    assert _transcript_ids(campaign) == before + fresh
    new_items = Item.objects.filter(campaign=campaign, transcript_id__in=fresh)
    assert sorted(new_items.values_list("position", flat=True)) == [2, 3, 4]
    assert set(new_items.values_list("open_slots", flat=True)) == {2}
    campaign.refresh_from_db()
    assert campaign.item_count == 5
    event = AuditEvent.objects.get(verb="campaign.items_add")
    assert event.actor == personas.adjudicator
    assert event.target_id == str(campaign.pk)
    assert event.data["added"] == 3 and event.data["already"] == 1


@pytest.mark.django_db
def test_a_tag_picks_transcripts_as_it_does_at_creation(personas):
    campaign = _campaign(personas)
    tagged = [make_transcript(personas.workspace, tags=["xstest"]).pk for _ in range(2)]
    make_transcript(personas.workspace, tags=["other"])

    done = campaign_transcripts_add(
        campaign=campaign,
        actor=personas.adjudicator,
        transcripts=TranscriptChoice(source="tag", tag="xstest"),
    )

    assert done.added == 2
    assert _transcript_ids(campaign)[-2:] == tagged


@pytest.mark.django_db
def test_a_rerun_jobs_results_can_be_added(personas):
    campaign = _campaign(personas)
    prompt = [{"role": "user", "content": "How do I pick a lock?"}]
    scenario = Scenario.objects.create(
        workspace=personas.workspace,
        source=Scenario.Source.IMPORT,
        messages=prompt,
        content_hash=content_hash(prompt),
    )
    endpoint = ModelEndpoint.objects.create(
        workspace=personas.workspace, name="m", base_url="https://models.example.test/v1", model="m"
    )
    job = RerunJob.objects.create(workspace=personas.workspace, created_by=personas.adjudicator)
    produced = []
    for sample in range(2):
        answer = [*prompt, {"role": "assistant", "content": f"No ({sample})."}]
        transcript = Transcript.objects.create(
            workspace=personas.workspace,
            messages=answer,
            message_count=2,
            content_hash=content_hash(answer),
            origin=TranscriptOrigin.RERUN,
            origin_scenario=scenario,
        )
        ModelRun.objects.create(
            job=job,
            scenario=scenario,
            endpoint=endpoint,
            sample_index=sample,
            status="succeeded",
            transcript=transcript,
        )
        produced.append(transcript.pk)

    response = _api(personas.adjudicator).post(
        _api_url(personas, campaign), {"rerun_job": job.pk}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert response.json()["added"] == 2
    assert sorted(_transcript_ids(campaign)[-2:]) == sorted(produced)


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["draft", "open", "paused"])
def test_a_campaign_that_is_not_closed_takes_items(personas, status):
    campaign = _campaign(personas, status=status)
    fresh = make_transcript(personas.workspace)
    done = campaign_transcripts_add(
        campaign=campaign,
        actor=personas.adjudicator,
        transcripts=TranscriptChoice(source="ids", ids=[fresh.pk]),
    )
    assert done.added == 1


@pytest.mark.django_db
def test_a_closed_campaign_refuses_and_keeps_its_items(personas):
    campaign = _campaign(personas, status="closed")
    fresh = make_transcript(personas.workspace)
    with pytest.raises(CampaignClosed):
        campaign_transcripts_add(
            campaign=campaign,
            actor=personas.adjudicator,
            transcripts=TranscriptChoice(source="ids", ids=[fresh.pk]),
        )
    assert Item.objects.filter(campaign=campaign).count() == 2
    assert not AuditEvent.objects.filter(verb="campaign.items_add").exists()


@pytest.mark.django_db
def test_new_items_are_claimable_at_once_by_k_reviewers(personas):
    """A campaign whose work is done gets a new transcript: each of the k reviewers' next
    claim is that item, and nobody gets it a third time."""
    third = make_transcript(personas.workspace, external_id="late-one")
    campaign = _campaign(personas, transcripts=1, k=2)
    for reviewer in (personas.reviewer, personas.second_reviewer):
        label_and_submit(campaign, reviewer, ["complies"])
        assert item_claim_next(campaign=campaign, reviewer=reviewer) is None  # nothing left

    campaign_transcripts_add(
        campaign=campaign,
        actor=personas.adjudicator,
        transcripts=TranscriptChoice(source="ids", ids=[third.pk]),
    )

    new_item = Item.objects.get(campaign=campaign, transcript=third)
    for reviewer in (personas.reviewer, personas.second_reviewer):
        claimed = item_claim_next(campaign=campaign, reviewer=reviewer)
        assert claimed is not None and claimed.item_id == new_item.pk
    new_item.refresh_from_db()
    assert new_item.open_slots == 0
    # The progress the campaign page shows counts the new item's k submissions as needed.
    response = personas.client_for(personas.adjudicator).get(
        reverse("reviews:campaign-detail", args=[personas.workspace.slug, campaign.pk])
    )
    assert response.context["p"].needed == 4
    assert response.context["p"].submissions == 2


def _in_threads(work, args_list):  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(len(args_list))
    results: list = [None] * len(args_list)
    errors: list[BaseException] = []

    def run(index: int, args: tuple) -> None:  # type: ignore[type-arg]
        try:
            barrier.wait()
            results[index] = work(*args)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()  # each thread had its own connection

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(args_list)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_adds_of_the_same_transcripts_never_duplicate_an_item(personas):
    campaign = _campaign(personas)
    fresh = [make_transcript(personas.workspace).pk for _ in range(20)]
    choice = TranscriptChoice(source="ids", ids=fresh)

    results = _in_threads(
        lambda: campaign_transcripts_add(
            campaign=campaign, actor=personas.adjudicator, transcripts=choice
        ),
        [(), (), ()],
    )

    assert sorted(r.added for r in results) == [0, 0, 20]
    assert sorted(r.already for r in results) == [0, 20, 20]
    items = Item.objects.filter(campaign=campaign)
    assert items.count() == 22
    assert len(set(items.values_list("position", flat=True))) == 22
    assert Campaign.objects.get(pk=campaign.pk).item_count == 22


# --------------------------------------------------------------------------------------------------
# The API
# --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_adds_with_counts_and_a_repeat_adds_nothing(personas):
    campaign = _campaign(personas)
    fresh = [make_transcript(personas.workspace).pk for _ in range(2)]
    client = _api(personas.adjudicator)
    url = _api_url(personas, campaign)

    first = client.post(url, {"transcript_ids": [*fresh, fresh[0]]}, format="json")
    again = client.post(url, {"transcript_ids": fresh}, format="json")

    assert first.status_code == 201, first.json()
    assert first.json() == {"added": 2, "already_in_campaign": 0, "item_count": 4}
    assert again.status_code == 200
    assert again.json() == {"added": 0, "already_in_campaign": 2, "item_count": 4}
    detail = client.get(reverse("api-campaign-detail", args=[personas.workspace.slug, campaign.pk]))
    assert detail.json()["item_count"] == 4
    listed = client.get(url).json()["results"]
    assert [row["transcript"] for row in listed][-2:] == fresh


@pytest.mark.django_db
def test_api_refuses_another_workspaces_transcript_naming_the_field(personas):
    campaign = _campaign(personas)
    mine = make_transcript(personas.workspace)
    theirs = make_transcript(personas.other_workspace)

    response = _api(personas.adjudicator).post(
        _api_url(personas, campaign), {"transcript_ids": [mine.pk, theirs.pk]}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert list(body) == ["transcript_ids"]
    assert str(theirs.pk) in body["transcript_ids"][0]
    assert Item.objects.filter(campaign=campaign).count() == 2  # nothing added, not even mine


@pytest.mark.django_db
def test_api_says_which_field_picked_nothing(personas):
    campaign = _campaign(personas)
    response = _api(personas.adjudicator).post(
        _api_url(personas, campaign), {"transcript_tag": "no-such-tag"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"transcript_tag": ["No transcript matches."]}


@pytest.mark.django_db
def test_api_answers_409_with_the_campaign_when_it_is_closed(personas):
    campaign = _campaign(personas, status="closed")
    fresh = make_transcript(personas.workspace)
    response = _api(personas.adjudicator).post(
        _api_url(personas, campaign), {"transcript_ids": [fresh.pk]}, format="json"
    )
    assert response.status_code == 409
    body = response.json()
    assert "closed" in body["detail"]
    assert body["current"]["status"] == "closed"
    assert body["current"]["item_count"] == 2


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["reviewer", "viewer"])
def test_api_refuses_a_role_without_the_campaign_right(personas, persona):
    campaign = _campaign(personas)
    fresh = make_transcript(personas.workspace)
    response = _api(getattr(personas, persona)).post(
        _api_url(personas, campaign), {"transcript_ids": [fresh.pk]}, format="json"
    )
    assert response.status_code == 403
    assert Item.objects.filter(campaign=campaign).count() == 2


@pytest.mark.django_db
def test_api_hides_another_workspaces_campaign(personas):
    campaign = _campaign(personas)
    fresh = make_transcript(personas.workspace)
    response = _api(personas.outsider).post(
        _api_url(personas, campaign, personas.other_workspace),
        {"transcript_ids": [fresh.pk]},
        format="json",
    )
    assert response.status_code == 404
    assert Item.objects.filter(campaign=campaign).count() == 2


@pytest.mark.django_db
def test_the_schema_documents_the_add(personas):
    client = _api(personas.adjudicator)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    post = schema["paths"]["/api/v1/workspaces/{workspace}/campaigns/{campaign_id}/items/"]["post"]
    assert set(post["responses"]) >= {"201", "400", "409"}
    request_ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = request_ref.rsplit("/", 1)[-1]
    assert name.startswith("ItemsAddInput")
    assert "rerun_job" in schema["components"]["schemas"][name]["properties"]
    created = post["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    assert created.rsplit("/", 1)[-1] == "ItemsAddOutput"


# --------------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_campaign_page_links_to_the_add_page_for_managers_only(personas):
    campaign = _campaign(personas)
    detail = reverse("reviews:campaign-detail", args=[personas.workspace.slug, campaign.pk])
    link = _page_url(personas, campaign)
    assert link in personas.client_for(personas.adjudicator).get(detail).content.decode()
    assert link not in personas.client_for(personas.reviewer).get(detail).content.decode()


@pytest.mark.django_db
def test_the_page_previews_then_adds_and_the_campaign_shows_the_new_count(personas):
    campaign = _campaign(personas)
    already = _transcript_ids(campaign)[0]
    fresh = [make_transcript(personas.workspace).pk for _ in range(2)]
    client = personas.client_for(personas.adjudicator)
    url = _page_url(personas, campaign)
    body = {"source": "ids", "ids": " ".join(str(pk) for pk in [*fresh, already])}

    live = client.get(url, {**body, "partial": "preview"}, headers={"HX-Request": "true"})
    assert live.status_code == 200
    assert 'data-new="2"' in live.content.decode()
    assert 'data-already="1"' in live.content.decode()
    preview = client.post(url, {**body, "preview": "1"})
    assert preview.status_code == 200
    assert "2 to add" in preview.content.decode()
    assert Item.objects.filter(campaign=campaign).count() == 2  # a preview writes nothing

    added = client.post(url, body, follow=True)

    assert added.redirect_chain[-1][0].endswith(f"/campaigns/{campaign.pk}/")
    page = added.content.decode()
    assert "Added 2 transcripts; 1 was already in the campaign. It now has 4 items." in page
    assert added.context["campaign"].item_count == 4


@pytest.mark.django_db
def test_the_page_puts_a_foreign_id_error_on_the_ids_field(personas):
    campaign = _campaign(personas)
    theirs = make_transcript(personas.other_workspace)
    response = personas.client_for(personas.adjudicator).post(
        _page_url(personas, campaign), {"source": "ids", "ids": str(theirs.pk)}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["ids"] == [
        f"Not transcripts of this workspace: {theirs.pk}."
    ]
    assert Item.objects.filter(campaign=campaign).count() == 2


@pytest.mark.django_db
def test_the_page_refuses_a_closed_campaign_with_409(personas):
    campaign = _campaign(personas, status="closed")
    fresh = make_transcript(personas.workspace)
    response = personas.client_for(personas.adjudicator).post(
        _page_url(personas, campaign), {"source": "ids", "ids": str(fresh.pk)}
    )
    assert response.status_code == 409
    assert "closed" in response.content.decode()
    assert Item.objects.filter(campaign=campaign).count() == 2


@pytest.mark.django_db
def test_the_page_is_403_without_the_right_and_404_from_another_workspace(personas):
    campaign = _campaign(personas)
    url = _page_url(personas, campaign)
    assert personas.client_for(personas.reviewer).get(url).status_code == 403
    other = reverse("reviews:campaign-items-add", args=[personas.other_workspace.slug, campaign.pk])
    assert personas.client_for(personas.outsider).get(other).status_code == 404
    assert not Assignment.objects.filter(campaign=campaign).exists()
