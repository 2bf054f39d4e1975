"""Labeling in a real browser, keyboard only: queue → start → verdicts → conflict → submit.

The page saves through the API's one label contract; the conflict comes back as that
contract's 409 (each stale label as it is on the server)."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import Page, expect

from reviews.models import Assignment, Label
from tests.factories import TEST_PASSWORD
from tests.reviews.factories import make_campaign

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Playwright's event loop may already run when the test database is created (this module run
# alone); the conftest's autouse fixture sets the same flag, but only after that.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _sign_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.locator('input[name="login"]').fill(email)
    page.locator('input[name="password"]').fill(TEST_PASSWORD)
    page.locator('form button[type="submit"]').last.click()
    page.wait_for_url(re.compile(r"/w/"))


def test_a_reviewer_labels_an_item_with_the_keyboard_only(
    live_server, page: Page, screenshot, personas
) -> None:
    csp_errors: list[str] = []
    page.on(
        "console",
        lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=2,
        clause_count=4,
        message_count=6,
        k=1,
    )
    clauses = [cc.clause for cc in campaign.campaign_clauses.select_related("clause")]
    _sign_in(page, live_server.url, personas.reviewer.email)

    page.goto(f"{live_server.url}/w/{personas.workspace.slug}/queue/")
    expect(page.get_by_role("heading", name="My queue")).to_be_visible()
    screenshot("queue")
    page.get_by_test_id(f"start-{campaign.pk}").click()
    page.wait_for_url(re.compile(r"/items/\d+/$"))
    expect(page.locator(".clause-card").first).to_have_class(re.compile("active"))

    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    screenshot("labeling-shortcuts")
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()

    page.keyboard.press("1")  # complies on clause 1
    page.keyboard.press("j")
    page.keyboard.press("2")  # violates on clause 2
    page.keyboard.press("r")
    page.keyboard.type("Gives step-by-step help it should not.")
    page.keyboard.press("Escape")
    page.keyboard.press("s")  # severity: first option after "—"
    expect(page.locator("#save-state")).to_have_text("Saved", timeout=10_000)
    screenshot("labeling")
    labels = {label.clause_id: label for label in Label.objects.filter(reviewer=personas.reviewer)}
    assert labels[clauses[0].pk].verdict == "complies"
    assert labels[clauses[1].pk].verdict == "violates"
    assert labels[clauses[1].pk].rationale == "Gives step-by-step help it should not."
    assert labels[clauses[1].pk].severity == "none"

    # Someone (another tab) changes clause 1 meanwhile: the next save must not overwrite it.
    Label.objects.filter(pk=labels[clauses[0].pk].pk).update(verdict="not_applicable", revision=9)
    page.keyboard.press("k")
    page.keyboard.press("3")  # borderline, on a stale revision
    conflict = page.locator(f'[data-clause="{clauses[0].pk}"] .conflict')
    expect(conflict).to_be_visible(timeout=10_000)
    expect(conflict).to_contain_text("Not applicable")
    screenshot("labeling-conflict")
    assert Label.objects.get(pk=labels[clauses[0].pk].pk).verdict == "not_applicable"
    conflict.get_by_role("button", name="Keep mine").click()
    expect(page.locator("#save-state")).to_have_text("Saved", timeout=10_000)
    kept = Label.objects.get(pk=labels[clauses[0].pk].pk)
    assert (kept.verdict, kept.revision) == ("borderline", 10)

    # The campaign needs a verdict on every clause: "not applicable" on the last two.
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("4")
    page.keyboard.press("j")
    page.keyboard.press("4")
    expect(page.locator("#save-state")).to_have_text("Saved", timeout=10_000)
    assert Label.objects.filter(reviewer=personas.reviewer, verdict="not_applicable").count() == 2

    first_url = page.url
    page.keyboard.press("Control+Enter")
    page.wait_for_url(lambda url: url != first_url and "/items/" in url)
    assert (
        Assignment.objects.get(
            reviewer=personas.reviewer, item_id=labels[clauses[0].pk].item_id
        ).status
        == Assignment.Status.SUBMITTED
    )
    assert set(
        Label.objects.filter(reviewer=personas.reviewer).values_list("status", flat=True)
    ) == {"submitted"}

    page.goto(f"{live_server.url}/w/{personas.workspace.slug}/campaigns/{campaign.pk}/")
    expect(page.get_by_role("heading", name="Progress per reviewer")).to_be_visible()
    screenshot("campaign-detail", full_page=True)
    assert not csp_errors, csp_errors
