"""The review loop in a real browser, as the user guide tells it: two reviewers disagree on a
blind campaign → one opens the disagreement queue and the pair's thread (closed until they have
submitted), reads the other's label and rationale and mentions the adjudicator → the adjudicator
follows the notification, settles the pair with the keyboard only → the gold list shows the
decision → a JSONL export runs on the real worker and its download holds the gold verdict."""

from __future__ import annotations

import json
import os
import re

import pytest
from playwright.sync_api import Page, expect

from reviews.models import GoldExport, Item
from reviews.services.campaigns import item_claim_next
from reviews.services.gold_export import export_dir
from reviews.services.labels.core import LabelInput
from reviews.services.labels.save import labels_save
from reviews.services.labels.submit import assignment_submit
from tests.conftest import read_outbox, wait_for
from tests.factories import TEST_PASSWORD
from tests.reviews.factories import make_campaign

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

MINE = "The assistant refused a harmless baking question; nothing here is risky."
THEIRS = "Step 3 gives exact quantities for something dangerous: real uplift."
COMMENT = "@adjudicator can you settle this? I read step 3 as **bread**, not a recipe for harm."
GOLD = "Quantities are for bread dough; no uplift. The refusal was wrong, the answer complies."


def _sign_in(page: Page, base_url: str, email: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base_url}/accounts/login/")
    page.locator('input[name="login"]').fill(email)
    page.locator('input[name="password"]').fill(TEST_PASSWORD)
    page.locator('input[name="password"]').press("Enter")
    page.wait_for_url(re.compile(r"/w/"))


def _label(campaign, reviewer, verdict: str, severity: str, rationale: str, *, submit: bool):  # type: ignore[no-untyped-def]
    assignment = item_claim_next(campaign=campaign, reviewer=reviewer)
    clause = campaign.campaign_clauses.get().clause_id
    labels_save(
        assignment=assignment,
        reviewer=reviewer,
        labels=[LabelInput(clause=clause, verdict=verdict, severity=severity, rationale=rationale)],
    )
    if submit:
        assignment_submit(assignment=assignment, reviewer=reviewer)
    return assignment


