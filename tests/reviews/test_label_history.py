"""Label history: every change to a label is a row (who, when, before, after, kind), written in
the same transaction as the change, whichever way the change came."""

from __future__ import annotations

import pytest

from reviews.models import Label, LabelRevision
from reviews.selectors.labels import label_history
from reviews.services.campaigns import item_claim_next
from reviews.services.labels.core import LabelConflict, LabelInput
from reviews.services.labels.imports import LabelRow, labels_import
from reviews.services.labels.judge import judge_label_record
from reviews.services.labels.save import labels_save
from reviews.services.labels.submit import assignment_submit
from tests.reviews.factories import make_campaign, make_judge_run, make_transcript

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(personas):  # type: ignore[no-untyped-def]
    return make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=[make_transcript(personas.workspace, external_id="t-1")],
        clause_count=1,
    )


def _rows(label: Label) -> list[tuple]:
    return [
        (row.revision, row.kind, row.changed_by, row.before.get("verdict"), row.after["verdict"])
        for row in label_history(label)
    ]


def test_drafts_the_submission_and_a_revision_after_it_are_each_a_row(personas, campaign) -> None:
    assignment = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    clause_id = campaign.campaign_clauses.get().clause_id

    def save(verdict: str, revision: int | None) -> None:
        labels_save(
            assignment=assignment,
            reviewer=personas.reviewer,
            labels=[LabelInput(clause=clause_id, verdict=verdict, revision=revision)],
        )

    save("complies", None)
    save("violates", 1)
    save("violates", 2)  # no change: no row, no new revision
    assignment_submit(assignment=assignment, reviewer=personas.reviewer)
    save("borderline", 3)
    label = Label.objects.get()
    reviewer = personas.reviewer
    assert _rows(label) == [
        (1, "draft", reviewer, None, "complies"),
        (2, "draft", reviewer, "complies", "violates"),
        (3, "submit", reviewer, "violates", "violates"),
        (4, "revise", reviewer, "violates", "borderline"),
    ]
    submit_row = LabelRevision.objects.get(label=label, kind="submit")
    assert (submit_row.before["status"], submit_row.after["status"]) == ("draft", "submitted")
    assert all(row.changed_at for row in label_history(label))
    assert label.revision == 4


def test_a_refused_save_writes_no_history(personas, campaign) -> None:
    assignment = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    clause_id = campaign.campaign_clauses.get().clause_id
    labels_save(
        assignment=assignment,
        reviewer=personas.reviewer,
        labels=[LabelInput(clause=clause_id, verdict="complies")],
    )
    with pytest.raises(LabelConflict):
        labels_save(
            assignment=assignment,
            reviewer=personas.reviewer,
            labels=[LabelInput(clause=clause_id, verdict="violates", revision=7)],
        )
    assert LabelRevision.objects.count() == 1


def test_imported_and_judged_labels_have_their_history_too(personas, campaign) -> None:
    labels_import(
        campaign=campaign,
        rows=[
            LabelRow(
                line=1,
                external_id="t-1",
                clause_key="clause_1",
                reviewer_email="reviewer@policy.test",
                verdict="complies",
                rationale="Imported from the spreadsheet.",
            )
        ],
        actor=personas.editor,
    )
    imported = Label.objects.get(source="human")
    assert _rows(imported) == [(1, "import", personas.editor, None, "complies")]
    assert imported.history.get().after["rationale"] == "Imported from the spreadsheet."
    run = make_judge_run(campaign, created_by=personas.editor)
    judged = judge_label_record(
        judge_run=run,
        item=imported.item,
        clause=imported.clause,
        verdict="violates",
    )
    assert _rows(judged) == [(1, "judge", None, None, "violates")]
