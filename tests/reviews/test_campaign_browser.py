"""The new-campaign form and the campaign page in a real browser (issue 9): conditional fields
appear only for their choice, the clause picker filters and ticks, the live count respects the
limit, and the campaign page lists the items. Without JavaScript the same form still works."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import Browser, Page, expect

from reviews.models import Campaign
from tests.factories import TEST_PASSWORD
from tests.reviews.factories import make_published_version, make_transcript

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Playwright's event loop may already run when the test database is created (this module run
# alone); the conftest's autouse fixture sets the same flag, but only after that.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

KEYS = ["overview", "honesty", "privacy", "privacy_of_minors", "tone"]


def _sign_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.locator('input[name="login"]').fill(email)
    page.locator('input[name="password"]').fill(TEST_PASSWORD)
    page.locator('form button[type="submit"]').last.click()
    page.wait_for_url(re.compile(r"/w/"))


def _csp_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return errors


def _data(personas) -> None:  # type: ignore[no-untyped-def]
    make_published_version(personas.workspace, keys=["old_root", "old_rule"], label="2025-02-12")
    make_published_version(personas.workspace, keys=KEYS, label="2025-12-18")
    for n in range(5):
        make_transcript(personas.workspace, tags=["xstest"], external_id=f"xstest-{n:02d}")
    make_transcript(personas.workspace, tags=["other"])


def test_the_campaign_form_shows_each_field_when_it_matters_and_counts_within_the_limit(
    live_server, page: Page, screenshot, personas
) -> None:
    _data(personas)
    csp_errors = _csp_errors(page)
    _sign_in(page, live_server.url, personas.adjudicator.email)
    page.goto(f"{live_server.url}/w/{personas.workspace.slug}/campaigns/new/")
    expect(page.get_by_role("heading", name="New campaign")).to_be_visible()

    subtree = page.locator("#id_parent_key")
    picker = page.locator(".clause-picker")
    tag = page.locator("#id_tag")
    for hidden in (
        subtree,
        picker,
        tag,
        page.locator("#id_search"),
        page.locator("#id_import_run"),
    ):
        expect(hidden).to_be_hidden()
    expect(page.get_by_label("Reviewers per item (k)")).to_have_value("2")

    page.get_by_label("A subtree").check()
    expect(subtree).to_be_visible()
    expect(picker).to_be_hidden()
    page.get_by_label("Clauses I pick").check()
    expect(subtree).to_be_hidden()
    expect(picker).to_be_visible()
    options = picker.locator(".clause-option")
    expect(options).to_have_count(len(KEYS))

    page.get_by_label("Filter clauses by key or title").fill("privacy")
    expect(options.filter(has_text="privacy")).to_have_count(2)
    expect(picker.locator(".clause-option:visible")).to_have_count(2)
    page.get_by_role("button", name="Tick all shown").click()
    expect(picker.locator("[data-clause-count]")).to_have_text("2 of 5 clauses ticked")
    page.get_by_label("Filter clauses by key or title").fill("")
    expect(picker.locator(".clause-option:visible")).to_have_count(len(KEYS))
    picker.locator('input[value="tone"]').check()
    expect(picker.locator("[data-clause-count]")).to_have_text("3 of 5 clauses ticked")

    # Another version swaps in its own clauses.
    page.get_by_label("Spec version").select_option(label="Model Spec 2025-02-12")
    expect(options).to_have_count(2)
    expect(picker).to_contain_text("old_rule")
    page.get_by_label("Spec version").select_option(label="Model Spec 2025-12-18")
    expect(options).to_have_count(len(KEYS))
    for key in ("privacy", "privacy_of_minors", "tone"):  # re-tick after the swap
        picker.locator(f'input[value="{key}"]').check()

    preview = page.get_by_test_id("item-preview")
    page.get_by_label("Transcripts").select_option("tag")
    expect(tag).to_be_visible()
    tag.fill("xstest")
    expect(preview).to_have_attribute("data-items", "5")
    page.get_by_label("Limit").fill("3")
    expect(preview).to_have_attribute("data-items", "3")
    expect(preview).to_contain_text("5 transcripts match; the limit keeps the first 3: 3 items")

    page.get_by_label("Title", exact=True).fill("XSTest refusals, first three")
    page.get_by_label("Reviewers per item (k)").fill("1")
    page.get_by_label("Verdict scale").select_option("custom")
    expect(page.locator("#id_verdict_custom")).to_be_visible()
    page.get_by_label("Verdict scale").select_option("xstest")
    expect(page.locator("#id_verdict_custom")).to_be_hidden()
    page.evaluate("window.scrollTo(0, 0)")  # the sticky bar at the top of the full page
    screenshot("campaign-form", full_page=True)

    page.get_by_role("button", name="Create campaign").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+/$"))
    campaign = Campaign.objects.get()
    assert campaign.status == Campaign.Status.OPEN
    assert list(
        campaign.campaign_clauses.order_by("position").values_list("clause__key", flat=True)
    ) == ["privacy", "privacy_of_minors", "tone"]
    items = page.get_by_test_id("item-list").locator("tbody tr")
    expect(items).to_have_count(3)
    expect(items.first).to_contain_text("xstest-00")
    expect(items.first).to_contain_text("Open")  # the item's state
    # The item list near the top of the window, below the sticky bar.
    page.locator("#items").evaluate(
        "section => window.scrollTo(0, section.getBoundingClientRect().top + window.scrollY - 420)"
    )
    screenshot("campaign-items")
    first = campaign.items.get(position=0)
    items.first.get_by_role("link", name="View").click()
    page.wait_for_url(re.compile(rf"/items/{first.pk}/$"))
    assert not csp_errors, csp_errors


def test_the_campaign_form_works_without_javascript(live_server, browser: Browser, personas):  # type: ignore[no-untyped-def]
    _data(personas)
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1360, "height": 860}
    )
    page = context.new_page()
    try:
        _sign_in(page, live_server.url, personas.adjudicator.email)
        page.goto(f"{live_server.url}/w/{personas.workspace.slug}/campaigns/new/")
        # Every field is there to fill: nothing waits for a script to reveal it.
        for field in ("#id_parent_key", "#id_tag", "#id_search", "#id_verdict_custom"):
            expect(page.locator(field)).to_be_visible()
        expect(page.locator(".clause-picker .clause-option")).to_have_count(len(KEYS))
        expect(page.get_by_label("Filter clauses by key or title")).to_be_hidden()
        page.get_by_label("Title", exact=True).fill("Without a script")
        page.get_by_label("Clauses I pick").check()
        page.locator('.clause-picker input[value="honesty"]').check()
        page.get_by_label("Transcripts").select_option("tag")
        page.locator("#id_tag").fill("xstest")
        page.get_by_label("Reviewers per item (k)").fill("1")
        page.get_by_role("button", name="Create campaign").click()
        page.wait_for_url(re.compile(r"/campaigns/\d+/$"))
    finally:
        context.close()
    campaign = Campaign.objects.get()
    assert campaign.item_count == 5
    assert list(campaign.campaign_clauses.values_list("clause__key", flat=True)) == ["honesty"]