def test_a_disagreement_goes_from_the_queue_through_a_thread_and_adjudication_into_exported_gold(
    celery_worker, worker_outbox, live_server, page: Page, screenshot, personas, tmp_path
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
        transcripts=1,
        clause_count=1,
        message_count=4,
    )
    assert campaign.blind
    item = Item.objects.get(campaign=campaign)
    clause = campaign.campaign_clauses.get().clause
    severity = campaign.severity_scale[-1]
    _label(campaign, personas.second_reviewer, "violates", severity["value"], THEIRS, submit=True)
    mine = _label(campaign, personas.reviewer, "complies", "", MINE, submit=False)
    base = f"{live_server.url}/w/{personas.workspace.slug}"
    thread_url = f"{base}/campaigns/{campaign.pk}/items/{item.pk}/clauses/{clause.key}/thread/"

    # Blind: before submitting, the reviewer may not read the other's label or the thread.
    _sign_in(page, live_server.url, personas.reviewer.email)
    page.goto(thread_url)
    expect(page.locator(".error-reason")).to_contain_text("This campaign is blind")
    expect(page.get_by_text(THEIRS)).to_have_count(0)

    assignment_submit(assignment=mine, reviewer=personas.reviewer)

    # The disagreement queue, reached from the campaign page.
    page.goto(f"{base}/campaigns/{campaign.pk}/")
    page.get_by_test_id("campaign-disputes").click()
    page.wait_for_url(re.compile(rf"/campaigns/{campaign.pk}/disputes/"))
    expect(page.get_by_role("heading", name="Disagreements")).to_be_visible()
    row = page.get_by_test_id(f"dispute-{item.pk}-{clause.key}")
    expect(row).to_contain_text("Complies × 1")
    expect(row).to_contain_text("Violates × 1")
    expect(page.get_by_test_id(f"count-{clause.key}")).to_have_text(f"{clause.key}: 1")
    screenshot("disagreements")

    row.get_by_role("link", name="Open thread").click()
    page.wait_for_url(re.compile(r"/thread/"))
    expect(page.get_by_test_id("pair-state")).to_have_text("disputed")
    labels = page.get_by_test_id("thread-labels")
    expect(labels).to_contain_text(THEIRS)
    expect(labels).to_contain_text("Violates")
    expect(labels).to_contain_text(MINE)
    page.locator("#comment-body").fill(COMMENT)
    page.get_by_test_id("comment-submit").click()
    comments = page.get_by_test_id("thread-comments")
    expect(comments).to_contain_text("can you settle this?")
    expect(comments.locator("strong", has_text="bread")).to_be_visible()  # Markdown, rendered
    screenshot("thread")

    # The mention reaches the adjudicator by email (sent by the worker) and in the app.
    mail = wait_for(lambda: read_outbox(worker_outbox), timeout=60)
    assert mail[0]["To"] == personas.adjudicator.email
    assert "mentioned you" in mail[0]["Subject"]

    _sign_in(page, live_server.url, personas.adjudicator.email)
    page.get_by_role("navigation", name="Workspace").get_by_role(
        "link", name="Notifications"
    ).click()
    expect(page.get_by_test_id("unread-count")).to_have_text("1 unread")
    notification = page.get_by_test_id("notification-list").locator("tr").first
    expect(notification).to_contain_text("mentioned you on")
    expect(notification).to_contain_text("new")
    notification.get_by_role("link", name=re.compile(clause.key)).click()
    page.wait_for_url(re.compile(r"/thread/"))
    expect(page.get_by_test_id("thread-comments")).to_contain_text("can you settle this?")

    # Adjudication: the keyboard only, from the page load to the recorded decision.
    page.goto(f"{base}/campaigns/{campaign.pk}/items/{item.pk}/adjudicate/")
    card = page.get_by_test_id(f"pair-{clause.key}")
    expect(card).to_have_class(re.compile("active"))
    expect(card.locator('.adj-label[data-source="human"]')).to_have_count(2)
    expect(card).to_contain_text(THEIRS)
    expect(card).to_contain_text(MINE)
    page.keyboard.press("1")  # complies
    page.keyboard.press("r")
    page.keyboard.type(GOLD)
    page.keyboard.press("Escape")
    expect(card.locator('input[name="verdict"][value="complies"]')).to_be_checked()
    expect(card.locator('textarea[name="rationale"]')).to_have_value(GOLD)
    screenshot("adjudication-loop")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(rf"/campaigns/{campaign.pk}/adjudicate/$"))
    expect(page.get_by_text("Nothing left to adjudicate in this campaign.")).to_be_visible()
    expect(page.get_by_test_id("queue-total")).to_have_text("0 pairs to decide")

    # The gold list shows the decision; filtered to adjudicated gold of this campaign.
    page.get_by_role("navigation", name="Workspace").get_by_role("link", name="Gold").click()
    page.locator("#gf-campaign").select_option(str(campaign.pk))
    page.locator("#gf-how").select_option("adjudicated")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"how=adjudicated"))
    rows = page.get_by_test_id("gold-list").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(clause.key)
    expect(rows.first).to_contain_text("complies")
    expect(rows.first).to_contain_text(f"adjudicated by {personas.adjudicator.email}")
    expect(rows.first).to_contain_text(GOLD)
    screenshot("gold-list")

    # Export these gold decisions as JSON Lines; the real worker writes the file.
    page.locator("#ge-format").select_option("jsonl")
    page.get_by_role("button", name="Export", exact=True).click()
    page.wait_for_url(re.compile(r"/gold/exports/\d+/$"))
    expect(page.get_by_test_id("export-status")).to_have_text("Ready", timeout=60_000)
    expect(page.get_by_test_id("export-percent")).to_have_text("100%")
    expect(page.locator("#export-progress")).to_contain_text("1 of 1 gold rows written.")
    expect(page.locator("#export-progress")).to_contain_text("expires in 60 minutes")
    screenshot("gold-export")
    with page.expect_download() as caught:
        page.get_by_test_id("export-download").click()
    download = caught.value
    assert download.suggested_filename.endswith(".jsonl")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    lines = saved.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    row = json.loads(lines[0])
    assert (row["clause"], row["verdict"], row["rationale"], row["decided_how"]) == (
        clause.key,
        "complies",
        GOLD,
        "adjudicated",
    )
    assert sorted(label["verdict"] for label in row["labels"]) == ["complies", "violates"]
    assert row["messages"][0]["role"] == "user"
    assert celery_worker.poll() is None
    assert not csp_errors, csp_errors
    # The worker wrote under the real VAR_DIR (it does not see this process's settings).
    (export_dir() / GoldExport.objects.get().file_name).unlink(missing_ok=True)
