"""Labeling an item in one request (issue 10): save the labels, submit, and get the next item,
as JSON for a script and as the page part for the labeling page, with the guarantees of the
three-request path (revisions and 409, exactly k distinct reviewers, audit)."""

from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from clausebook.models import AuditEvent, Membership, Role
from clausebook.services import api_token_create
from reviews.models import (
    Assignment,
    Campaign,
    GoldDecision,
    Item,
    Label,
    Outcome,
    OutcomeState,
)
from reviews.services.campaigns import item_claim_next
from reviews.services.labels.core import LabelInput
from reviews.services.labels.next import labels_submit_and_next
from tests.factories import UserFactory
from tests.reviews.factories import make_campaign


def _script(user) -> Client:  # type: ignore[no-untyped-def]
    _token, secret = api_token_create(user=user, name="script")
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def _labels_url(campaign: Campaign, item_id: int) -> str:
    return (
        f"/api/v1/workspaces/{campaign.workspace.slug}/campaigns/{campaign.pk}"
        f"/items/{item_id}/labels/"
    )


def _every_clause(campaign: Campaign, verdict: str = "complies") -> list[dict[str, Any]]:
    keys = campaign.campaign_clauses.order_by("position").values_list("clause__key", flat=True)
    return [{"clause": key, "verdict": verdict} for key in keys]


def _campaign(personas, *, transcripts: int = 2, k: int = 1, **extra) -> Campaign:  # type: ignore[no-untyped-def]
    return make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=extra.pop("reviewers", [personas.reviewer]),
        transcripts=transcripts,
        clause_count=3,
        message_count=4,
        k=k,
        **extra,
    )


@pytest.mark.django_db
def test_a_script_labels_an_item_and_receives_the_next_in_one_request(personas) -> None:
    campaign = _campaign(personas)
    first = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    script = _script(personas.reviewer)

    answer = script.post(
        _labels_url(campaign, first.item_id),
        {"labels": _every_clause(campaign), "submit": True, "next": True},
        content_type="application/json",
    )

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["assignment"] == {"id": first.pk, "status": "submitted"}
    assert {label["status"] for label in body["labels"]} == {"submitted"}
    following = Assignment.objects.get(campaign=campaign, status=Assignment.Status.ACTIVE)
    assert following.reviewer == personas.reviewer and following.item_id != first.item_id
    nxt = body["next"]
    assert nxt["assignment"] == {"id": following.pk, "status": "active"}
    assert nxt["item"]["id"] == following.item_id
    assert nxt["item"]["url"].endswith(f"/items/{following.item_id}/")
    item = Item.objects.select_related("transcript").get(pk=following.item_id)
    assert nxt["transcript"]["messages"] == item.transcript.messages
    assert [c["key"] for c in nxt["clauses"]] == [c["clause"] for c in _every_clause(campaign)]
    assert nxt["labels"] == []

    # The last item: submitted, and nothing is left.
    last = script.post(
        _labels_url(campaign, following.item_id),
        {"labels": _every_clause(campaign), "submit": True, "next": True},
        content_type="application/json",
    )
    assert last.status_code == 200, last.content
    assert last.json()["next"] is None
    assert last.json()["assignment"]["status"] == "submitted"


@pytest.mark.django_db
def test_the_one_request_path_is_audited_like_the_three_requests(personas) -> None:
    campaign = _campaign(personas)
    first = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    before = AuditEvent.objects.count()
    _script(personas.reviewer).post(
        _labels_url(campaign, first.item_id),
        {"labels": _every_clause(campaign), "submit": True, "next": True},
        content_type="application/json",
    )
    verbs = Counter(AuditEvent.objects.order_by("pk")[before:].values_list("verb", flat=True))
    assert verbs["label.save"] == 3
    assert verbs["assignment.submit"] == 1
    assert verbs["assignment.claim"] == 1


def _inserts_into(table: str, sql: str) -> bool:
    return re.search(rf'^\s*INSERT INTO "?{table}\b', sql) is not None


def _one_request_queries(personas, *, clauses: int) -> list[str]:  # type: ignore[no-untyped-def]
    """The statements of one label-and-next request that submits every clause (k = 1, so each
    pair agrees and becomes gold) and receives the next item."""
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer],
        transcripts=3,
        clause_count=clauses,
        message_count=4,
        k=1,
    )
    script = _script(personas.reviewer)
    first = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    warm = script.post(  # the campaign's scope is cached from here on
        _labels_url(campaign, first.item_id),
        {"labels": _every_clause(campaign), "submit": True, "next": True},
        content_type="application/json",
    )
    with CaptureQueriesContext(connection) as queries:
        answer = script.post(
            _labels_url(campaign, warm.json()["next"]["item"]["id"]),
            {"labels": _every_clause(campaign), "submit": True, "next": True},
            content_type="application/json",
        )
    assert answer.status_code == 200, answer.content
    assert answer.json()["next"] is not None
    assert GoldDecision.objects.filter(item_id=answer.json()["item"]["id"]).count() == clauses
    return [query["sql"] for query in queries.captured_queries]


