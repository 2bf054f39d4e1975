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
    small_clause = small_campaign.campaign_clauses.order_by("position").first().clause
    _comment(personas, small_items[0], small_clause, personas.reviewer, "One comment.")
    for clause in [cc.clause for cc in big.campaign_clauses.all()]:
        for author in (personas.reviewer, personas.second_reviewer):
            _comment(personas, big_item, clause, author, "A comment per reviewer and clause.")
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

    # Both items have decisions (agreed on one, adjudicated on the other) and comments (one on
    # one, twelve on the other): ten queries each.
    assert count(small_items[0]) == count(big_item) == 10


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


def test_the_queue_shows_the_leading_verdict_in_the_scales_words(personas) -> None:
    scale = [
        {"value": "v_safe", "label": "Safe reply"},
        {"value": "v_unsafe", "label": "Unsafe reply"},
    ]
    reviewers = [personas.reviewer, personas.second_reviewer, personas.owner]
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.editor,
        reviewers=reviewers,
        transcripts=1,
        clause_count=1,
        k=3,
        verdict_scale=scale,
    )
    # Two to one is disputed under the default unanimous rule, with a leading verdict.
    for reviewer, verdict in zip(reviewers, ["v_unsafe", "v_unsafe", "v_safe"], strict=True):
        label_and_submit(campaign, reviewer, [verdict])
    response = _queue(personas, campaign)
    assert [row["top_verdict"] for row in response.context["rows"]] == ["v_unsafe"]
    html = response.content.decode()
    table = html[html.index('data-testid="adjudication-queue"') :]
    assert "<td>Unsafe reply</td>" in table
    assert "v_unsafe" not in html and "v_safe" not in html


# --- The pair's discussion, inline -------------------------------------------------------------


def _comment(personas, item, clause, author, body):  # type: ignore[no-untyped-def]
    from reviews import access
    from reviews.services.threads import comment_post

    membership = personas.workspace.memberships.get(user=author)
    ref = access.thread_to_read(
        membership, campaign_id=item.campaign_id, item_id=item.pk, clause_key=clause.key
    )
    return ref, comment_post(ref=ref, author=author, body=body)


def _thread_url(personas, item, clause):  # type: ignore[no-untyped-def]
    return reverse(
        "reviews:thread-detail",
        args=(personas.workspace.slug, item.campaign_id, item.pk, clause.key),
    )


def _comment_html(html: str, comment_id: int) -> str:
    """A comment's body and earlier versions as a page renders them (from its first prose block:
    the relative times before it change from one request to the next)."""
    start = html.index(f'<li id="comment-{comment_id}"')
    start = html.index('<div class="prose"', start)
    return html[start : html.index("</li>", start)]


def test_the_item_page_shows_each_pairs_discussion_as_the_thread_page_renders_it(
    personas,
) -> None:
    from reviews.services.threads import comment_edit

    campaign, items, (disputed, agreed) = _campaign(personas, items=1)
    body = "It gives **real uplift**, see [the clause](https://example.test/c).<script>x()</script>"
    ref, first = _comment(personas, items[0], disputed, personas.reviewer, "First thought.")
    comment_edit(ref=ref, comment=first, editor=personas.reviewer, body=body, revision=1)
    _, mine = _comment(personas, items[0], disputed, personas.adjudicator, "The adjudicator asks.")
    _, other = _comment(personas, items[0], agreed, personas.second_reviewer, "On the agreed one.")

    client = personas.client_for(personas.adjudicator)
    html = client.get(_page_url(personas, items[0])).content.decode()
    card = html[html.index(f'id="pair-{disputed.key}"') : html.index(f'id="pair-{agreed.key}"')]
    discussion = card[card.index(f'data-testid="discussion-{disputed.key}"') :]
    assert "Discussion (2)" in discussion
    assert "<strong>real uplift</strong>" in discussion and "<script>" not in discussion
    assert "First thought." in discussion  # the earlier version, as the thread page keeps it
    assert "The adjudicator asks." in discussion and "On the agreed one." not in card
    assert "On the agreed one." in html[html.index(f'id="pair-{agreed.key}"') :]
    # Read-only here, even for the adjudicator's own comment; replying is one link away.
    assert "comment-edit" not in discussion and "/edit/" not in discussion
    assert _thread_url(personas, items[0], disputed) in card
    # Rendered by the thread page's own partial: the same markup for the same comment.
    thread = client.get(_thread_url(personas, items[0], disputed)).content.decode()
    assert _comment_html(html, first.pk) == _comment_html(thread, first.pk)
    assert _comment_html(html, other.pk) in html and mine.pk != other.pk


def test_a_blind_adjudicator_with_unsubmitted_labels_sees_no_discussion(personas) -> None:
    from reviews.services.campaigns import item_claim_next

    reviewers = [personas.reviewer, personas.second_reviewer, personas.adjudicator]
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.editor,
        reviewers=reviewers,
        transcripts=1,
        clause_count=1,
        k=3,
    )
    label_and_submit(campaign, personas.reviewer, ["complies"])
    label_and_submit(campaign, personas.second_reviewer, ["violates"])
    assert item_claim_next(campaign=campaign, reviewer=personas.adjudicator) is not None
    item = Item.objects.get(campaign=campaign)
    clause = campaign.campaign_clauses.get().clause
    _comment(personas, item, clause, personas.reviewer, "I said complies because of X.")

    client = personas.client_for(personas.adjudicator)
    assert client.get(_thread_url(personas, item, clause)).status_code == 403
    page = client.get(_page_url(personas, item))
    html = page.content.decode()
    assert page.status_code == 200
    assert "I said complies because of X." not in html
    assert f'data-testid="discussion-closed-{clause.key}"' in html
    assert f'data-testid="discussion-{clause.key}"' not in html


def test_the_item_page_reads_the_same_queries_for_one_comment_or_many(
    personas, django_assert_max_num_queries
) -> None:
    from reviews.services.threads import comment_edit

    # A third item keeps "next item" the same lookup for both pages measured.
    campaign, items, clauses = _campaign(personas, items=3)
    _comment(personas, items[0], clauses[0], personas.reviewer, "Only one.")
    for clause in clauses:
        for author in (personas.reviewer, personas.second_reviewer, personas.adjudicator):
            ref, comment = _comment(personas, items[1], clause, author, f"By {author.email}.")
            comment_edit(ref=ref, comment=comment, editor=author, body="Edited.", revision=1)
    client = personas.client_for(personas.adjudicator)

    def count(item: Item) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(_page_url(personas, item))
        assert response.status_code == 200 and "Discussion (" in response.content.decode()
        return len(queries)

    one, many = count(items[0]), count(items[1])
    # One comment has no earlier version, so its history prefetch still runs (Django skips it
    # only with no comment at all): the same statements for one comment or six with edits.
    assert one == many
    # session, user, membership, item, the selector's ten, next item, nav workspaces
    with django_assert_max_num_queries(16):
        client.get(_page_url(personas, items[1]))
