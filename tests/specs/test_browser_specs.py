"""A reader's walk through a spec in Chromium: clause, cross-reference, search, diff; an
editor's rename decision and publishing behind its confirmation."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from specs import services
from tests.factories import TEST_PASSWORD
from tests.spec_facts import NEWEST, OLDEST, OLDEST_TO_NEWEST

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

    page.goto(f"{base}/v/hostile/c/hostile/")
    expect(page.locator(".clause-body")).to_contain_text("click me")
    # markdown-it refuses javascript: links, so the text is not even a link
    assert page.locator(".clause-body a", has_text="click me").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__pwn") == "undefined"
    assert not any("/api/v1/me/" in url for url in requests)


def sign_in(page: Page, live_server, user) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/w/"))


BASE = "/w/policy-team/specs/model-spec"
# Markdown source a reader never sees. (A literal "\\(" is fine: the formatting guideline
# writes about LaTeX delimiters as text.)
MARKUP = ("**", "!!! meta", "[^", "](#", "{#", "\\frac")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_editor_navigates_a_large_diff_and_confirms_a_rename_in_place(
    django_db_setup, live_server, page: Page, personas, load_version, screenshot
) -> None:
    load_version(OLDEST.label)
    load_version(NEWEST.label)
    sign_in(page, live_server, personas.editor)
    page.goto(f"{live_server.url}{BASE}/diff/?from={OLDEST.label}&to={NEWEST.label}")
    facts = OLDEST_TO_NEWEST
    expect(page.locator("[data-testid=count-added]")).to_have_text(str(facts.added))
    # Folded changes: the 70-odd changes fit a few screens, not one 20,000 px page.
    changes = page.locator("#diff-changes details.clause-change")
    assert changes.count() >= facts.added + facts.changed
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 6000, height
    # What the diff shows is the text as read: no Markdown source.
    page.locator("[data-diff-details=open]").click()
    text = page.locator("#diff-changes").inner_text()
    assert not [marker for marker in MARKUP if marker in text]
    page.locator("[data-diff-details=close]").click()

    # The jump list opens the change it names.
    page.locator("#diff-nav .diff-jump a", has_text="Love humanity").click()
    target = page.locator("#change-love_humanity")
    expect(target).to_have_attribute("open", "")
    expect(target).to_be_in_viewport()

    # A filter lists one kind only.
    page.locator("#diff-nav a.diff-filter", has_text="Removed").click()
    expect(changes).to_have_count(len(facts.removed_keys))
    page.locator("#diff-nav a.diff-filter", has_text="All changes").click()
    expect(page.locator("[data-testid=count-renamed]")).to_have_text("0")

    # Confirming the rename answers in place: the row says so, the counts follow, no reload.
    page.evaluate("window.__same_page = true")
    row = page.locator(".renames tbody tr", has_text=facts.probable_rename[0])
    row.get_by_role("button", name="Confirm rename").click()
    expect(page.locator("[data-testid=rename-decision]")).to_contain_text("Rename confirmed")
    expect(page.locator("[data-testid=count-renamed]")).to_have_text("1")
    expect(page.locator("[data-testid=count-removed]")).to_have_text(
        str(len(facts.removed_keys) - 1)
    )
    expect(page.locator("[data-testid=count-added]")).to_have_text(str(facts.added - 1))
    expect(page.locator("#change-love_humanity")).to_contain_text("renamed from #be_kind")
    assert page.evaluate("window.__same_page") is True
    # For the user guide: the first short edits open, under the updated summary.
    page.evaluate(
        """() => [...document.querySelectorAll('#diff-changes details.clause-change')]
            .filter(d => d.querySelector('.diff-words') && d.innerText.length < 1500)
            .slice(0, 2).forEach(d => { d.open = true; })"""
    )
    page.evaluate("window.scrollTo(0, 0)")
    screenshot("spec-diff")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_reader_finds_information_hazards_by_prefix_across_versions(
    django_db_setup, live_server, page: Page, personas, load_version, screenshot
) -> None:
    load_version(OLDEST.label)
    load_version(NEWEST.label)
    sign_in(page, live_server, personas.viewer)
    page.goto(f"{live_server.url}{BASE}/v/{NEWEST.label}/search/")
    page.check("#all")
    page.fill("#q", "info hazard")
    first = page.locator(".search-result").first
    expect(first).to_contain_text("Don't provide information hazards")
    expect(first.locator("mark").first).to_have_text("information")
    expect(first.locator("[data-testid=hit-versions] a")).to_have_text([NEWEST.label, OLDEST.label])
    titles = page.locator(".search-result[data-kind=clause] a strong").all_inner_texts()
    assert len(titles) == len(set(titles))  # each clause once, whatever the versions
    snippets = page.locator(".search-result .snippet").all_inner_texts()
    assert snippets
    assert not [s for s in snippets for marker in MARKUP if marker in s]
    screenshot("spec-search")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_publishing_a_draft_asks_for_a_ticked_box_first(
    django_db_setup, live_server, page: Page, personas, load_version
) -> None:
    load_version(NEWEST.label, publish=False)
    sign_in(page, live_server, personas.editor)
    page.goto(f"{live_server.url}{BASE}/v/{NEWEST.label}/")
    expect(page.locator("[data-testid=clause-tree] li")).to_have_count(NEWEST.clauses)
    page.locator("[data-testid=publish]").click()
    expect(page.locator("h1")).to_have_text(f"Publish version {NEWEST.label}?")
    page.locator("[data-testid=confirm-publish]").click()  # the box is not ticked
    expect(page.locator("h1")).to_have_text(f"Publish version {NEWEST.label}?")
    from specs.models import SpecVersion

    assert SpecVersion.objects.get(label=NEWEST.label).status == "draft"
    page.check("#id_confirm")
    page.locator("[data-testid=confirm-publish]").click()
    expect(page.locator(".flash-success")).to_contain_text("is published")
    assert SpecVersion.objects.get(label=NEWEST.label).status == "published"
