"""The agreement rule on its own, without a database: ``reviews.outcomes.decide`` and friends."""

from __future__ import annotations

from decimal import Decimal

from reviews.models import AgreementRule, DecisionKind, OutcomeState
from reviews.outcomes import Rule, agreed_severity, decide, item_state, settle

UNANIMOUS_2 = Rule(kind=AgreementRule.UNANIMOUS, k=2)
TWO_THIRDS_3 = Rule(kind=AgreementRule.SHARE, k=3, min_share=Decimal("0.66"))


def test_fewer_verdicts_than_k_stay_open_even_when_they_agree() -> None:
    assert decide(["complies"], UNANIMOUS_2).state == OutcomeState.OPEN
    assert decide(["complies", "complies"], TWO_THIRDS_3).state == OutcomeState.OPEN
    assert decide([], UNANIMOUS_2) == decide([], TWO_THIRDS_3)
    assert decide([], UNANIMOUS_2).verdict_count == 0


def test_unanimous_agrees_only_when_every_verdict_is_the_same() -> None:
    agreed = decide(["violates", "violates"], UNANIMOUS_2)
    assert (agreed.state, agreed.verdict_count, agreed.top_verdict) == (
        OutcomeState.AGREED,
        2,
        "violates",
    )
    assert decide(["violates", "complies"], UNANIMOUS_2).state == OutcomeState.DISPUTED
    assert decide(["violates"] * 4 + ["complies"], UNANIMOUS_2).state == OutcomeState.DISPUTED


def test_not_applicable_is_a_verdict_like_any_other() -> None:
    assert decide(["not_applicable"] * 2, UNANIMOUS_2).state == OutcomeState.AGREED
    assert decide(["not_applicable", "complies"], UNANIMOUS_2).state == OutcomeState.DISPUTED


def test_the_share_rule_needs_the_top_verdict_to_reach_the_share_of_verdicts_given() -> None:
    two_of_three = decide(["complies", "complies", "violates"], TWO_THIRDS_3)
    assert (two_of_three.state, two_of_three.top_verdict) == (OutcomeState.AGREED, "complies")
    strict = Rule(kind=AgreementRule.SHARE, k=3, min_share=Decimal("0.75"))
    assert decide(["complies", "complies", "violates"], strict).state == OutcomeState.DISPUTED
    assert decide(["complies"] * 3 + ["violates"], strict).state == OutcomeState.AGREED


def test_a_tie_for_the_top_verdict_is_never_agreement() -> None:
    half = Rule(kind=AgreementRule.SHARE, k=2, min_share=Decimal("0.5"))
    tie = decide(["complies", "violates"], half)
    assert (tie.state, tie.top_verdict) == (OutcomeState.DISPUTED, "")


def test_empty_verdicts_are_not_counted() -> None:
    assert decide(["complies", ""], UNANIMOUS_2).state == OutcomeState.OPEN


def test_a_current_adjudication_has_the_last_word_and_a_reopened_pair_waits_for_one() -> None:
    disputed = decide(["complies", "violates"], UNANIMOUS_2)
    agreed = decide(["complies", "complies"], UNANIMOUS_2)
    assert settle(disputed, DecisionKind.ADJUDICATED, UNANIMOUS_2) == OutcomeState.ADJUDICATED
    assert settle(agreed, DecisionKind.REOPENED, UNANIMOUS_2) == OutcomeState.DISPUTED
    one = decide(["complies"], UNANIMOUS_2)
    assert settle(one, DecisionKind.REOPENED, UNANIMOUS_2) == OutcomeState.OPEN
    assert settle(agreed, DecisionKind.AGREED, UNANIMOUS_2) == OutcomeState.AGREED
    assert settle(disputed, DecisionKind.WITHDRAWN, UNANIMOUS_2) == OutcomeState.DISPUTED
    assert settle(agreed, None, UNANIMOUS_2) == OutcomeState.AGREED


def test_an_item_with_a_disputed_clause_is_disputed_whatever_its_other_clauses() -> None:
    assert item_state(["agreed", "disputed", "adjudicated"]) == OutcomeState.DISPUTED
    assert item_state(["open", "disputed"]) == OutcomeState.DISPUTED
    assert item_state(["agreed", "open"]) == OutcomeState.OPEN
    assert item_state(["agreed", "adjudicated"]) == OutcomeState.ADJUDICATED
    assert item_state(["agreed", "agreed"]) == OutcomeState.AGREED
    assert item_state([]) == OutcomeState.OPEN


def test_the_agreed_severity_is_the_most_frequent_and_a_tie_goes_to_the_more_severe() -> None:
    scale = ["none", "low", "medium", "high"]
    assert agreed_severity(["low", "low", "high"], scale) == "low"
    assert agreed_severity(["low", "high"], scale) == "high"
    assert agreed_severity(["", ""], scale) == ""


def test_gold_records_the_rule_in_words() -> None:
    assert UNANIMOUS_2.describe() == "unanimous, at least 2 verdicts"
    assert TWO_THIRDS_3.describe() == "share >= 0.66 of at least 3 verdicts"