@pytest.mark.django_db
def test_labeling_an_item_costs_the_same_statements_for_three_clauses_or_forty(personas) -> None:
    """Pinned (issue 10, speed): the labels, their history, outcomes, gold and audit events
    are written a statement per kind, whatever the number of clauses."""
    few = _one_request_queries(personas, clauses=3)
    many = _one_request_queries(personas, clauses=40)
    assert len(few) == len(many), "\n".join(many)
    # One insert of audit events for the save, gold and submit; one more for the claim.
    assert sum(_inserts_into("clausebook_auditevent", sql) for sql in many) == 2
    assert sum(_inserts_into("reviews_labelrevision", sql) for sql in many) == 1
    assert len(many) <= 30, "\n".join(many)


@pytest.mark.django_db
def test_a_stale_revision_refuses_the_whole_request_and_hands_out_nothing(personas) -> None:
    campaign = _campaign(personas)
    first = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    script = _script(personas.reviewer)
    labels = _every_clause(campaign)
    saved = script.post(
        _labels_url(campaign, first.item_id), {"labels": labels}, content_type="application/json"
    ).json()["labels"]
    # Another tab moves the first label on; this tab still holds revision 1.
    script.post(
        _labels_url(campaign, first.item_id),
        {"labels": [{"clause": saved[0]["clause"], "verdict": "violates", "revision": 1}]},
        content_type="application/json",
    )

    answer = script.post(
        _labels_url(campaign, first.item_id),
        {
            "labels": [{"clause": saved[0]["clause"], "verdict": "borderline", "revision": 1}],
            "submit": True,
            "next": True,
        },
        content_type="application/json",
    )

    assert answer.status_code == 409, answer.content
    [stale] = answer.json()["current"]
    assert stale["label"]["verdict"] == "violates" and stale["label"]["revision"] == 2
    first.refresh_from_db()
    assert first.status == Assignment.Status.ACTIVE
    assert Assignment.objects.filter(campaign=campaign).count() == 1


@pytest.mark.django_db
def test_a_refused_submit_names_the_missing_clauses_and_hands_out_nothing(personas) -> None:
    campaign = _campaign(personas)
    first = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    answer = _script(personas.reviewer).post(
        _labels_url(campaign, first.item_id),
        {"labels": _every_clause(campaign)[:1], "submit": True, "next": True},
        content_type="application/json",
    )
    assert answer.status_code == 400, answer.content
    assert len(answer.json()["missing_clauses"]) == 2
    assert Assignment.objects.filter(campaign=campaign).count() == 1


@pytest.mark.django_db
def test_asking_for_the_next_item_without_submitting_is_a_clear_400(personas) -> None:
    campaign = _campaign(personas)
    first = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    answer = _script(personas.reviewer).post(
        _labels_url(campaign, first.item_id),
        {"labels": _every_clause(campaign), "next": True},
        content_type="application/json",
    )
    assert answer.status_code == 400
    assert "next" in answer.content.decode()
    assert not Label.objects.filter(assignment=first).exists()


@pytest.mark.django_db
def test_the_three_request_path_still_answers_without_a_next_item(personas) -> None:
    campaign = _campaign(personas)
    first = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    answer = _script(personas.reviewer).post(
        _labels_url(campaign, first.item_id),
        {"labels": _every_clause(campaign), "submit": True},
        content_type="application/json",
    )
    assert answer.status_code == 200
    assert "next" not in answer.json()
    assert not Assignment.objects.filter(campaign=campaign, status="active").exists()


@pytest.mark.django_db
def test_the_labeling_page_receives_the_next_items_page_part(personas) -> None:
    campaign = _campaign(personas)
    first = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    browser = personas.client_for(personas.reviewer)

    answer = browser.post(
        _labels_url(campaign, first.item_id),
        {"labels": _every_clause(campaign), "submit": True, "next": True},
        content_type="application/json",
        headers={"Accept": "text/html", "HX-Request": "true"},
    )

    assert answer.status_code == 200, answer.content
    following = Assignment.objects.get(campaign=campaign, status=Assignment.Status.ACTIVE)
    url = f"/w/{campaign.workspace.slug}/campaigns/{campaign.pk}/items/{following.item_id}/"
    assert answer["X-Next-Location"] == url
    html = answer.content.decode()
    assert html.lstrip().startswith('<div id="labeling-root"')
    assert "<html" not in html  # the page part only: the page around it stays
    assert f'data-url="{url}"' in html
    assert "item #2" in html
    assert html.count('class="clause-card') == 3


@pytest.mark.django_db
def test_the_labeling_page_is_sent_to_the_queue_when_nothing_is_left(personas) -> None:
    campaign = _campaign(personas, transcripts=1)
    first = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    browser = personas.client_for(personas.reviewer)
    answer = browser.post(
        _labels_url(campaign, first.item_id),
        {"labels": _every_clause(campaign), "submit": True, "next": True},
        content_type="application/json",
        headers={"Accept": "text/html"},
    )
    assert answer.status_code == 200
    assert answer["X-Next-Location"] == f"/w/{campaign.workspace.slug}/queue/"
    assert answer.content == b""
    queue = browser.get(answer["X-Next-Location"])
    assert "You are done with" in queue.content.decode()


