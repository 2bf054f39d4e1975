"""Malformed JSON bodies are a 400 that says what is wrong and where, never a 500 (issue 9).

On 0a5a311 a body nested 2,000 deep raised RecursionError inside DRF's stdlib parser: a 500 on
every API write, the labeling autosave included.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import BadRequest
from django.test import RequestFactory
from django.urls import reverse

from clausebook import jsonbody
from reviews.models import Campaign
from tests.reviews.factories import make_campaign
from transcripts.models import TranscriptImport

pytestmark = pytest.mark.django_db

DEEP = b"[" * 2000 + b"]" * 2000


def _post(client, url: str, body: bytes):  # type: ignore[no-untyped-def]
    return client.generic("POST", url, body, content_type="application/json")


def test_a_2000_deep_transcript_import_is_a_400_naming_the_depth(personas) -> None:
    url = reverse("api-import-list", args=["policy-team"])
    response = _post(personas.client_for(personas.editor), url, b'{"records": ' + DEEP + b"}")
    assert response.status_code == 400
    body = response.json()
    assert body["detail"].startswith("Malformed JSON at line 1, column ")
    assert "nested too deeply (at most 254 levels" in body["detail"]
    assert body["line"] == 1 and isinstance(body["column"], int)
    assert not TranscriptImport.objects.exists()


def test_a_2000_deep_campaign_create_is_a_400(personas) -> None:
    url = reverse("api-campaign-list", args=["policy-team"])
    response = _post(personas.client_for(personas.owner), url, DEEP)
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]
    assert not Campaign.objects.exists()


def test_the_labeling_autosave_refuses_a_deep_body_with_a_400(personas) -> None:
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.owner,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=1,
        clause_count=1,
    )
    reviewer = personas.client_for(personas.reviewer)
    claimed = reviewer.post(reverse("api-claim-next", args=["policy-team", campaign.pk]))
    assert claimed.status_code == 200
    url = reverse("api-item-labels", args=["policy-team", campaign.pk, claimed.json()["item"]])
    body = b'{"labels": [{"clause": 1, "verdict": "complies", "spans": ' + DEEP + b"}]}"
    response = _post(reviewer, url, body)
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


def test_nesting_the_parser_accepts_but_python_would_not_survive_is_refused(personas) -> None:
    """900 levels pass orjson (1,024) but break Django's and DRF's JSON fields (they recurse)."""
    url = reverse("api-import-list", args=["policy-team"])
    response = _post(personas.client_for(personas.editor), url, b"[" * 900 + b"]" * 900)
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "Malformed JSON: nested too deeply (at most 254 levels of arrays and objects)."
    )


@pytest.mark.parametrize(
    ("body", "problem", "line", "column"),
    [
        (b'{"title": "x",}', "trailing comma is not allowed", 1, 14),
        (b'{"title":\n  tru}', "invalid literal, expected 'true'", 2, 3),
        (b'{"title": "\xff"}', "str is not valid UTF-8", 1, 1),
        (b'{"title": NaN}', "unexpected character", 1, 11),
        (b'{"title": "x"} trailing', "unexpected content after document", 1, 16),
    ],
)
def test_a_malformed_body_is_a_400_that_names_the_problem_and_its_place(
    personas, body: bytes, problem: str, line: int, column: int
) -> None:
    url = reverse("api-campaign-list", args=["policy-team"])
    response = _post(personas.client_for(personas.owner), url, body)
    assert response.status_code == 400
    detail = response.json()
    assert problem in detail["detail"]
    assert (detail["line"], detail["column"]) == (line, column)


def test_plain_views_parse_bodies_through_the_same_helper() -> None:
    request = RequestFactory().post("/x", DEEP, content_type="application/json")
    with pytest.raises(jsonbody.MalformedJSON) as refused:
        jsonbody.load(request)
    assert isinstance(refused.value, BadRequest), "Django answers a BadRequest with 400"
    assert "nested too deeply" in str(refused.value)
    assert jsonbody.error_response(refused.value).status_code == 400
    ok = RequestFactory().post("/x", b'{"a": [1, {"b": null}]}', content_type="application/json")
    assert jsonbody.load(ok) == {"a": [1, {"b": None}]}
    form = RequestFactory().post("/x", {"a": "1"})
    with pytest.raises(jsonbody.MalformedJSON, match="expected Content-Type application/json"):
        jsonbody.load(form)
