"""The pages at phone width, 390 × 844 (issue 9: pages were 490–607 px wide, the sign-out button
was off-screen, and a clause's text started ~2,200 px down, after the whole table of contents)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from specs import services as spec_services
from tests.factories import TEST_PASSWORD
from tests.reviews.factories import make_campaign, make_transcript
from tests.spec_facts import NEWEST, spec_text

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
# The clause's text must start on the first screen or just below it, not after the TOC.
CLAUSE_BODY_TOP_LIMIT = 900


@pytest.fixture
def page(browser: Browser) -> Page:  # type: ignore[override]
    """A phone-sized page (the session default is a desktop viewport)."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    yield context.new_page()
    context.close()


def _sign_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/w/"))


# The outermost elements that stick out past the right edge, to say what to fix on a failure.
OVERFLOWING = """(limit) => {
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    const right = el.getBoundingClientRect().right + window.scrollX;
    if (right <= limit || !el.checkVisibility() || (el.parentElement && out.some((o) => o.el.contains(el)))) continue;
    const name = (el.id ? "#" + el.id : "") + el.tagName.toLowerCase() + (el.className ? "." + String(el.className).trim().split(/\\s+/).join(".") : "");
    out.push({ el, text: name + " → " + Math.round(right) + " px" });
  }
  return out.slice(0, 8).map((o) => o.text);
}"""


def _document_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def _assert_fits_the_phone(page: Page) -> None:
    width = _document_width(page)
    assert width <= PHONE["width"], (
        f"{page.url} is {width} px wide at {PHONE['width']} px; past the edge: "
        + "; ".join(page.evaluate(OVERFLOWING, PHONE["width"]))
    )
    # The account menu opens inside the screen, and sign-out can be tapped.
    page.get_by_label("Account menu").click()
    sign_out = page.get_by_test_id("sign-out")
    expect(sign_out).to_be_visible()
    box = sign_out.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (page.url, box)
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], (page.url, box)
    assert _document_width(page) <= PHONE["width"], "the open menu widens the page"
    page.get_by_label("Account menu").click()


def _load_newest_spec(personas) -> str:  # type: ignore[no-untyped-def]
    """The real 2025-12-18 Model Spec, published; returns its label."""
    spec = spec_services.spec_create(
        workspace=personas.workspace,
        slug="model-spec",
        title="OpenAI Model Spec",
        actor=personas.editor,
    )
    version = spec_services.spec_version_import(
        spec=spec,
        label=NEWEST.label,
        markdown=spec_text(NEWEST.label),
        filename=f"{NEWEST.label}.md",
        actor=personas.editor,
    )
    spec_services.spec_version_publish(version=version, actor=personas.editor)
    return NEWEST.label


def test_the_dashboard_and_transcript_list_fit_a_phone(live_server, page: Page, personas):
    for _ in range(3):
        make_transcript(personas.workspace, message_count=4, tags=["safety", "long-tag-name"])
    _sign_in(page, live_server.url, personas.editor.email)

    page.goto(live_server.url + reverse("workspace-dashboard", args=["policy-team"]))
    expect(page.get_by_role("heading", name="Policy Team")).to_be_visible()
    _assert_fits_the_phone(page)

    page.goto(live_server.url + reverse("transcripts:transcript-list", args=["policy-team"]))
    expect(page.get_by_role("heading", name="Transcripts")).to_be_visible()
    _assert_fits_the_phone(page)


def test_a_clause_page_shows_the_clause_first_at_phone_width(
    live_server, page: Page, personas, screenshot
):
    label = _load_newest_spec(personas)
    _sign_in(page, live_server.url, personas.viewer.email)
    url = reverse(
        "specs:clause-detail", args=["policy-team", "model-spec", label, "avoid_info_hazards"]
    )
    page.goto(live_server.url + url)
    expect(page.locator(".clause-body")).to_be_visible()
    top = page.evaluate(
        "document.querySelector('.clause-body').getBoundingClientRect().top + window.scrollY"
    )
    assert top <= CLAUSE_BODY_TOP_LIMIT, f"the clause text starts {top} px down"
    _assert_fits_the_phone(page)

    # The table of contents is still one tap away, and opening it does not widen the page.
    toc = page.locator(".toc-toggle")
    expect(toc).to_be_visible()
    toc.click()
    expect(
        page.get_by_role("navigation", name="Table of contents").get_by_role("link").nth(5)
    ).to_be_visible()
    assert _document_width(page) <= PHONE["width"]
    toc.click()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot("phone-clause")


def test_the_labeling_page_fits_a_phone(live_server, page: Page, personas):
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=2,
        clause_count=4,
        message_count=6,
        k=1,
    )
    _sign_in(page, live_server.url, personas.reviewer.email)

    page.goto(live_server.url + reverse("reviews:campaign-list", args=["policy-team"]))
    _assert_fits_the_phone(page)

    page.goto(live_server.url + reverse("reviews:queue", args=["policy-team"]))
    expect(page.get_by_role("heading", name="My queue")).to_be_visible()
    _assert_fits_the_phone(page)
    page.get_by_test_id(f"start-{campaign.pk}").click()
    page.wait_for_url(re.compile(r"/items/\d+/$"))
    expect(page.locator(".clause-card").first).to_be_visible()
    _assert_fits_the_phone(page)
