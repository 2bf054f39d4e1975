"""Keyset pages (``clausebook.pagination.KeysetPagination``) on the lists that use them.

The transcript list's own behaviour (jumps, inserts, scoping, plans) is in
``tests/transcripts/test_transcript_list_api.py``; these cover the class itself: the imports list
(newest first), an oldest-first list, the bounds, and what the OpenAPI schema says.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework import generics, serializers
from rest_framework.test import APIRequestFactory, force_authenticate

from clausebook.pagination import OldestFirstKeysetPagination
from transcripts.models import TranscriptImport

pytestmark = pytest.mark.django_db


def imports(workspace, count: int) -> list[int]:
    return [TranscriptImport.objects.create(workspace=workspace).pk for _ in range(count)]


def walk(client, url: str, params: dict) -> list[int]:
    page = client.get(url, params).json()
    seen = [row["id"] for row in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [row["id"] for row in page["results"]]
    return seen


def test_the_imports_list_pages_newest_first_and_does_not_shift_under_inserts(personas):
    original = imports(personas.workspace, 7)
    imports(personas.other_workspace, 3)
    client = personas.client_for(personas.viewer)
    url = f"/api/v1/workspaces/{personas.workspace.slug}/imports/"
    first = client.get(url, {"page_size": 3}).json()
    assert first["total"] == 7 and [r["id"] for r in first["results"]] == original[:-4:-1]
    imports(personas.workspace, 2)  # arrive while the client walks
    second = client.get(first["next"]).json()
    assert [r["id"] for r in second["results"]] == original[-4:-7:-1]
    assert second["total"] is None
    assert walk(client, url, {"page_size": 3, "after": original[-1] + 1}) == original[::-1]


class _ImportRow(serializers.ModelSerializer):
    class Meta:
        model = TranscriptImport
        fields = ["id"]


class _SmallPages(OldestFirstKeysetPagination):
    page_size = 2
    max_page_size = 3


class _OldestFirstImports(generics.ListAPIView):
    serializer_class = _ImportRow
    pagination_class = _SmallPages

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return TranscriptImport.objects.filter(workspace=self.kwargs["workspace"])


def _get(personas, **params) -> dict:
    request = APIRequestFactory().get("/oldest/", params)
    force_authenticate(request, user=personas.viewer)
    view = _OldestFirstImports.as_view()
    response = view(request, workspace=personas.workspace)
    return {"status": response.status_code, **response.data}


def test_an_oldest_first_list_pages_by_ascending_id(personas):
    ids = imports(personas.workspace, 5)
    first = _get(personas)
    assert [r["id"] for r in first["results"]] == ids[:2] and first["previous"] is None
    assert (first["total"], first["min_id"], first["max_id"]) == (5, ids[0], ids[-1])
    after = _get(personas, after=ids[1])
    assert [r["id"] for r in after["results"]] == ids[2:4]
    before = _get(personas, before=ids[4])
    assert [r["id"] for r in before["results"]] == ids[2:4] and "before=" in before["previous"]
    # An id past the end: an empty page whose previous page ends with that id.
    past = _get(personas, after=ids[-1])
    assert past["results"] == [] and past["next"] is None and "before=" in past["previous"]


def test_page_size_is_capped_and_a_bad_one_is_a_400(personas):
    imports(personas.workspace, 5)
    assert len(_get(personas, page_size=500)["results"]) == 3
    bad = _get(personas, page_size="lots")
    assert bad["status"] == 400 and "page_size" in str(bad)


def test_count_true_counts_on_any_page_and_false_skips_the_first(personas):
    ids = imports(personas.workspace, 4)
    assert _get(personas, after=ids[0], count="true")["total"] == 4
    assert _get(personas, count="false")["total"] is None
    links = _get(personas, count="true")
    assert "count" not in links["next"]


def test_the_openapi_schema_states_the_keyset_parameters_and_the_total(personas):
    schema = (
        personas.client_for(personas.viewer).get(reverse("api-schema"), {"format": "json"}).json()
    )
    operation = schema["paths"]["/api/v1/workspaces/{workspace}/transcripts/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"after", "before", "page_size", "count", "include"} <= names
    after = next(p for p in operation["parameters"] if p["name"] == "after")
    assert "newest first" in after["description"]
    page = operation["responses"]["200"]["content"]["application/json"]["schema"]
    page = schema["components"]["schemas"][page["$ref"].rsplit("/", 1)[-1]]
    assert {"total", "next", "previous", "results"} <= set(page["properties"])
    assert "first page" in page["properties"]["total"]["description"]
    row = page["properties"]["results"]["items"]["$ref"].rsplit("/", 1)[-1]
    assert "messages" in schema["components"]["schemas"][row]["properties"]
