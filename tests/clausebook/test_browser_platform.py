"""The platform in a real browser: sign in, switch workspace, create an API token, members."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from clausebook import services
from clausebook.models import Membership, Role
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _csp_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return errors


def sign_in(page: Page, base_url: str, email: str, screenshot=None) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base_url}/accounts/login/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    if screenshot:
        screenshot("sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _seed_activity(personas) -> None:  # type: ignore[no-untyped-def]
    Membership.objects.create(
        workspace=personas.other_workspace, user=personas.owner, role=Role.REVIEWER
    )
    services.invitation_create(
        workspace=personas.workspace,
        email="new.reviewer@policy.test",
        role=Role.REVIEWER,
        invited_by=personas.owner,
    )
    reviewer = Membership.objects.get(workspace=personas.workspace, user=personas.second_reviewer)
    services.membership_set_role(membership=reviewer, role=Role.ADJUDICATOR, actor=personas.owner)


def test_sign_in_switch_workspace_and_create_a_token_that_works(
    django_db_setup, live_server, page: Page, personas, screenshot
):
    _seed_activity(personas)
    csp_errors = _csp_errors(page)
    sign_in(page, live_server.url, personas.owner.email, screenshot)
    expect(page).to_have_url(re.compile(r"/w/(other-org|policy-team)/$"))
    page.goto(f"{live_server.url}/w/policy-team/")
    expect(page.get_by_role("heading", name="Policy Team")).to_be_visible()
    expect(page.get_by_text("Changed a member's role")).to_be_visible()
    screenshot("dashboard")

    # Switch workspace through the menu in the top bar.
    page.get_by_label("Switch workspace").click()
    menu = page.get_by_role("menu")
    expect(menu.get_by_role("menuitem", name="Other Org")).to_be_visible()
    screenshot("workspace-switcher")
    menu.get_by_role("menuitem", name="Other Org").click()
    expect(page).to_have_url(f"{live_server.url}/w/other-org/")
    expect(page.get_by_role("heading", name="Other Org")).to_be_visible()

    # Create a token; it is shown once.
    page.get_by_label("Account menu").click()
    page.get_by_role("menuitem", name="API tokens").click()
    page.get_by_label("Name").fill("nightly import")
    page.get_by_role("button", name="Create token").click()
    secret_box = page.get_by_test_id("token-secret")
    expect(secret_box).to_be_visible()
    secret = secret_box.inner_text().strip()
    assert secret.startswith("cb_")
    screenshot("api-token")

    # The token works against the API without the browser's session.
    response = page.request.get(
        f"{live_server.url}/api/v1/me/",
        headers={"Authorization": f"Bearer {secret}", "Cookie": ""},
    )
    assert response.status == 200
    assert response.json()["email"] == personas.owner.email

    page.reload()
    expect(page.get_by_test_id("token-secret")).to_have_count(0)
    expect(page.get_by_role("cell", name="nightly import", exact=True)).to_be_visible()
    assert not csp_errors, csp_errors


def test_an_admin_manages_members_in_the_browser(
    django_db_setup, live_server, page: Page, personas, screenshot
):
    _seed_activity(personas)
    csp_errors = _csp_errors(page)
    sign_in(page, live_server.url, personas.owner.email)
    page.goto(f"{live_server.url}/w/policy-team/members/")
    expect(page.get_by_role("heading", name="Members", exact=True)).to_be_visible()
    expect(page.get_by_text("new.reviewer@policy.test")).to_be_visible()
    screenshot("members")

    page.get_by_label("Role of viewer@policy.test").select_option(label="Reviewer")
    page.get_by_label("Role of viewer@policy.test").locator("xpath=..").get_by_role(
        "button", name="Save"
    ).click()
    expect(page.get_by_text("viewer@policy.test is now Reviewer.")).to_be_visible()
    membership = Membership.objects.get(workspace=personas.workspace, user=personas.viewer)
    assert membership.role == Role.REVIEWER
    assert not csp_errors, csp_errors


def test_signing_out_returns_to_the_sign_in_page(
    django_db_setup, live_server, page: Page, personas
):
    sign_in(page, live_server.url, personas.viewer.email)
    expect(page).to_have_url(f"{live_server.url}/w/policy-team/")
    page.get_by_label("Account menu").click()
    page.get_by_test_id("sign-out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.goto(f"{live_server.url}/w/policy-team/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
