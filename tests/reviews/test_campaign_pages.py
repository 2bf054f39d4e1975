"""The campaign pages and the API read through the same selectors, in a fixed number of queries,
and show each role only the lifecycle buttons it may press."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clausebook.models import Membership, Role
from reviews.models import Campaign
from tests.factories import UserFactory
from tests.reviews.factories import make_campaign

pytestmark = pytest.mark.django_db


def _campaign(personas, *, reviewers=None, status="open"):  # type: ignore[no-untyped-def]
    return make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=reviewers or [personas.reviewer, personas.second_reviewer],
        transcripts=2,
        status=status,
    )


def _queries(client, url: str) -> int:  # type: ignore[no-untyped-def]
    client.get(url)  # warm the session
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize(
    "url", ["/w/policy-team/campaigns/", "/api/v1/workspaces/policy-team/campaigns/"]
)
def test_the_campaign_list_runs_as_many_queries_for_five_campaigns_as_for_one(
    personas, url
) -> None:
    client = personas.client_for(personas.viewer)
    _campaign(personas)
    one = _queries(client, url)
    for _ in range(4):
        _campaign(personas)
    assert _queries(client, url) == one


def test_the_list_counts_seats_and_finished_items_without_multiplying_them(personas) -> None:
    campaign = _campaign(personas)
    campaign.items.filter(position=0).update(state="agreed")
    listed = personas.client_for(personas.viewer).get("/api/v1/workspaces/policy-team/campaigns/")
    [row] = listed.json()["results"]
    assert (row["seated_reviewers"], row["short_of_reviewers"], row["revision"]) == (2, False, 2)
    page = personas.client_for(personas.viewer).get("/w/policy-team/campaigns/")
    [shown] = page.context["campaigns"]
    assert (shown.finished, shown.seated_reviewers) == (1, 2)


def test_the_campaign_page_runs_as_many_queries_for_six_reviewers_as_for_two(personas) -> None:
    client = personas.client_for(personas.adjudicator)
    few = _campaign(personas)
    extra = []
    for n in range(4):
        user = UserFactory(email=f"seat{n}@policy.test")
        Membership.objects.create(workspace=personas.workspace, user=user, role=Role.REVIEWER)
        extra.append(user)
    many = _campaign(personas, reviewers=[personas.reviewer, personas.second_reviewer, *extra])
    assert _queries(client, f"/w/policy-team/campaigns/{many.pk}/") == _queries(
        client, f"/w/policy-team/campaigns/{few.pk}/"
    )


def test_a_viewer_sees_the_campaign_but_no_lifecycle_button(personas) -> None:
    campaign = _campaign(personas, status="draft")
    viewer = personas.client_for(personas.viewer).get(f"/w/policy-team/campaigns/{campaign.pk}/")
    assert viewer.status_code == 200
    assert 'data-testid="campaign-open"' not in viewer.content.decode()
    adjudicator = personas.client_for(personas.adjudicator).get(
        f"/w/policy-team/campaigns/{campaign.pk}/"
    )
    html = adjudicator.content.decode()
    assert 'data-testid="campaign-open"' in html and 'data-testid="campaign-close"' in html
    assert 'data-testid="campaign-pause"' not in html


def test_the_open_button_is_disabled_while_short_of_reviewers(personas) -> None:
    campaign = _campaign(personas, reviewers=[personas.reviewer], status="draft")
    html = (
        personas.client_for(personas.adjudicator)
        .get(f"/w/policy-team/campaigns/{campaign.pk}/")
        .content.decode()
    )
    assert 'data-testid="campaign-open" disabled title="Seat at least 2 reviewers first."' in html


def test_the_queue_shows_a_paused_campaign_without_a_start_button(personas) -> None:
    opened = _campaign(personas)
    paused = _campaign(personas, status="paused")
    draft = _campaign(personas, status="draft")
    Campaign.objects.filter(pk=draft.pk).update(title="A draft nobody sees")
    html = personas.client_for(personas.reviewer).get("/w/policy-team/queue/").content.decode()
    assert f'data-testid="start-{opened.pk}"' in html
    assert f'data-testid="start-{paused.pk}"' not in html and "Paused" in html
    assert "A draft nobody sees" not in html


# --- The item list (issue 9) -----------------------------------------------------------------


def _item_rows(html: str) -> list[str]:
    table = html[html.index('data-testid="item-list"') :]
    table = table[: table.index("</table>")]
    return [" ".join(row.split()) for row in re.findall(r"<tr data-testid=.*?</tr>", table, re.S)]


def test_the_campaign_page_lists_items_in_pages_with_their_state_and_position(personas) -> None:
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=60,
    )
    campaign.items.filter(position=1).update(state="disputed")
    client = personas.client_for(personas.adjudicator)
    url = f"/w/policy-team/campaigns/{campaign.pk}/"
    first = client.get(url).content.decode()
    rows = _item_rows(first)
    assert len(rows) == 50
    assert '<td class="num">1</td>' in rows[0] and ">Open</span>" in rows[0]
    assert '<td class="num">2</td>' in rows[1] and ">Disputed</span>" in rows[1]
    assert "Items 1–50 of 60 · page 1 of 2" in " ".join(first.split())
    assert 'data-testid="items-claim"' not in first  # the adjudicator holds no seat
    second = _item_rows(client.get(url, {"page": 2}).content.decode())
    assert len(second) == 10 and '<td class="num">60</td>' in second[-1]
    item = campaign.items.get(position=1)
    assert f'href="/w/policy-team/campaigns/{campaign.pk}/items/{item.pk}/"' in rows[1]
    disputed = _item_rows(client.get(url, {"state": "disputed"}).content.decode())
    assert len(disputed) == 1 and ">Disputed</span>" in disputed[0]


def test_a_blind_reviewer_sees_no_state_but_their_own_item_and_the_claim_button(personas) -> None:
    from reviews.services.campaigns import item_claim_next

    campaign = _campaign(personas)  # blind, two items
    campaign.items.update(state="disputed")
    mine = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    client = personas.client_for(personas.reviewer)
    url = f"/w/policy-team/campaigns/{campaign.pk}/"
    html = client.get(url).content.decode()
    rows = _item_rows(html)
    assert all("Disputed" not in row and ">hidden</span>" in row for row in rows)
    assert f"/items/{mine.item_id}/" in rows[0] and ">Continue</a>" in rows[0]
    assert "/items/" not in rows[1]  # not theirs: nothing to open
    assert 'data-testid="items-claim"' in html
    assert 'data-testid="items-filter-' not in html
    # Asking for a state filter anyway changes nothing: it would tell them which are disputed.
    assert len(_item_rows(client.get(url, {"state": "agreed"}).content.decode())) == 2


def test_the_campaign_page_runs_as_many_queries_for_sixty_items_as_for_two(personas) -> None:
    client = personas.client_for(personas.adjudicator)
    few = _campaign(personas)
    many = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=60,
    )
    assert _queries(client, f"/w/policy-team/campaigns/{many.pk}/") == _queries(
        client, f"/w/policy-team/campaigns/{few.pk}/"
    )
