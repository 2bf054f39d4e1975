"""Submit-and-next in a real browser (issue 10): one request on the wire takes the item's labels,
submits it and brings the next item's page in place, with the address bar following; the next
item labels and submits the same way."""

from __future__ import annotations

import os
import re
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Page, Request, expect

from reviews.models import Assignment, Label
from tests.factories import TEST_PASSWORD
from tests.reviews.factories import make_campaign

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _sign_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.locator('input[name="login"]').fill(email)
    page.locator('input[name="password"]').fill(TEST_PASSWORD)
    page.locator('form button[type="submit"]').last.click()
    page.wait_for_url(re.compile(r"/w/"))


def test_submit_and_next_is_one_request_that_brings_the_next_item_in_place(
    live_server, page: Page, personas
) -> None:
    csp_errors: list[str] = []
    page.on(
        "console",
        lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer],
        transcripts=3,
        clause_count=3,
        message_count=4,
        k=1,
    )
    _sign_in(page, live_server.url, personas.reviewer.email)
    page.goto(f"{live_server.url}/w/{personas.workspace.slug}/queue/")
    page.get_by_test_id(f"start-{campaign.pk}").click()
    page.wait_for_url(re.compile(r"/items/\d+/$"))
    first_url = page.url
    first_item = int(re.search(r"/items/(\d+)/$", first_url).group(1))

    page.keyboard.press("1")
    page.keyboard.press("j")
    page.keyboard.press("1")
    page.keyboard.press("j")
    page.keyboard.press("2")
    expect(page.locator("#save-state")).to_have_text("Saved", timeout=10_000)

    # From here on, every request the page makes to the server (static files aside) is counted.
    sent: list[Request] = []
    page.on(
        "request",
        lambda request: (
            sent.append(request) if not urlparse(request.url).path.startswith("/static/") else None
        ),
    )
    page.keyboard.press("Control+Enter")
    page.wait_for_url(lambda url: url != first_url and "/items/" in url)
    expect(page.get_by_test_id("item-position")).to_have_text(re.compile(r"^Item 2 of 3$"))

    assert [(r.method, urlparse(r.url).path) for r in sent] == [
        (
            "POST",
            f"/api/v1/workspaces/{personas.workspace.slug}/campaigns/{campaign.pk}"
            f"/items/{first_item}/labels/",
        )
    ]
    assert Assignment.objects.get(item_id=first_item).status == Assignment.Status.SUBMITTED
    second = Assignment.objects.get(campaign=campaign, status=Assignment.Status.ACTIVE)
    assert page.url.endswith(f"/items/{second.item_id}/")
    assert page.title().startswith("Item #2 ·")
    expect(page.get_by_test_id("assignment-status")).to_have_text("In progress")

    # The swapped-in page works as a loaded one: keys label it, a change not yet autosaved
    # travels with the submit, and the third item comes the same way.
    expect(page.get_by_test_id("clauses-done")).to_have_text("Clauses done 0 of 3")
    page.keyboard.press("3")
    page.keyboard.press("j")
    page.keyboard.press("3")
    page.keyboard.press("j")
    page.keyboard.press("3")
    expect(page.get_by_test_id("clauses-done")).to_have_text("Clauses done 3 of 3")
    second_url = page.url
    sent.clear()
    page.keyboard.press("Control+Enter")
    page.wait_for_url(lambda url: url != second_url and "/items/" in url)
    expect(page.get_by_test_id("item-position")).to_have_text(re.compile(r"^Item 3 of 3$"))
    assert Assignment.objects.get(pk=second.pk).status == Assignment.Status.SUBMITTED
    verdicts = Label.objects.filter(assignment=second).values_list("verdict", "status")
    assert sorted(verdicts) == [("borderline", "submitted")] * 3
    # Only the labels endpoint (an autosave that fired first, at most): no claim, no page load.
    assert {(r.method, urlparse(r.url).path) for r in sent} == {
        (
            "POST",
            f"/api/v1/workspaces/{personas.workspace.slug}/campaigns/{campaign.pk}"
            f"/items/{second.item_id}/labels/",
        )
    }

    # Back goes to the item before, as it now is (submitted: a revision from here on).
    page.go_back()
    page.wait_for_url(second_url)
    expect(page.get_by_test_id("assignment-status")).to_have_text("Submitted")
    assert not csp_errors, csp_errors
