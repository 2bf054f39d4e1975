"""A reader's walk through a spec in Chromium: clause, cross-reference, search, diff."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from specs import services
from tests.factories import TEST_PASSWORD

HOSTILE = """# Hostile {#hostile authority=user}

<script>window.__pwn=1</script><img src=x onerror="window.__pwn=1">
[click me](javascript:window.__pwn=1)
<div hx-get="/api/v1/me/" hx-trigger="load">htmx</div>
"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_reader_opens_a_clause_follows_a_reference_searches_and_diffs(
    django_db_setup, live_server, page: Page, personas, load_version, spec, screenshot
) -> None:
    load_version("2025-02-12")
    load_version("2025-12-18")
    services.spec_version_import(
        spec=spec, label="hostile", markdown=HOSTILE, actor=personas.editor
    )
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", personas.viewer.email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/w/"))

    base = f"{live_server.url}/w/policy-team/specs/model-spec"
    page.goto(f"{base}/v/2025-12-18/")
    expect(page.locator(".spec-toc")).to_contain_text("The chain of command")
    screenshot("spec-toc")

    page.locator(".spec-toc a", has_text="Follow all applicable instructions").first.click()
    expect(page.locator("h1#clause-title")).to_have_text("Follow all applicable instructions")
    expect(page.locator(".candidate.good").first).to_be_visible()
    screenshot("spec-clause")
    page.locator(".comparison").first.scroll_into_view_if_needed()
    screenshot("spec-examples")
    page.evaluate("window.scrollTo(0, 0)")

    page.locator(".clause-body a.xref").first.click()
    expect(page).to_have_url(re.compile(r"/c/[a-z_]+/$"))
    assert "follow_all_applicable_instructions" not in page.url

    page.fill("#toc-q", "chain of command")
    page.press("#toc-q", "Enter")
    expect(page.locator(".search-result").first).to_be_visible()
    expect(page.locator(".search-result mark").first).to_be_visible()
    page.fill("#q", "privacy")
    expect(page.locator("[data-testid=result-count]")).to_contain_text("privacy")
    screenshot("spec-search")

    page.goto(f"{base}/diff/?from=2025-02-12&to=2025-12-18")
    expect(page.locator("[data-testid=count-added]")).to_have_text("14")
    expect(page.locator(".renames")).to_contain_text("love_humanity")
    page.locator(".clause-change ins").first.scroll_into_view_if_needed()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot("spec-diff")

    page.goto(f"{base}/v/hostile/c/hostile/")
    expect(page.locator(".clause-body")).to_contain_text("click me")
    # markdown-it refuses javascript: links, so the text is not even a link
    assert page.locator(".clause-body a", has_text="click me").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__pwn") == "undefined"
    assert not any("/api/v1/me/" in url for url in requests)
