"""Importing existing labels: the CLI (``import_labels``) and the API."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from clausebook.models import Membership, User
from reviews.models import Assignment, Item, ItemState, Label, LabelRevision, Outcome
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
    """Run the command; ``code`` is 1 when it failed (a CommandError, its message in ``err``)."""
    path = tmp_path / f"labels{suffix}"
    path.write_text(text)
    from io import StringIO

    out, err = StringIO(), StringIO()
    code = 0
    options = ["--workspace", "policy-team", "--campaign", str(campaign.pk)]
    if "--as" not in extra:
        options += ["--as", "editor@policy.test"]
    try:
        call_command("import_labels", str(path), *options, *extra, stdout=out, stderr=err)
    except CommandError as error:
        code = 1
        err.write(f"CommandError: {error}\n")
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
    assert Assignment.objects.filter(status="submitted", campaign=campaign).count() == 3
    assert set(LabelRevision.objects.values_list("kind", "changed_by__email")) == {
        ("import", "editor@policy.test")
    }
    agreed = Item.objects.get(campaign=campaign, transcript__external_id="t-in")
    assert agreed.state == ItemState.OPEN  # clause_1 agreed, the others have no verdicts yet
    assert list(Outcome.objects.filter(item=agreed).values_list("clause__key", "state")) == [
        ("clause_1", "agreed")
    ]
    assert agreed.submitted_count == 2 and agreed.open_slots == 0
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
    assert "3 row(s) rejected; nothing was imported" in err
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


@pytest.mark.django_db
def test_the_cli_options_are_checked_and_name_the_option(personas, campaign, tmp_path) -> None:
    text = "external_id,clause_key,reviewer,verdict\nt-in,clause_1,reviewer@policy.test,complies\n"
    code, _, err = _run(tmp_path, campaign, text, ".csv", "--as", "reviewer@policy.test")
    assert code == 1 and "--as: reviewer@policy.test is Reviewer" in err
    other = make_campaign(personas.other_workspace, created_by=personas.outsider)
    code, _, err = _run(tmp_path, other, text)
    assert code == 1 and f"--campaign: no campaign {other.pk} in workspace 'policy-team'" in err
    assert not Label.objects.exists()


@pytest.mark.django_db
def test_an_import_that_would_overwrite_work_changes_nothing(personas, campaign, tmp_path) -> None:
    first = "external_id,clause_key,reviewer,verdict\nt-in,clause_1,reviewer@policy.test,complies\n"
    assert _run(tmp_path, campaign, first)[0] == 0
    clash = (
        "external_id,clause_key,reviewer,verdict\n"
        "t-in,clause_1,reviewer@policy.test,violates\n"
        "t-in,clause_2,reviewer@policy.test,violates\n"
    )
    code, _, err = _run(tmp_path, campaign, clash)
    assert code == 1 and "a different label by this reviewer already exists" in err
    assert list(Label.objects.values_list("clause__key", "verdict")) == [("clause_1", "complies")]
