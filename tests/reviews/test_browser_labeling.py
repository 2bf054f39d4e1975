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
from tests.reviews.factories import make_campaign, set_campaign_rule

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
    assert Label.objects.get(pk=labels[clauses[0].pk].pk).verdict == "not_applicable"
    # Only the verdict differs; this tab changed it, so keeping mine is what is offered.
    verdict = conflict.locator('fieldset[data-field="verdict"]')
    expect(verdict.get_by_label(re.compile("Keep mine"))).to_be_checked()
    expect(conflict.locator("fieldset")).to_have_count(1)
    conflict.get_by_role("button", name="Save these choices").click()
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


# --------------------------------------------------------------------------------------------------
# Orientation, the action bar, submitting, "n", and conflicts field by field (issue 9)
# --------------------------------------------------------------------------------------------------


def _start(page: Page, live_server, personas, campaign) -> None:  # type: ignore[no-untyped-def]
    _sign_in(page, live_server.url, personas.reviewer.email)
    page.goto(f"{live_server.url}/w/{personas.workspace.slug}/queue/")
    page.get_by_test_id(f"start-{campaign.pk}").click()
    page.wait_for_url(re.compile(r"/items/\d+/$"))
    expect(page.locator(".clause-card").first).to_have_class(re.compile("active"))


def _campaign(personas, **options):  # type: ignore[no-untyped-def]
    defaults = {
        "reviewers": [personas.reviewer],
        "transcripts": 2,
        "clause_count": 4,
        "message_count": 4,
        "k": 1,
    }
    return make_campaign(
        personas.workspace, created_by=personas.adjudicator, **(defaults | options)
    )


def _inside_viewport(page: Page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    viewport = page.viewport_size
    assert box is not None and viewport is not None
    return (
        box["y"] >= 0
        and box["y"] + box["height"] <= viewport["height"]
        and box["x"] >= 0
        and box["x"] + box["width"] <= viewport["width"]
    )


def test_submit_and_the_save_status_stay_in_view_at_the_end_of_a_long_transcript(
    live_server, page: Page, personas
) -> None:
    campaign = _campaign(personas, message_count=60, clause_count=12)
    _start(page, live_server, personas, campaign)
    expect(page.get_by_test_id("item-position")).to_have_text(re.compile(r"^Item [12] of 2$"))
    expect(page.get_by_test_id("clauses-done")).to_have_text("Clauses done 0 of 12")
    page.keyboard.press("1")
    page.keyboard.press("j")
    page.keyboard.press("2")
    # Live, as verdicts are set, before the saves come back.
    expect(page.get_by_test_id("clauses-done")).to_have_text("Clauses done 2 of 12")
    expect(page.locator("#save-state")).to_have_text("Saved", timeout=10_000)

    height = page.evaluate("document.documentElement.scrollHeight")
    assert height > 3 * page.viewport_size["height"]  # a long page: the test means something
    # Halfway down, then at the very bottom: the action bar is still on screen.
    for fraction in (0.5, 1.0):
        target = page.evaluate(
            "f => Math.round((document.documentElement.scrollHeight - innerHeight) * f)", fraction
        )
        page.evaluate("y => window.scrollTo(0, y)", target)
        page.wait_for_function("y => Math.abs(window.scrollY - y) < 2", arg=target)
        assert target > page.viewport_size["height"]
        assert _inside_viewport(page, '[data-testid="submit-item"]')
        assert _inside_viewport(page, "#save-state")
        assert _inside_viewport(page, '[data-testid="clauses-done"]')


def test_submit_with_clauses_blank_names_them_and_marks_the_rest_not_applicable_in_one_key(
    live_server, page: Page, personas, screenshot
) -> None:
    campaign = _campaign(personas)
    _start(page, live_server, personas, campaign)
    first_url = page.url
    page.keyboard.press("1")
    page.keyboard.press("Control+Enter")
    missing = page.locator("#missing")
    expect(missing).to_be_visible(timeout=10_000)
    expect(missing.locator(".missing-list a")).to_have_text(["clause_2", "clause_3", "clause_4"])
    assert page.url == first_url
    assignment = Assignment.objects.get(reviewer=personas.reviewer)
    assert assignment.status == Assignment.Status.ACTIVE  # refused by the server
    screenshot("labeling-missing")

    page.keyboard.press("a")
    expect(missing).to_be_hidden()
    expect(page.get_by_test_id("clauses-done")).to_have_text("Clauses done 4 of 4")
    expect(page.locator("#save-state")).to_have_text("Saved", timeout=10_000)
    page.keyboard.press("Control+Enter")
    page.wait_for_url(lambda url: url != first_url and "/items/" in url)
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SUBMITTED
    assert sorted(
        Label.objects.filter(assignment=assignment).values_list("clause__key", "verdict")
    ) == [
        ("clause_1", "complies"),
        ("clause_2", "not_applicable"),
        ("clause_3", "not_applicable"),
        ("clause_4", "not_applicable"),
    ]


def test_a_partial_submit_is_confirmed_first_where_the_campaign_allows_one(
    live_server, page: Page, personas, screenshot
) -> None:
    campaign = _campaign(personas)
    set_campaign_rule(campaign, require_every_clause=False)
    _start(page, live_server, personas, campaign)
    first_url = page.url
    page.keyboard.press("1")
    page.keyboard.press("Control+Enter")
    dialog = page.locator("#confirm-partial")
    expect(dialog).to_be_visible(timeout=10_000)
    expect(dialog.get_by_role("heading")).to_have_text("Submit with 3 of 4 clauses blank?")
    expect(dialog.locator(".blank-list li")).to_have_text(["clause_2", "clause_3", "clause_4"])
    screenshot("labeling-partial")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assignment = Assignment.objects.get(reviewer=personas.reviewer)
    assert assignment.status == Assignment.Status.ACTIVE

    page.keyboard.press("Control+Enter")
    dialog.get_by_test_id("confirm-partial").click()
    page.wait_for_url(lambda url: url != first_url and "/items/" in url)
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SUBMITTED


def test_n_on_an_unsubmitted_item_offers_to_submit_or_skip_it_first(
    live_server, page: Page, personas
) -> None:
    campaign = _campaign(personas, transcripts=3)
    _start(page, live_server, personas, campaign)
    first_url = page.url
    prompt = page.locator("#next-prompt")
    page.keyboard.press("n")
    expect(prompt).to_be_visible()
    expect(prompt.get_by_test_id("next-submit")).to_be_focused()
    page.keyboard.press("Escape")
    expect(prompt).to_be_hidden()
    assert page.url == first_url

    # Skip from the prompt: the reason is asked there, and the next item follows.
    page.keyboard.press("n")
    prompt.get_by_label("Skip reason").fill("Not in English")
    prompt.get_by_test_id("next-skip").click()
    page.wait_for_url(lambda url: url != first_url and "/items/" in url)
    skipped = Assignment.objects.get(reviewer=personas.reviewer, status="skipped")
    assert skipped.skip_reason == "Not in English"
    second_url = page.url

    # Submit from the prompt (Enter): every clause gets a verdict first.
    for _ in range(4):
        page.keyboard.press("4")
        page.keyboard.press("j")
    expect(page.locator("#save-state")).to_have_text("Saved", timeout=10_000)
    page.keyboard.press("n")
    expect(prompt).to_be_visible()
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: url not in (first_url, second_url) and "/items/" in url)
    assert Assignment.objects.filter(reviewer=personas.reviewer, status="submitted").count() == 1


