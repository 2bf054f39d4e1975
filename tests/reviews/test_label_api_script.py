"""A script labels through the API alone (issue 9): from the clause keys a campaign response
lists to a saved label, every step using only what an earlier response carried. Label
endpoints take a clause's key (or id), and their answers carry the clause key and id, the item,
the transcript and the reviewer."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from clausebook.services import api_token_create
from reviews.models import Label
from tests.reviews.factories import make_campaign

pytestmark = pytest.mark.django_db


def _script(user) -> Client:  # type: ignore[no-untyped-def]
    """An HTTP client that knows nothing but a bearer token, as a script would."""
    _token, secret = api_token_create(user=user, name="script")
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def _results(body: Any) -> list[dict[str, Any]]:
    return body["results"] if isinstance(body, dict) else body


def test_a_script_goes_from_a_campaigns_clause_keys_to_a_saved_label(personas) -> None:
    make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer],
        transcripts=1,
        clause_count=3,
        k=1,
    )
    api = f"/api/v1/workspaces/{personas.workspace.slug}"
    script = _script(personas.reviewer)

    [campaign] = _results(script.get(f"{api}/campaigns/").json())
    keys = [clause["key"] for clause in campaign["clauses"]]
    claim = script.post(f"{api}/campaigns/{campaign['id']}/claim/")
    assert claim.status_code == 200, claim.content
    item = claim.json()["item"]

    saved = script.post(
        f"{api}/campaigns/{campaign['id']}/items/{item}/labels/",
        {"labels": [{"clause": keys[1], "verdict": "violates", "rationale": "Step by step."}]},
        content_type="application/json",
    )
    assert saved.status_code == 200, saved.content
    body = saved.json()
    [label] = body["labels"]
    stored = Label.objects.select_related("item").get(pk=label["id"])
    assert label["clause_key"] == keys[1]
    assert label["clause"] == stored.clause_id == campaign["clauses"][1]["id"]
    assert (label["item"], label["transcript"], label["campaign"]) == (
        item,
        stored.item.transcript_id,
        campaign["id"],
    )
    assert (label["reviewer"], label["source"]) == (personas.reviewer.email, "human")
    assert body["item"] == {
        "id": item,
        "state": "open",
        "transcript": stored.item.transcript_id,
        "campaign": campaign["id"],
    }

    # The ids the save answered lead on: the transcript, the label, the labels of the clause.
    transcript = script.get(f"{api}/transcripts/{label['transcript']}/")
    assert transcript.status_code == 200, transcript.content
    one = script.get(f"{api}/labels/{label['id']}/").json()
    assert {k: one[k] for k in ("clause", "clause_key", "item", "transcript", "reviewer")} == {
        k: label[k] for k in ("clause", "clause_key", "item", "transcript", "reviewer")
    }
    by_key = _results(script.get(f"{api}/labels/", {"clause": keys[1], "item": item}).json())
    assert [entry["id"] for entry in by_key] == [label["id"]]
    assert _results(script.get(f"{api}/labels/", {"clause": keys[0]}).json()) == []

    # A revision by key; a stale one answers 409 naming the clause by key and id too.
    revised = script.post(
        f"{api}/campaigns/{campaign['id']}/items/{item}/labels/",
        {"labels": [{"clause": keys[1], "severity": "low", "revision": label["revision"]}]},
        content_type="application/json",
    )
    assert revised.status_code == 200, revised.content
    assert revised.json()["labels"][0]["rationale"] == "Step by step."  # kept: not named
    stale = script.post(
        f"{api}/campaigns/{campaign['id']}/items/{item}/labels/",
        {"labels": [{"clause": keys[1], "verdict": "complies", "revision": label["revision"]}]},
        content_type="application/json",
    )
    assert stale.status_code == 409
    [current] = stale.json()["current"]
    assert (current["clause"], current["clause_key"]) == (label["clause"], keys[1])
    assert current["label"]["revision"] == revised.json()["labels"][0]["revision"]
    assert current["label"]["transcript"] == label["transcript"]


def test_a_clause_key_outside_the_scope_is_a_400_that_names_it(personas) -> None:
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer],
        transcripts=1,
        k=1,
    )
    api = f"/api/v1/workspaces/{personas.workspace.slug}"
    script = _script(personas.reviewer)
    item = script.post(f"{api}/campaigns/{campaign.pk}/claim/").json()["item"]
    response = script.post(
        f"{api}/campaigns/{campaign.pk}/items/{item}/labels/",
        {"labels": [{"clause": "no_such_clause", "verdict": "complies"}]},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "clause": ["'no_such_clause' is not a clause in this campaign's scope."]
    }
