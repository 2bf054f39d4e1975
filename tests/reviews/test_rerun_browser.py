"""Re-running a flagged scenario in a real browser, as the user guide tells it: a reviewer flags
a transcript from the labeling page → an admin adds the Clausebook local model server
(development tool) as an endpoint and starts a re-run of the flagged scenario on it, adding the
results to the campaign → the real worker runs it while the job page's progress bar reaches done
→ the reviewer labels the result transcript in the campaign."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from django.test import override_settings
from playwright.sync_api import Page, expect

from clausebook import secrets
from devtools.local_model_server import LocalModelServer
from reviews.demo_endpoints import LOCAL_NAME
from reviews.models import Assignment, Item, ModelEndpoint, ModelRun, RerunJob
from reviews.services.campaigns import item_claim_next
from reviews.services.labels.core import LabelInput
from reviews.services.labels.save import labels_save
from reviews.services.labels.submit import assignment_submit
from tests.factories import TEST_PASSWORD
from tests.reviews.factories import make_campaign, make_transcript
from transcripts.models import ScenarioFlag, TranscriptOrigin

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

KEY = secrets.generate_key()
SECRET = "sk-browser-rerun-SECRET-7"  # noqa: S105 - a sample
REASON = "The refusal looks wrong: re-run it on the new model."
QUESTION = "Can you tell me how long to proof sourdough overnight?"


@pytest.fixture
def model_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalModelServer]:
    """The local server, allowed by the operator's allow-list in this process (the pages) and
    in the environment the worker process starts with (the calls)."""
    with LocalModelServer() as server:
        monkeypatch.setenv("CLAUSEBOOK_ALLOW_PRIVATE_HOSTS", server.host_port)
        monkeypatch.setenv("CLAUSEBOOK_SECRET_KEYS", KEY)
        with override_settings(ALLOW_PRIVATE_HOSTS=[server.host_port], SECRET_KEYS=[KEY]):
            yield server


@pytest.fixture
def worker(model_server, celery_worker):  # type: ignore[no-untyped-def]
    """The real worker, started after the environment above is set."""
    return celery_worker


def _sign_in(page: Page, base_url: str, email: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base_url}/accounts/login/")
    page.locator('input[name="login"]').fill(email)
    page.locator('input[name="password"]').fill(TEST_PASSWORD)
    page.locator('input[name="password"]').press("Enter")
    page.wait_for_url(re.compile(r"/w/"))


def test_a_flagged_scenario_is_re_run_on_the_local_model_server_and_its_result_labeled(
    model_server, worker, live_server, page: Page, screenshot, personas
) -> None:
    csp_errors: list[str] = []
    page.on(
        "console",
        lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    transcript = make_transcript(
        personas.workspace,
        messages=[
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": "I can't help with that."},
        ],
    )
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer],
        transcripts=[transcript],
        clause_count=1,
        k=1,
    )
    clause = campaign.campaign_clauses.select_related("clause").get().clause
    first = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    base = f"{live_server.url}/w/{personas.workspace.slug}"

    # The reviewer flags the transcript, on its one clause, from the labeling page.
    _sign_in(page, live_server.url, personas.reviewer.email)
    page.goto(f"{base}/campaigns/{campaign.pk}/items/{first.item_id}/")
    flag = page.get_by_test_id("flag-scenario")
    flag.get_by_text("Flag for re-run").first.click()
    flag.get_by_test_id("flag-clause").select_option(clause.key)
    flag.get_by_test_id("flag-reason").fill(REASON)
    screenshot("flag-scenario")
    flag.get_by_test_id("flag-submit").click()
    expect(page.get_by_text("Flagged for a re-run as scenario")).to_be_visible()
    recorded = ScenarioFlag.objects.select_related("scenario").get()
    assert recorded.flagged_by == personas.reviewer
    assert (recorded.reason, recorded.clause) == (REASON, clause)
    assert recorded.scenario.messages == [{"role": "user", "content": QUESTION}]
    labels_save(
        assignment=first,
        reviewer=personas.reviewer,
        labels=[LabelInput(clause=clause.pk, verdict="violates", severity="", rationale="")],
    )
    assignment_submit(assignment=first, reviewer=personas.reviewer)

    # The admin adds the local model server as an endpoint; its secret is shown masked.
    _sign_in(page, live_server.url, personas.owner.email)
    nav = page.get_by_role("navigation", name="Workspace")
    nav.get_by_text("More", exact=True).click()  # the less-used sections' menu
    nav.get_by_role("link", name="Endpoints").click()
    page.get_by_test_id("endpoint-add").click()
    page.locator('input[name="name"]').fill(LOCAL_NAME)
    page.locator('input[name="base_url"]').fill(model_server.base_url)
    page.locator('input[name="model"]').fill("clausebook-local-dev")
    page.locator('input[name="secret"]').fill(SECRET)
    page.locator('form button[type="submit"]').last.click()
    row = page.get_by_test_id("endpoint-row").filter(has_text=LOCAL_NAME)
    expect(row).to_be_visible()
    expect(row.get_by_test_id("endpoint-secret")).not_to_contain_text(SECRET)
    assert SECRET not in page.content()
    screenshot("endpoints")
    endpoint = ModelEndpoint.objects.get(name=LOCAL_NAME)

    # … and starts a re-run of the flagged scenario on it, results into the campaign.
    nav.get_by_text("More", exact=True).click()  # the less-used sections' menu
    nav.get_by_role("link", name="Re-runs").click()
    page.get_by_test_id("rerun-add").click()
    form = page.get_by_test_id("rerun-form")
    form.locator(f'input[name="scenarios"][value="{recorded.scenario_id}"]').check()
    form.locator(f'input[name="endpoints"][value="{endpoint.pk}"]').check()
    form.locator('input[name="samples"]').fill("2")
    form.locator('select[name="campaign"]').select_option(str(campaign.pk))
    form.get_by_role("button", name="Queue the re-run").click()
    page.wait_for_url(re.compile(r"/reruns/\d+/$"))

    # The progress bar, polled by the page, reaches done.
    progress = page.locator("#rerun-progress")
    expect(progress).to_have_attribute("data-status", "succeeded", timeout=60_000)
    expect(page.get_by_test_id("rerun-status")).to_have_text("Succeeded")
    expect(page.get_by_test_id("rerun-percent")).to_have_text("100%")
    expect(progress.locator("progress")).to_have_attribute("value", "100")
    expect(page.get_by_test_id("rerun-counts")).to_contain_text("2 of 2 calls finished")
    expect(page.get_by_test_id("rerun-endpoints")).to_contain_text(LOCAL_NAME)
    expect(page.locator(".page-head .sub")).to_contain_text(f"results go to {campaign.title}")
    screenshot("rerun-job")
    job = RerunJob.objects.get()
    results = list(ModelRun.objects.filter(job=job).values_list("transcript_id", flat=True))
    assert len(results) == 2
    assert model_server.chat_requests == 2
    assert set(
        Item.objects.filter(
            campaign=campaign, transcript__origin=TranscriptOrigin.RERUN
        ).values_list("transcript_id", flat=True)
    ) == set(results)

    # The reviewer labels a result in the campaign, as any other item.
    _sign_in(page, live_server.url, personas.reviewer.email)
    page.goto(f"{base}/campaigns/{campaign.pk}/")
    page.get_by_role("button", name="Start / continue labeling").click()
    page.wait_for_url(re.compile(r"/items/\d+/$"))
    item_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    assert Item.objects.get(pk=item_id).transcript_id in results
    expect(page.locator(".transcript")).to_contain_text(QUESTION)
    expect(page.locator(".clause-card").first).to_have_class(re.compile("active"))
    page.keyboard.press("1")
    expect(page.locator("#save-state")).to_have_text("Saved", timeout=10_000)
    item_url = page.url
    page.keyboard.press("Control+Enter")
    page.wait_for_url(lambda url: url != item_url)
    labeled = Assignment.objects.get(reviewer=personas.reviewer, item_id=item_id)
    assert labeled.status == Assignment.Status.SUBMITTED
    assert not csp_errors, csp_errors
