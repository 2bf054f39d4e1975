"""Importing existing labels: the CLI (``import_labels``) and the API."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from clausebook.models import Membership, User
from reviews.models import (
    Assignment,
    CampaignReviewer,
    Item,
    ItemState,
    Label,
    LabelRevision,
    Outcome,
)
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
def test_the_cli_imports_labels_of_members_and_creates_the_items_they_need(
    personas, campaign, tmp_path
) -> None:
    csv_text = (
        "external_id,clause_key,reviewer,verdict,rationale\n"
        "t-in,clause_1,reviewer@policy.test,complies,ok\n"
        "t-in,clause_1,Second-Reviewer@policy.test,complies,agree\n"
        "t-new,clause_2,reviewer@policy.test,violates,bad\n"
    )
    users, memberships = User.objects.count(), Membership.objects.count()
    code, out, _ = _run(tmp_path, campaign, csv_text, ".csv", "--json")
    assert code == 0
    summary = json.loads(out)
    assert (summary["created"], summary["duplicates"], summary["rejected"]) == (3, 0, 0)
    assert summary["items_created"] == 1
    assert (User.objects.count(), Membership.objects.count()) == (users, memberships)
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


# --------------------------------------------------------------------------------------------------
# Membership is an admin's decision (issue 9): an import adds no one and reveals no accounts
# --------------------------------------------------------------------------------------------------

STRANGER = "nobody@nowhere.test"  # no account anywhere


def _row(reviewer: str, clause_key: str = "clause_1") -> dict[str, str]:
    return {
        "external_id": "t-in",
        "clause_key": clause_key,
        "reviewer": reviewer,
        "verdict": "complies",
    }


def _import_url(personas, campaign) -> str:  # type: ignore[no-untyped-def]
    return f"/api/v1/workspaces/{personas.workspace.slug}/campaigns/{campaign.pk}/labels/import/"


def _nothing_outside_changed(personas, users_before: int) -> None:  # type: ignore[no-untyped-def]
    assert User.objects.count() == users_before
    assert not User.objects.filter(email=STRANGER).exists()
    assert not Membership.objects.filter(
        workspace=personas.workspace, user=personas.outsider
    ).exists()
    assert not CampaignReviewer.objects.filter(user=personas.outsider).exists()


@pytest.mark.django_db
def test_the_api_refuses_a_stranger_and_another_workspaces_admin_with_the_same_answer(
    personas, campaign
) -> None:
    editor = personas.client_for(personas.editor)
    users = User.objects.count()
    answers = {}
    for email in (STRANGER, personas.outsider.email):
        response = editor.post(
            _import_url(personas, campaign),
            {"rows": [_row(email)]},
            content_type="application/json",
        )
        assert response.status_code == 400, response.content
        answers[email] = response.content.decode().replace(email, "<email>")
    assert answers[STRANGER] == answers[personas.outsider.email]
    body = json.loads(answers[STRANGER])
    assert body["errors"] == [
        {
            "line": 1,
            "field": "reviewer",
            "message": "reviewer <email> is not a member of this workspace; an admin adds "
            "members (label import adds none)",
        }
    ]
    assert "users_created" not in body and "memberships_created" not in body
    assert not Label.objects.exists()
    _nothing_outside_changed(personas, users)
    # The outsider still cannot read the workspace.
    outsider = personas.client_for(personas.outsider)
    assert outsider.get(f"/api/v1/workspaces/{personas.workspace.slug}/members/").status_code == 404


@pytest.mark.django_db
def test_valid_rows_imports_the_members_rows_and_names_the_others(personas, campaign) -> None:
    users = User.objects.count()
    response = personas.client_for(personas.editor).post(
        _import_url(personas, campaign),
        {
            "rows": [
                _row(personas.reviewer.email),
                _row(personas.outsider.email, "clause_2"),
                _row(STRANGER, "clause_3"),
                _row(personas.viewer.email, "clause_2"),
            ],
            "valid_rows": True,
        },
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["rejected"], body["applied"]) == (1, 3, True)
    assert [(e["line"], e["field"]) for e in body["errors"]] == [
        (2, "reviewer"),
        (3, "reviewer"),
        (4, "reviewer"),
    ]
    assert personas.outsider.email in body["errors"][0]["message"]
    assert STRANGER in body["errors"][1]["message"]
    assert "viewer" in body["errors"][2]["message"]
    assert list(Label.objects.values_list("reviewer__email", flat=True)) == [
        personas.reviewer.email
    ]
    _nothing_outside_changed(personas, users)


@pytest.mark.django_db
def test_the_cli_refuses_a_stranger_and_another_workspaces_admin_with_the_same_answer(
    personas, campaign, tmp_path
) -> None:
    users = User.objects.count()
    answers = []
    for email in (STRANGER, personas.outsider.email):
        text = f"external_id,clause_key,reviewer,verdict\nt-in,clause_1,{email},complies\n"
        code, out, err = _run(tmp_path, campaign, text)
        assert code == 1
        answers.append((out + err).replace(email, "<email>"))
    assert answers[0] == answers[1]
    assert "labels.csv:2 reviewer: reviewer <email> is not a member of this workspace" in answers[0]
    assert "users" not in answers[0] and "memberships" not in answers[0]
    code, out, _ = _run(
        tmp_path,
        campaign,
        f"external_id,clause_key,reviewer,verdict\nt-in,clause_1,{STRANGER},complies\n",
        ".csv",
        "--json",
    )
    assert code == 1
    assert set(json.loads(out)) == {
        "created",
        "duplicates",
        "rejected",
        "errors",
        "items_created",
        "applied",
        "file",
        "campaign",
    }
    assert not Label.objects.exists()
    _nothing_outside_changed(personas, users)


def test_the_cli_reports_a_line_nested_2000_deep_as_invalid_json_not_a_traceback(
    personas, tmp_path
):
    from django.core.management import CommandError, call_command

    from tests.reviews.factories import make_campaign

    campaign = make_campaign(
        personas.workspace,
        created_by=personas.owner,
        reviewers=[personas.reviewer, personas.second_reviewer],
    )
    path = tmp_path / "labels.jsonl"
    path.write_text("[" * 2000 + "]" * 2000 + "\n", encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 row\\(s\\) rejected; nothing was imported"):
        call_command(
            "import_labels",
            str(path),
            "--campaign",
            str(campaign.pk),
            "--workspace",
            personas.workspace.slug,
            stderr=err,
            stdout=io.StringIO(),
        )
    assert f"{path}:1: invalid JSON: nested too deeply" in err.getvalue()