def test_a_conflict_between_two_tabs_is_resolved_field_by_field(
    live_server, page: Page, personas
) -> None:
    campaign = _campaign(personas)
    _start(page, live_server, personas, campaign)
    other = page.context.new_page()  # a second tab, same reviewer, same item
    other.goto(page.url)
    expect(other.locator(".clause-card").first).to_have_class(re.compile("active"))

    # Tab A: a verdict and a careful rationale on clause 1.
    page.bring_to_front()
    page.keyboard.press("1")
    page.keyboard.press("r")
    page.keyboard.type("Tab A: the answer refuses politely and points to safer resources.")
    page.keyboard.press("Escape")
    expect(page.locator("#save-state")).to_have_text("Saved", timeout=10_000)

    # Tab B, loaded before, gives another verdict on the same clause: 409.
    other.bring_to_front()
    other.keyboard.press("2")
    card = other.locator(".clause-card").first
    conflict = card.locator(".conflict")
    expect(conflict).to_be_visible(timeout=10_000)
    # The other tab's rationale is there in full, next to this tab's (empty) one.
    rationale = conflict.locator('fieldset[data-field="rationale"]')
    expect(rationale).to_contain_text(
        "Tab A: the answer refuses politely and points to safer resources."
    )
    verdict = conflict.locator('fieldset[data-field="verdict"]')
    expect(verdict).to_contain_text("Violates")
    expect(verdict).to_contain_text("Complies")
    expect(conflict.locator("fieldset")).to_have_count(2)  # severity and spans agree
    conflict.get_by_role("button", name="Take all theirs").scroll_into_view_if_needed()
    _screenshot_of(other, "labeling-conflict")

    verdict.get_by_label(re.compile("Keep mine")).check()
    rationale.get_by_label(re.compile("Take theirs")).check()
    conflict.get_by_role("button", name="Save these choices").click()
    expect(other.locator("#save-state")).to_have_text("Saved", timeout=10_000)
    expect(conflict).to_be_hidden()
    expect(card.locator("textarea")).to_have_value(
        "Tab A: the answer refuses politely and points to safer resources."
    )
    label = Label.objects.get(reviewer=personas.reviewer)
    assert (label.verdict, label.rationale, label.revision) == (
        "violates",
        "Tab A: the answer refuses politely and points to safer resources.",
        2,
    )


def _screenshot_of(page: Page, name: str) -> None:
    """The ``screenshot`` fixture shoots the first tab; this shoots another tab, to the same
    folder (the user guide's)."""
    from tests.conftest import SCREENSHOTS

    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
