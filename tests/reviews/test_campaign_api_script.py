"""A script sets up a campaign with the API alone (issue 9): it names the spec version by spec
slug and version label and the clauses by key, as the spec API shows them, and every campaign
response carries the ids that label writes need."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from clausebook.services import api_token_create
from reviews.models import Campaign, Label
from tests.reviews.factories import make_published_version, make_transcript

pytestmark = pytest.mark.django_db


def _script(user) -> Client:  # type: ignore[no-untyped-def]
    """An HTTP client that knows nothing but a bearer token, as a script would."""
    _token, secret = api_token_create(user=user, name="script")
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def _results(body: Any) -> list[dict[str, Any]]:
    return body["results"] if isinstance(body, dict) else body


def test_a_script_goes_from_the_spec_list_to_a_campaign_and_a_label(personas) -> None:
    make_published_version(personas.workspace, keys=["root", "honesty", "privacy"])
    for _ in range(2):
        make_transcript(personas.workspace, tags=["batch-7"])
    api = f"/api/v1/workspaces/{personas.workspace.slug}"
    editor = _script(personas.editor)

    [spec] = _results(editor.get(f"{api}/specs/").json())
    versions = _results(editor.get(f"{api}/specs/{spec['slug']}/versions/").json())
    published = next(v for v in versions if v["status"] == "published")
    clauses = _results(
        editor.get(f"{api}/specs/{spec['slug']}/versions/{published['label']}/clauses/").json()
    )
    wanted = [c["key"] for c in clauses if c["key"] != "root"]

    created = editor.post(
        f"{api}/campaigns/",
        {
            "title": "Batch 7",
            "spec_version": {"spec": spec["slug"], "label": published["label"]},
            "clause_keys": wanted,
            "transcript_tag": "batch-7",
            "reviewers": [personas.reviewer.email],
            "reviewers_per_item": 1,
            "open": True,
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    campaign = created.json()
    stored = Campaign.objects.get(pk=campaign["id"])
    assert campaign["spec_version"] == {
        "id": stored.spec_version_id,
        "spec": spec["slug"],
        "label": published["label"],
    }
    assert [c["key"] for c in campaign["clauses"]] == ["honesty", "privacy"]
    assert [c["id"] for c in campaign["clauses"]] == list(
        stored.campaign_clauses.order_by("position").values_list("clause_id", flat=True)
    )
    assert (campaign["status"], campaign["item_count"]) == ("open", 2)

    # The reviewer's script labels by the ids the campaign response carried.
    reviewer = _script(personas.reviewer)
    claim = reviewer.post(f"{api}/campaigns/{campaign['id']}/claim/")
    assert claim.status_code == 200, claim.content
    privacy = campaign["clauses"][1]
    saved = reviewer.post(
        f"{api}/campaigns/{campaign['id']}/items/{claim.json()['item']}/labels/",
        {"labels": [{"clause": privacy["id"], "verdict": "violates"}]},
        content_type="application/json",
    )
    assert saved.status_code == 200, saved.content
    assert Label.objects.get(reviewer=personas.reviewer).clause_id == privacy["id"]


def test_the_id_and_the_slug_and_label_name_the_same_version(personas) -> None:
    version = make_published_version(personas.workspace, label="2025-12-18")
    make_transcript(personas.workspace)
    client = personas.client_for(personas.editor)
    url = f"/api/v1/workspaces/{personas.workspace.slug}/campaigns/"
    by_id = client.post(
        url, {"title": "By id", "spec_version": version.pk}, content_type="application/json"
    )
    by_name = client.post(
        url,
        {"title": "By name", "spec_version": {"spec": "model-spec", "label": "2025-12-18"}},
        content_type="application/json",
    )
    assert by_id.status_code == by_name.status_code == 201, (by_id.content, by_name.content)
    assert by_id.json()["spec_version"] == by_name.json()["spec_version"]
    detail = client.get(f"{url}{by_name.json()['id']}/").json()
    listed = _results(client.get(url).json())
    assert detail["clauses"] == by_name.json()["clauses"] == listed[0]["clauses"]
    assert set(detail["clauses"][0]) == {"id", "key", "title"}


@pytest.mark.parametrize(
    ("ref", "says"),
    [
        ({"spec": "model-spec", "label": "1999-01-01"}, "No spec version model-spec 1999-01-01"),
        ({"spec": "no-such-spec", "label": "2025-12-18"}, "No spec version no-such-spec"),
        ({"spec": "model-spec"}, 'or {"spec": "<slug>", "label": "<label>"}'),
        ("model-spec/2025-12-18", "Give the version's id (a number)"),
        (True, "Give the version's id (a number)"),
    ],
)
def test_a_version_that_cannot_be_found_is_a_400_that_says_how_to_name_one(
    personas, ref, says
) -> None:
    make_published_version(personas.workspace, label="2025-12-18")
    make_transcript(personas.workspace)
    response = personas.client_for(personas.editor).post(
        f"/api/v1/workspaces/{personas.workspace.slug}/campaigns/",
        {"title": "Bad ref", "spec_version": ref},
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert says in response.json()["spec_version"][0]
    assert not Campaign.objects.exists()


def test_a_draft_named_by_slug_and_label_is_refused_as_a_draft(personas) -> None:
    from specs.models import Spec, SpecVersion

    spec = Spec.objects.create(workspace=personas.workspace, slug="drafty", title="Drafty")
    SpecVersion.objects.create(spec=spec, label="2026-01-01")
    make_transcript(personas.workspace)
    response = personas.client_for(personas.editor).post(
        f"/api/v1/workspaces/{personas.workspace.slug}/campaigns/",
        {"title": "Draft", "spec_version": {"spec": "drafty", "label": "2026-01-01"}},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json() == {"spec_version": ["Campaigns pin a published spec version."]}


def test_the_openapi_schema_documents_both_ways_of_naming_a_version(personas) -> None:
    schema = personas.client_for(personas.viewer).get("/api/schema/?format=json").json()
    field = schema["components"]["schemas"]["CampaignInputRequest"]["properties"]["spec_version"]
    kinds = [option["type"] for option in field["oneOf"]]
    assert kinds == ["integer", "object"]
    assert field["oneOf"][1]["required"] == ["spec", "label"]
    assert "spec slug" in field["description"]
    output = schema["components"]["schemas"]["CampaignOutput"]["properties"]
    assert "$ref" in output["spec_version"] or "allOf" in output["spec_version"]
    assert output["clauses"]["type"] == "array"
