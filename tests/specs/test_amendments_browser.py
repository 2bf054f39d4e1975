"""The amendment loop in a real browser, as the user guide tells it: an editor promotes a gold
case from the gold list → the amendment page shows the change, its diff preview and a discussion
→ a second editor approves, starts a draft and merges → the draft is published → the version's
changelog lists the amendment and the case → the exported Markdown holds the promoted example."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from clausebook.models import Membership, Role
from reviews.models import GoldDecision, GoldPromotion, Item
from specs.models import Amendment, SpecVersion, VersionStatus
from tests.factories import TEST_PASSWORD, UserFactory
from tests.reviews.factories import make_campaign, make_published_version

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

RATIONALE = "Baking bread is harmless: the model was right to answer in full."
COMMENT = "Good case for the clause: reviewers split on it. **Worth an example.**"


def _sign_in(page: Page, base_url: str, email: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base_url}/accounts/login/")
    page.locator('input[name="login"]').fill(email)
    page.locator('input[name="password"]').fill(TEST_PASSWORD)
    page.locator('input[name="password"]').press("Enter")
    page.wait_for_url(re.compile(r"/w/"))


def test_a_gold_case_becomes_an_example_of_a_published_version_through_an_amendment(
    live_server, page: Page, screenshot, personas
) -> None:
    csp_errors: list[str] = []
    page.on(
        "console",
        lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    workspace = personas.workspace
    version = make_published_version(workspace, keys=["be_kind", "be_helpful"], label="2025-12-18")
    campaign = make_campaign(
        workspace, created_by=personas.editor, version=version, transcripts=2, message_count=2
    )
    item = Item.objects.filter(campaign=campaign).order_by("position").first()
    decision = GoldDecision.objects.create(
        workspace=workspace,
        campaign=campaign,
        item=item,
        clause=version.clauses.get(key="be_helpful"),
        spec_version=version,
        transcript=item.transcript,
        kind="adjudicated",
        verdict="complies",
        rationale=RATIONALE,
        decided_by=personas.adjudicator,
    )
    second_editor = UserFactory(email="second-editor@policy.test", display_name="Second Editor")
    Membership.objects.create(workspace=workspace, user=second_editor, role=Role.EDITOR)
    base = f"{live_server.url}/w/{workspace.slug}"

    # The editor promotes the case from the gold list.
    _sign_in(page, live_server.url, personas.editor.email)
    page.goto(f"{base}/gold/")
    page.get_by_test_id(f"promote-{decision.pk}").click()
    expect(page.get_by_test_id("promotion-grade")).to_have_text("good")
    expect(page.get_by_test_id("promotion-target-key")).to_have_text("be_helpful")
    page.get_by_test_id("promote-confirm").click()
    page.wait_for_url(re.compile(r"/amendments/\d+/"))
    amendment = Amendment.objects.get()
    expect(page.get_by_test_id("changes")).to_contain_text("Add example to “be_helpful”")
    expect(page.get_by_test_id("preview")).to_contain_text("+ example")
    expect(page.get_by_test_id("approval-count")).to_have_text("0 of 1")

    # The discussion panel loads into the page; a comment is rendered as Markdown.
    page.locator("#amendment-comment-body").fill(COMMENT)
    page.get_by_test_id("amendment-comment-submit").click()
    page.wait_for_url(re.compile(r"#comment-\d+"))
    comments = page.get_by_test_id("amendment-comments")
    expect(comments.locator("strong", has_text="Worth an example.")).to_be_visible()
    screenshot("amendment", full_page=True)

    # A second editor approves, starts a draft from the published version and merges.
    _sign_in(page, live_server.url, second_editor.email)
    amendment_url = f"{base}/specs/{version.spec.slug}/amendments/{amendment.pk}/"
    page.goto(amendment_url)
    page.get_by_test_id("approve").click()
    expect(page.get_by_test_id("approval-count")).to_have_text("1 of 1")
    page.goto(f"{base}/specs/{version.spec.slug}/v/{version.label}/")
    page.get_by_test_id("draft-start").click()
    draft = SpecVersion.objects.get(spec=version.spec, status=VersionStatus.DRAFT)
    page.wait_for_url(re.compile(rf"/v/{draft.label}/$"))
    page.goto(amendment_url)
    page.get_by_test_id("merge").click()
    expect(page.get_by_test_id("state")).to_have_text("Merged")
    promotion = GoldPromotion.objects.get(decision=decision)
    assert promotion.example is not None and promotion.example.clause.version_id == draft.pk

    # Publishing the draft writes the changelog: the amendment and the case behind it.
    page.goto(f"{base}/specs/{version.spec.slug}/v/{draft.label}/")
    page.get_by_test_id("publish").click()
    page.locator("#id_confirm").check()
    page.get_by_test_id("confirm-publish").click()
    changelog = page.get_by_test_id("changelog")
    expect(changelog).to_contain_text(amendment.title)
    expect(changelog).to_contain_text(f"amendment #{amendment.pk}")
    expect(changelog).to_contain_text(f"campaign “{campaign.title}”")
    expect(changelog).to_contain_text(f"item {item.position + 1}, clause be_helpful")
    expect(changelog).to_contain_text(f"decision #{decision.pk}")
    screenshot("changelog")

    # The export of the new version carries the promoted example in the spec's own markup.
    with page.expect_download() as download:
        page.get_by_role("link", name="Export Markdown").click()
    markdown = Path(download.value.path()).read_text(encoding="utf-8")
    assert RATIONALE in markdown
    assert item.transcript.messages[-1]["content"] in markdown
    assert csp_errors == []
