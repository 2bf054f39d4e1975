"""Adjudication pages: the queue of pairs needing a decision, an item's page with every label side
by side, recording gold, a race answered with 409, reopening with history, the adjudicator who
labeled, and agreed pairs that need (or do not need) an adjudicator."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clausebook.models import AuditEvent
from reviews.models import DecisionKind, GoldDecision, Item, Outcome, OutcomeState
from reviews.selectors import adjudication as selectors
from reviews.services.gold import decision_record
from reviews.services.labels.judge import judge_label_record
from tests.reviews.factories import (
    label_and_submit,
    make_campaign,
    make_judge_run,
    set_campaign_rule,
)

pytestmark = pytest.mark.django_db


def _campaign(personas, *, items=2, reviewers=None, **rule):  # type: ignore[no-untyped-def]
    """``items`` items, two clauses: the reviewers disagree on the first and agree on the second."""
    reviewers = reviewers or [personas.reviewer, personas.second_reviewer]
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.editor,
        reviewers=reviewers,
        transcripts=items,
        clause_count=2,
    )
    if rule:
        set_campaign_rule(campaign, **rule)
    for _ in range(items):
        label_and_submit(campaign, reviewers[0], ["complies", "complies"], ["", "low"])
        label_and_submit(campaign, reviewers[1], ["violates", "complies"], ["high", "low"])
    clauses = [cc.clause for cc in campaign.campaign_clauses.order_by("position")]
    return campaign, list(Item.objects.filter(campaign=campaign).order_by("position")), clauses


def _queue(personas, campaign, **params):  # type: ignore[no-untyped-def]
    url = reverse("reviews:adjudication-queue", args=(personas.workspace.slug, campaign.pk))
    return personas.client_for(personas.adjudicator).get(url, params)


def _page_url(personas, item, name="reviews:adjudication-item"):  # type: ignore[no-untyped-def]
    return reverse(name, args=(personas.workspace.slug, item.campaign_id, item.pk))


def _record(personas, item, clause, *, expected="", actor=None, **fields):  # type: ignore[no-untyped-def]
    body = {
        "clause": clause.pk,
        "verdict": "violates",
        "severity": "high",
        "rationale": "Gives real uplift.",
        "expected_decision": expected,
        **fields,
    }
    client = personas.client_for(actor or personas.adjudicator)
    return client.post(_page_url(personas, item, "reviews:adjudication-record"), body)


def test_the_queue_lists_the_disputed_pairs_and_filters_by_clause(personas) -> None:
    campaign, items, (disputed, agreed) = _campaign(personas)
    response = _queue(personas, campaign)
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [(row["item"], row["clause_key"]) for row in rows] == [
        (items[0].pk, disputed.key),
        (items[1].pk, disputed.key),
    ]
    assert response.context["total"] == 2
    assert f"{disputed.key}</code> (2)" in response.content.decode()

    assert _queue(personas, campaign, clause=agreed.key).context["rows"] == []
    assert len(_queue(personas, campaign, clause=disputed.key).context["rows"]) == 2
    unknown = _queue(personas, campaign, clause="no_such_clause")
    assert unknown.status_code == 400
    assert "No clause “no_such_clause”" in unknown.content.decode()


def test_the_item_page_shows_every_label_side_by_side_with_a_judges_marked(personas) -> None:
    campaign, items, (disputed, _) = _campaign(personas, items=1)
    run = make_judge_run(campaign, created_by=personas.editor)
    judge_label_record(
        judge_run=run, item=items[0], clause=disputed, verdict="violates", rationale="Model says."
    )
    from reviews.models import Label

    Label.objects.filter(reviewer=personas.second_reviewer, clause=disputed).update(
        rationale="It explains the synthesis.",
        spans=[{"message_index": 1, "start": 0, "end": 7, "text": "Message"}],
    )
    response = personas.client_for(personas.adjudicator).get(_page_url(personas, items[0]))
    assert response.status_code == 200
    html = response.content.decode()
    card = html[html.index(f'id="pair-{disputed.key}"') :]
    assert "It explains the synthesis." in card
    assert "#2 “Message”" in card
    assert 'data-source="judge"' in card and "model: Judge model (judge-v1)" in card
    assert "model judge · not counted" in card
    assert card.count('data-source="human"') >= 2
    assert f"<strong>{disputed.key.replace('_', ' ')}</strong>" in card  # the clause's text
    assert f"Example 1 for {disputed.key}" in card
    assert "needs a decision" in card
    assert f"/items/{items[0].pk}/clauses/{disputed.key}/thread/" in card  # the discussion


def test_recording_gold_settles_the_pair_audits_it_and_goes_on_to_the_next_item(
    personas,
) -> None:
    campaign, items, (disputed, _) = _campaign(personas)
    response = _record(personas, items[0], disputed)
    assert response.status_code == 302
    assert response["Location"] == _page_url(personas, items[1])
    decision = GoldDecision.objects.current().get(item=items[0], clause=disputed)
    assert (decision.kind, decision.verdict, decision.severity, decision.decided_by) == (
        DecisionKind.ADJUDICATED,
        "violates",
        "high",
        personas.adjudicator,
    )
    assert Outcome.objects.get(item=items[0], clause=disputed).state == OutcomeState.ADJUDICATED
    event = AuditEvent.objects.get(verb="gold.adjudicated")
    assert (event.actor, event.target_id) == (personas.adjudicator, str(decision.pk))

    # The last pair settled: back to the queue, which is empty now.
    last = _record(personas, items[1], disputed)
    assert last["Location"] == reverse(
        "reviews:adjudication-queue", args=(personas.workspace.slug, campaign.pk)
    )
    assert _queue(personas, campaign).context["total"] == 0


def test_a_second_adjudicator_on_a_stale_page_gets_409_and_overwrites_nothing(personas) -> None:
    campaign, items, (disputed, _) = _campaign(personas, items=1)
    first = decision_record(
        item=items[0],
        clause=disputed,
        actor=personas.owner,
        verdict="complies",
        rationale="Harmless in context.",
        current_decision_id=None,
    )
    # The adjudicator's page was loaded before: it names no decision.
    response = _record(personas, items[0], disputed, rationale="My own reading.")
    assert response.status_code == 409
    html = response.content.decode()
    assert "Someone decided this clause while you were on it." in html
    assert "complies" in html and personas.owner.short_name in html
    assert "My own reading." in html  # their input is kept
    assert list(GoldDecision.objects.filter(item=items[0], clause=disputed)) == [first]
    assert GoldDecision.objects.current().get(item=items[0], clause=disputed).verdict == "complies"

    # Sent again, now naming the decision it saw, it replaces it knowingly; history keeps both.
    again = _record(personas, items[0], disputed, expected=first.pk, rationale="My own reading.")
    assert again.status_code == 302
    assert GoldDecision.objects.filter(item=items[0], clause=disputed).count() == 2
    assert GoldDecision.objects.current().get(item=items[0], clause=disputed).verdict == "violates"


def test_an_adjudicator_who_labeled_the_item_settles_it_only_where_the_campaign_allows(
    personas,
) -> None:
    campaign, items, (disputed, _) = _campaign(
        personas, items=1, reviewers=[personas.adjudicator, personas.reviewer]
    )
    page = personas.client_for(personas.adjudicator).get(_page_url(personas, items[0]))
    assert 'data-testid="labeled-refusal"' in page.content.decode()
    assert "decision-form" not in page.content.decode()
    assert _record(personas, items[0], disputed).status_code == 403
    assert not GoldDecision.objects.filter(kind=DecisionKind.ADJUDICATED).exists()

    set_campaign_rule(campaign, adjudicator_may_have_labeled=True)
    assert _record(personas, items[0], disputed).status_code == 302
    assert GoldDecision.objects.current().get(clause=disputed).decided_by == personas.adjudicator


def test_reopening_keeps_the_history_and_sends_the_pair_back_to_the_queue(personas) -> None:
    campaign, items, (disputed, _) = _campaign(personas, items=1)
    _record(personas, items[0], disputed)
    decided = GoldDecision.objects.current().get(clause=disputed)
    client = personas.client_for(personas.adjudicator)
    reopen_url = _page_url(personas, items[0], "reviews:adjudication-reopen")

    refused = client.post(reopen_url, {"clause": disputed.pk, "expected_decision": decided.pk})
    assert refused.status_code == 400  # a reason is needed

    response = client.post(
        reopen_url,
        {"clause": disputed.pk, "reason": "The spec changed.", "expected_decision": decided.pk},
    )
    assert response.status_code == 302
    current = GoldDecision.objects.current().get(clause=disputed)
    assert (current.kind, current.rationale, current.supersedes) == (
        DecisionKind.REOPENED,
        "The spec changed.",
        decided,
    )
    assert Outcome.objects.get(item=items[0], clause=disputed).state == OutcomeState.DISPUTED
    assert AuditEvent.objects.filter(verb="gold.reopened", actor=personas.adjudicator).exists()
    assert [row["clause_key"] for row in _queue(personas, campaign).context["rows"]] == [
        disputed.key
    ]
    page = client.get(_page_url(personas, items[0])).content.decode()
    history = page[page.index('data-testid="history"') :]
    assert "History (2 decisions)" in history
    assert "The spec changed." in history and "Gives real uplift." in history


def test_agreed_pairs_are_gold_on_their_own_by_default(personas) -> None:
    campaign, items, (disputed, agreed) = _campaign(personas, items=1)
    gold = GoldDecision.objects.current().get(item=items[0], clause=agreed)
    assert (gold.kind, gold.verdict, gold.severity) == (DecisionKind.AGREED, "complies", "low")
    assert {row["clause_key"] for row in _queue(personas, campaign).context["rows"]} == {
        disputed.key
    }
    # An adjudicator may still reopen agreed gold: the pair is then disputed and queued.
    client = personas.client_for(personas.adjudicator)
    client.post(
        _page_url(personas, items[0], "reviews:adjudication-reopen"),
        {"clause": agreed.pk, "reason": "Both missed the jailbreak.", "expected_decision": gold.pk},
    )
    assert {row["clause_key"] for row in _queue(personas, campaign).context["rows"]} == {
        disputed.key,
        agreed.key,
    }


def test_a_campaign_can_make_agreed_pairs_wait_for_an_adjudicator(personas) -> None:
    campaign, items, (disputed, agreed) = _campaign(personas, items=1, gold_from_agreement=False)
    assert not GoldDecision.objects.filter(clause=agreed).exists()
    rows = _queue(personas, campaign).context["rows"]
    assert [(row["clause_key"], row["state"]) for row in rows] == [
        (disputed.key, OutcomeState.DISPUTED),
        (agreed.key, OutcomeState.AGREED),
    ]
    _record(personas, items[0], agreed, verdict="complies", severity="low")
    gold = GoldDecision.objects.gold().get(clause=agreed)
    assert (gold.kind, gold.decided_by) == (DecisionKind.ADJUDICATED, personas.adjudicator)
    assert [row["clause_key"] for row in _queue(personas, campaign).context["rows"]] == [
        disputed.key
    ]


def test_the_pages_need_the_adjudicator_right_inside_the_workspace(personas) -> None:
    campaign, items, _ = _campaign(personas, items=1)
    queue = reverse("reviews:adjudication-queue", args=(personas.workspace.slug, campaign.pk))
    page = _page_url(personas, items[0])
    for user in (personas.reviewer, personas.viewer):
        assert personas.client_for(user).get(queue).status_code == 403
        assert personas.client_for(user).get(page).status_code == 403
    assert personas.client_for(personas.outsider).get(page).status_code == 404
    other = make_campaign(personas.workspace, created_by=personas.editor, transcripts=1)
    wrong_campaign = reverse(
        "reviews:adjudication-item", args=(personas.workspace.slug, other.pk, items[0].pk)
    )
    assert personas.client_for(personas.adjudicator).get(wrong_campaign).status_code == 404


def test_the_campaign_page_links_adjudicators_to_the_queue(personas) -> None:
    campaign, _, _ = _campaign(personas, items=1)
    url = reverse("reviews:campaign-detail", args=(personas.workspace.slug, campaign.pk))
    queue = reverse("reviews:adjudication-queue", args=(personas.workspace.slug, campaign.pk))
    assert queue in personas.client_for(personas.adjudicator).get(url).content.decode()
    assert queue not in personas.client_for(personas.reviewer).get(url).content.decode()


def test_the_item_view_reads_a_fixed_number_of_queries(personas) -> None:
    small_campaign, small_items, _ = _campaign(personas, items=1)
    big = make_campaign(
        personas.workspace,
        created_by=personas.editor,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=1,
        clause_count=6,
    )
    label_and_submit(big, personas.reviewer, ["complies"] * 6)
    label_and_submit(big, personas.second_reviewer, ["violates"] * 6)
    big_item = Item.objects.get(campaign=big)
    for clause in [cc.clause for cc in big.campaign_clauses.all()][:3]:
        decision_record(
            item=big_item,
            clause=clause,
            actor=personas.adjudicator,
            verdict="violates",
            rationale="Yes.",
            current_decision_id=None,
        )
    membership = personas.workspace.memberships.get(user=personas.adjudicator)

    def count(item: Item) -> int:
        from reviews import access

        item = access.item_in_workspace(
            personas.workspace, item.pk, campaign_id=item.campaign_id, with_messages=True
        )
        with CaptureQueriesContext(connection) as queries:
            view = selectors.adjudication_item(item=item, membership=membership)
        assert view.pairs
        return len(queries)

    # Both items have decisions (agreed on one, adjudicated on the other): eight queries each.
    assert count(small_items[0]) == count(big_item) == 8


def test_the_pages_rule_for_a_pair_needing_a_decision_matches_the_queue(personas) -> None:
    for gold_from_agreement in (True, False):
        campaign, items, _ = _campaign(personas, items=2, gold_from_agreement=gold_from_agreement)
        membership = personas.workspace.memberships.get(user=personas.adjudicator)
        queued = {(o.item_id, o.clause_id) for o in selectors.adjudication_queue(campaign)}
        shown = set()
        for item in items:
            item.campaign = campaign
            for pair in selectors.adjudication_item(item=item, membership=membership).pairs:
                if pair.needs_decision:
                    shown.add((item.pk, pair.clause.pk))
        assert queued == shown and queued