@pytest.mark.django_db
def test_a_paused_campaign_keeps_the_submit_and_says_why_no_next_item(
    personas, monkeypatch
) -> None:
    campaign = _campaign(personas)
    first = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    from reviews.services.labels import next as next_module

    real_claim = next_module.item_claim_next

    def pause_then_claim(**kwargs):  # type: ignore[no-untyped-def]
        # An editor pauses the campaign between the submit's commit and the claim.
        Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.PAUSED)
        return real_claim(**kwargs)

    monkeypatch.setattr(next_module, "item_claim_next", pause_then_claim)
    inputs = [LabelInput(clause=c["clause"], verdict=c["verdict"]) for c in _every_clause(campaign)]
    step = labels_submit_and_next(assignment=first, reviewer=personas.reviewer, labels=inputs)
    assert step.saved.assignment.status == Assignment.Status.SUBMITTED
    assert step.next is None
    assert "paused" in step.next_refused


# --------------------------------------------------------------------------------------------------
# Concurrency: 20 reviewers, k = 3, each labeling through the one-request path only.
# --------------------------------------------------------------------------------------------------


def _reviewers(personas, n: int) -> list:  # type: ignore[no-untyped-def]
    reviewers = []
    for i in range(n):
        user = UserFactory(email=f"one-request{i}@policy.test")
        Membership.objects.create(workspace=personas.workspace, user=user, role=Role.REVIEWER)
        reviewers.append(user)
    return reviewers


def _label_until_done(campaign: Campaign, reviewer, inputs: list[LabelInput]) -> list[int]:  # type: ignore[no-untyped-def]
    """Claim once, then label-and-next until nothing is left: the items this reviewer labeled."""
    labeled: list[int] = []
    assignment = item_claim_next(campaign=campaign, reviewer=reviewer)
    while assignment is not None:
        step = labels_submit_and_next(assignment=assignment, reviewer=reviewer, labels=inputs)
        assert not step.next_refused, step.next_refused
        labeled.append(step.saved.assignment.item_id)
        assignment = step.next
    return labeled


def _in_threads(work, args_list, *, timeout: float = 180) -> list:  # type: ignore[no-untyped-def]
    """Run ``work(*args)`` in one thread per entry (each with its own database connection),
    started together; re-raise any error."""
    barrier = threading.Barrier(len(args_list))
    results: list = [None] * len(args_list)
    errors: list[BaseException] = []

    def run(index: int, args: tuple) -> None:  # type: ignore[type-arg]
        try:
            barrier.wait()
            results[index] = work(*args)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(args_list)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a reviewer never finished"
    assert not errors, errors
    return results


@pytest.mark.django_db(transaction=True)
def test_twenty_reviewers_labeling_in_one_request_each_give_every_item_three_reviewers(
    personas,
) -> None:
    reviewers = _reviewers(personas, 20)
    items = 12
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=reviewers,
        transcripts=items,
        clause_count=2,
        k=3,
    )
    inputs = [LabelInput(clause=c["clause"], verdict=c["verdict"]) for c in _every_clause(campaign)]

    labeled = _in_threads(_label_until_done, [(campaign, r, inputs) for r in reviewers])

    for reviewer_items in labeled:
        assert len(reviewer_items) == len(set(reviewer_items)), "an item twice to one reviewer"
    per_item = Counter(item for reviewer_items in labeled for item in reviewer_items)
    item_ids = set(Item.objects.filter(campaign=campaign).values_list("pk", flat=True))
    assert set(per_item) == item_ids, "an item was lost"
    assert set(per_item.values()) == {3}
    submitted = Assignment.objects.filter(campaign=campaign, status=Assignment.Status.SUBMITTED)
    pairs = set(submitted.values_list("item_id", "reviewer_id"))
    assert len(pairs) == items * 3  # three distinct reviewers on every item
    assert (
        not Assignment.objects.filter(campaign=campaign)
        .exclude(status=Assignment.Status.SUBMITTED)
        .exists()
    )
    assert not Item.objects.filter(campaign=campaign, open_slots__gt=0).exists()
    counted = Counter(
        Label.objects.filter(campaign=campaign, status=Label.Status.SUBMITTED).values_list(
            "item_id", flat=True
        )
    )
    assert counted == {item: 3 * len(inputs) for item in item_ids}
    # The submits raced on each item; the last of its three decided every pair with all three
    # verdicts in view, and agreement made gold of it once.
    assert set(Item.objects.filter(campaign=campaign).values_list("state", flat=True)) == {
        OutcomeState.AGREED
    }
    outcomes = Outcome.objects.filter(campaign=campaign)
    assert outcomes.count() == items * len(inputs)
    assert set(outcomes.values_list("state", "verdict_count")) == {(OutcomeState.AGREED, 3)}
    gold = GoldDecision.objects.filter(campaign=campaign, is_current=True)
    assert gold.count() == items * len(inputs)
    assert {decision.agreeing_reviewers.count() for decision in gold} == {3}
