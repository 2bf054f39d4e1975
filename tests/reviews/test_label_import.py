"""Importing existing labels: the CLI (``import_labels``) and the API."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from clausebook.models import Membership, User
from reviews.models import Assignment, Item, ItemState, Label
from tests.reviews.factories import make_campaign, make_transcript


@pytest.fixture
def campaign(personas):  # type: ignore[no-untyped-def]
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        transcripts=[make_transcript(personas.workspace, external_id="t-in")],
        k=2,
    )
    make_transcript(personas.workspace, external_id="t-new")
    return campaign


def _run(tmp_path, campaign, text: str, suffix: str = ".csv", *extra: str):  # type: ignore[no-untyped-def]
    path = tmp_path / f"labels{suffix}"
    path.write_text(text)
    from io import StringIO

    out, err = StringIO(), StringIO()
    code = 0
    try:
        call_command(
            "import_labels",
            str(path),
            "--campaign",
            str(campaign.pk),
            *extra,
            stdout=out,
            stderr=err,
        )
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_the_cli_imports_labels_and_creates_what_they_need(personas, campaign, tmp_path) -> None:
    csv_text = (
        "external_id,clause_key,reviewer,verdict,rationale\n"
        "t-in,clause_1,reviewer@policy.test,complies,ok\n"
        "t-in,clause_1,new.person@example.org,complies,agree\n"
        "t-new,clause_2,reviewer@policy.test,violates,bad\n"
    )
    code, out, _ = _run(tmp_path, campaign, csv_text, ".csv", "--json")
    assert code == 0
    summary = json.loads(out)
    assert (summary["created"], summary["duplicates"], summary["rejected"]) == (3, 0, 0)
    assert summary["users_created"] == ["new.person@example.org"]
    newcomer = User.objects.get(email="new.person@example.org")
    assert not newcomer.is_active and not newcomer.has_usable_password()
    assert Membership.objects.filter(user=newcomer, workspace=personas.workspace).exists()
    assert Item.objects.filter(campaign=campaign).count() == 2
    assert Label.objects.filter(status="submitted").count() == 3
    assert Assignment.objects.filter(status="submitted").count() == 3
    assert (
        Item.objects.get(campaign=campaign, transcript__external_id="t-in").state
        == ItemState.AGREED
    )
    code, out, _ = _run(tmp_path, campaign, csv_text, ".csv", "--json")
    assert json.loads(out)["duplicates"] == 3 and json.loads(out)["created"] == 0


@pytest.mark.django_db
def test_bad_rows_are_reported_by_line_and_nothing_is_imported(
    personas, campaign, tmp_path
) -> None:
    jsonl = "\n".join(
        json.dumps(row)
        for row in [
            {
                "external_id": "t-in",
                "clause_key": "clause_1",
                "reviewer": "reviewer@policy.test",
                "verdict": "complies",
            },
            {
                "external_id": "nope",
                "clause_key": "clause_1",
                "reviewer": "reviewer@policy.test",
                "verdict": "complies",
            },
            {
                "external_id": "t-in",
                "clause_key": "missing_key",
                "reviewer": "reviewer@policy.test",
                "verdict": "complies",
            },
            {
                "external_id": "t-in",
                "clause_key": "clause_2",
                "reviewer": "reviewer@policy.test",
                "verdict": "meh",
            },
        ]
    )
    code, out, err = _run(tmp_path, campaign, jsonl, ".jsonl")
    assert code == 1
    assert "NOT imported" in out
    assert "labels.jsonl:2 external_id" in err
    assert "labels.jsonl:3 clause_key" in err
    assert "labels.jsonl:4 verdict" in err
    assert not Label.objects.exists()
    code, out, _ = _run(tmp_path, campaign, jsonl, ".jsonl", "--valid-rows", "--json")
    assert code == 0
    assert (json.loads(out)["created"], json.loads(out)["rejected"]) == (1, 3)


@pytest.mark.django_db
def test_the_api_imports_labels_for_editors_only(personas, campaign) -> None:
    url = f"/api/v1/workspaces/{personas.workspace.slug}/campaigns/{campaign.pk}/labels/import/"
    body = {
        "rows": [
            {
                "external_id": "t-in",
                "clause_key": "clause_1",
                "reviewer": "reviewer@policy.test",
                "verdict": "complies",
            }
        ]
    }
    denied = personas.client_for(personas.reviewer).post(url, body, content_type="application/json")
    assert denied.status_code == 403
    response = personas.client_for(personas.editor).post(url, body, content_type="application/json")
    assert response.status_code == 200 and response.json()["created"] == 1
    outsider = personas.client_for(personas.outsider).post(
        url, body, content_type="application/json"
    )
    assert outsider.status_code == 404
