"""Gold history: each decision is a row, reopening adds one, promoted gold is superseded, never
deleted, and the database refuses to delete or rewrite a decision (migration 0002)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from reviews.models import (
    DecisionKind,
    GoldDecision,
    GoldPromotion,
    Item,
    Outcome,
    OutcomeState,
)
from reviews.services.gold import DecisionConflict, decision_record, decision_reopen
from specs.models import Example
from tests.reviews.factories import label_and_submit, make_campaign

pytestmark = pytest.mark.django_db

DELETE_REFUSED = r"gold decision \d+ is history and cannot be deleted"
UPDATE_REFUSED = r"gold decision \d+ is history: only is_current may change, from true to false"


@pytest.fixture
def disputed(personas):  # type: ignore[no-untyped-def]
    """One item, one clause, two reviewers who disagree."""
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.editor,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=1,
        clause_count=1,
    )
    label_and_submit(campaign, personas.reviewer, ["complies"])
    label_and_submit(campaign, personas.second_reviewer, ["violates"])
    item = Item.objects.get(campaign=campaign)
    clause = campaign.campaign_clauses.get().clause
    return campaign, item, clause


def _raw(sql: str, *params: object) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))


def _decide(personas, item, clause, *, current, verdict="violates", actor=None):  # type: ignore[no-untyped-def]
    return decision_record(
        item=item,
        clause=clause,
        actor=actor or personas.adjudicator,
        verdict=verdict,
        severity="high",
        rationale=f"Decided {verdict}.",
        current_decision_id=current,
    )


def test_a_decision_records_its_verdict_source_and_provenance(personas, disputed) -> None:
    campaign, item, clause = disputed
    decision = _decide(personas, item, clause, current=None)
    assert (decision.kind, decision.verdict, decision.severity, decision.rationale) == (
        DecisionKind.ADJUDICATED,
        "violates",
        "high",
        "Decided violates.",
    )
    assert decision.decided_by == personas.adjudicator and decision.decided_at is not None
    assert (decision.campaign, decision.clause, decision.spec_version, decision.transcript) == (
        campaign,
        clause,
        campaign.spec_version,
        item.transcript,
    )
    assert Outcome.objects.get().state == OutcomeState.ADJUDICATED
    assert Item.objects.get(pk=item.pk).state == OutcomeState.ADJUDICATED


def test_reopening_adds_a_row_and_keeps_the_earlier_decisions_with_who_and_when(
    personas, disputed
) -> None:
    _, item, clause = disputed
    first = _decide(personas, item, clause, current=None)
    reopened = decision_reopen(
        item=item,
        clause=clause,
        actor=personas.owner,
        reason="New guidance on this clause.",
        current_decision_id=first.pk,
    )
    assert Outcome.objects.get().state == OutcomeState.DISPUTED  # back to adjudication
    second = _decide(personas, item, clause, current=reopened.pk, verdict="complies")
    history = list(GoldDecision.objects.filter(item=item).order_by("decided_at", "id"))
    assert [(d.kind, d.decided_by, d.is_current) for d in history] == [
        ("adjudicated", personas.adjudicator, False),
        ("reopened", personas.owner, False),
        ("adjudicated", personas.adjudicator, True),
    ]
    assert reopened.rationale == "New guidance on this clause."
    assert (reopened.supersedes, second.supersedes) == (first, reopened)
    assert all(d.decided_at for d in history)
    assert GoldDecision.objects.gold().get() == second


def test_a_stale_current_decision_id_is_refused_with_the_current_decision(
    personas, disputed
) -> None:
    _, item, clause = disputed
    first = _decide(personas, item, clause, current=None)
    with pytest.raises(DecisionConflict) as conflict:
        _decide(personas, item, clause, current=None, verdict="complies")
    assert conflict.value.current == first
    second = _decide(personas, item, clause, current=first.pk, verdict="complies")
    with pytest.raises(DecisionConflict):
        decision_reopen(
            item=item, clause=clause, actor=personas.owner, reason="x", current_decision_id=first.pk
        )
    assert GoldDecision.objects.current().get() == second


def test_promoted_gold_is_superseded_never_deleted(personas, disputed) -> None:
    campaign, item, clause = disputed
    decision = _decide(personas, item, clause, current=None)
    example = Example.objects.filter(clause__version=campaign.spec_version).first()
    promotion = GoldPromotion.objects.create(
        decision=decision, example=example, promoted_by=personas.editor
    )
    decision_reopen(
        item=item,
        clause=clause,
        actor=personas.owner,
        reason="The example was wrong.",
        current_decision_id=decision.pk,
    )
    promotion.refresh_from_db()
    decision.refresh_from_db()
    assert promotion.decision == decision and not decision.is_current
    # The promotion pins it in the ORM, and the trigger below the ORM as well.
    with pytest.raises(ProtectedError), transaction.atomic():
        GoldDecision.objects.filter(pk=decision.pk).delete()
    with pytest.raises(IntegrityError, match=DELETE_REFUSED), transaction.atomic():
        _raw("DELETE FROM reviews_golddecision WHERE id = %s", decision.pk)


def test_only_adjudicators_decide_and_not_on_an_item_they_labeled(personas, disputed) -> None:
    _, item, clause = disputed
    with pytest.raises(PermissionDenied):
        _decide(personas, item, clause, current=None, actor=personas.reviewer)
    with pytest.raises(PermissionDenied):
        _decide(personas, item, clause, current=None, actor=personas.outsider)
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.editor,
        reviewers=[personas.adjudicator, personas.second_reviewer],
        transcripts=1,
        clause_count=1,
    )
    label_and_submit(campaign, personas.adjudicator, ["complies"])
    label_and_submit(campaign, personas.second_reviewer, ["violates"])
    with pytest.raises(PermissionDenied, match="You labeled this item"):
        _decide(
            personas,
            Item.objects.get(campaign=campaign),
            campaign.campaign_clauses.get().clause,
            current=None,
        )
    with pytest.raises(ValidationError, match="rationale"):
        decision_record(
            item=item,
            clause=clause,
            actor=personas.adjudicator,
            verdict="violates",
            rationale="  ",
            current_decision_id=None,
        )
    assert not GoldDecision.objects.exists()


# --- The append-only trigger -----------------------------------------------------------------


def test_the_database_refuses_to_delete_a_decision_by_any_path(personas, disputed) -> None:
    _, item, clause = disputed
    decision = _decide(personas, item, clause, current=None)
    with pytest.raises(IntegrityError, match=DELETE_REFUSED), transaction.atomic():
        decision.delete()
    with pytest.raises(IntegrityError, match=DELETE_REFUSED), transaction.atomic():
        GoldDecision.objects.all().delete()
    with pytest.raises(IntegrityError, match=DELETE_REFUSED), transaction.atomic():
        _raw("DELETE FROM reviews_golddecision WHERE id = %s", decision.pk)
    assert GoldDecision.objects.filter(pk=decision.pk).exists()


def test_the_database_refuses_to_rewrite_a_decision_by_any_path(personas, disputed) -> None:
    _, item, clause = disputed
    decision = _decide(personas, item, clause, current=None)
    with pytest.raises(IntegrityError, match=UPDATE_REFUSED), transaction.atomic():
        GoldDecision.objects.filter(pk=decision.pk).update(verdict="complies")
    decision.rationale = "Rewritten."
    with pytest.raises(IntegrityError, match=UPDATE_REFUSED), transaction.atomic():
        decision.save()
    with pytest.raises(IntegrityError, match=UPDATE_REFUSED), transaction.atomic():
        _raw("UPDATE reviews_golddecision SET verdict = 'complies' WHERE id = %s", decision.pk)
    # Not even together with the one allowed change, nor back from false to true.
    with pytest.raises(IntegrityError, match=UPDATE_REFUSED), transaction.atomic():
        GoldDecision.objects.filter(pk=decision.pk).update(is_current=False, severity="low")
    GoldDecision.objects.filter(pk=decision.pk).update(is_current=False)  # the one allowed change
    with pytest.raises(IntegrityError, match=UPDATE_REFUSED), transaction.atomic():
        GoldDecision.objects.filter(pk=decision.pk).update(is_current=True)
    decision.refresh_from_db()
    assert (decision.verdict, decision.rationale, decision.is_current) == (
        "violates",
        "Decided violates.",
        False,
    )


def test_the_reviewers_behind_agreed_gold_cannot_be_removed(personas) -> None:
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.editor,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=1,
        clause_count=1,
    )
    label_and_submit(campaign, personas.reviewer, ["complies"])
    label_and_submit(campaign, personas.second_reviewer, ["complies"])
    agreed = GoldDecision.objects.get()
    with (
        pytest.raises(IntegrityError, match=r"the reviewers behind gold decision \d+ are history"),
        transaction.atomic(),
    ):
        agreed.agreeing_reviewers.remove(personas.reviewer)
    assert agreed.agreeing_reviewers.count() == 2
