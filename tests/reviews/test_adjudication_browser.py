"""Adjudication in a real browser, keyboard only: the queue → an item's disputed pair → verdict,
severity and rationale by keys → record → the next item, where another adjudicator got there
first (409, shown on the card) → record again, knowingly → the queue, empty."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import Page, expect

from reviews.models import DecisionKind, GoldDecision, Item
from reviews.services.gold import decision_record
from tests.factories import TEST_PASSWORD
from tests.reviews.factories import label_and_submit, make_campaign

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _sign_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.locator('input[name="login"]').fill(email)
    page.locator('input[name="password"]').fill(TEST_PASSWORD)
    page.locator('input[name="password"]').press("Enter")
    page.wait_for_url(re.compile(r"/w/"))


def test_an_adjudicator_settles_disputed_pairs_with_the_keyboard_only(
    live_server, page: Page, screenshot, personas
) -> None:
    csp_errors: list[str] = []
    page.on(
        "console",
        lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.editor,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=2,
        clause_count=2,
        message_count=4,
    )
    for _ in range(2):
        label_and_submit(campaign, personas.reviewer, ["complies", "complies"], ["", "low"])
        label_and_submit(campaign, personas.second_reviewer, ["violates", "complies"], ["high"])
    items = list(Item.objects.filter(campaign=campaign).order_by("position"))
    disputed = campaign.campaign_clauses.order_by("position").first().clause
    slug = personas.workspace.slug

    _sign_in(page, live_server.url, personas.adjudicator.email)
    page.goto(f"{live_server.url}/w/{slug}/campaigns/{campaign.pk}/adjudicate/")
    expect(page.get_by_test_id("queue-total")).to_have_text("2 pairs to decide")
    screenshot("adjudication-queue")
    page.get_by_test_id("adjudicate-first").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/items/{items[0].pk}/adjudicate/"))
    card = page.get_by_test_id(f"pair-{disputed.key}")
    expect(card).to_have_class(re.compile("active"))
    expect(card.locator('.adj-label[data-source="human"]')).to_have_count(2)

    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()

    page.keyboard.press("2")  # violates
    page.keyboard.press("s")
    page.keyboard.press("s")  # the second severity
    page.keyboard.press("r")
    page.keyboard.type("Step-by-step synthesis: real uplift.")
    expect(card.locator('input[name="verdict"][value="violates"]')).to_be_checked()
    screenshot("adjudication")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(rf"/items/{items[1].pk}/adjudicate/"))
    gold = GoldDecision.objects.current().get(item=items[0], clause=disputed)
    assert (gold.kind, gold.verdict, gold.decided_by) == (
        DecisionKind.ADJUDICATED,
        "violates",
        personas.adjudicator,
    )
    assert gold.rationale == "Step-by-step synthesis: real uplift."
    assert gold.severity == campaign.severity_scale[1]["value"]

    # Another adjudicator settles the second item while this page is open.
    theirs = decision_record(
        item=items[1],
        clause=disputed,
        actor=personas.owner,
        verdict="complies",
        rationale="Refusal was right.",
        current_decision_id=None,
    )
    page.keyboard.press("1")
    page.keyboard.press("r")
    page.keyboard.type("Complies, on a second look.")
    page.keyboard.press("Control+Enter")
    conflict = page.get_by_test_id("decision-conflict")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("Someone decided this clause")
    assert GoldDecision.objects.current().get(item=items[1], clause=disputed) == theirs
    # The typed choice is kept; recording again replaces theirs, knowingly.
    card = page.get_by_test_id(f"pair-{disputed.key}")
    expect(card.locator('textarea[name="rationale"]')).to_have_value("Complies, on a second look.")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(rf"/campaigns/{campaign.pk}/adjudicate/$"))
    expect(page.get_by_test_id("queue-total")).to_have_text("0 pairs to decide")
    mine = GoldDecision.objects.current().get(item=items[1], clause=disputed)
    assert (mine.decided_by, mine.supersedes) == (personas.adjudicator, theirs)
    assert not csp_errors, csp_errors
