"""The platform in a real browser: sign in, switch workspace, create an API token, members."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from clausebook import services
from clausebook.models import Membership, Role
from tests.factories import TEST_PASSWORD, send_invitation

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
    send_invitation(
        personas.workspace,
        email="new.reviewer@policy.test",
        role=Role.REVIEWER,
        invited_by=personas.owner,
        link_base="http://127.0.0.1:8000",
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

    # The secret was in that one answer only: opening the page again shows the hint, not it.
    page.goto(f"{live_server.url}/settings/tokens/")
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


def test_an_admin_removes_a_member_only_after_confirming(
    django_db_setup, live_server, page: Page, personas
):
    """On 0a5a311 the Remove button removed at once."""
    sign_in(page, live_server.url, personas.owner.email)
    page.goto(f"{live_server.url}/w/policy-team/members/")
    page.get_by_role("link", name="Remove viewer@policy.test").click()
    expect(page.get_by_role("heading", name=re.compile("^Remove "))).to_be_visible()
    page.get_by_role("button", name="Remove viewer@policy.test").click()
    expect(page.get_by_text("Tick the box to confirm the removal.")).to_be_visible()
    assert Membership.objects.filter(workspace=personas.workspace, user=personas.viewer).exists()
    page.get_by_label("Yes, remove this member").check()
    page.get_by_role("button", name="Remove viewer@policy.test").click()
    expect(page.get_by_text("viewer@policy.test was removed from the workspace.")).to_be_visible()
    assert not Membership.objects.filter(
        workspace=personas.workspace, user=personas.viewer
    ).exists()


def test_a_viewer_is_offered_transcripts_and_no_queue(
    django_db_setup, live_server, page: Page, personas
):
    """On 0a5a311 a viewer's navigation offered Transcripts and My queue, both a bare 403."""
    sign_in(page, live_server.url, personas.viewer.email)
    nav = page.get_by_role("navigation", name="Workspace")
    expect(nav.get_by_role("link", name="My queue")).to_have_count(0)
    nav.get_by_role("link", name="Transcripts").click()
    expect(page.get_by_role("heading", name="Transcripts", exact=True)).to_be_visible()


def test_an_invitee_signs_up_and_lands_on_their_invitation(
    django_db_setup, live_server, page: Page, personas, screenshot
):
    """On 0a5a311 the new account landed on "create a workspace"; the accept page named
    neither the workspace nor the role."""
    invitation, link = send_invitation(
        personas.workspace,
        email="new.person@policy.test",
        role=Role.ADJUDICATOR,
        invited_by=personas.owner,
        link_base=live_server.url,
    )
    page.goto(live_server.url + link)
    expect(page).to_have_url(f"{live_server.url}/invitations/{invitation.pk}/accept/")
    expect(page.get_by_test_id("invitation-summary")).to_have_text(
        "owner@policy.test invited new.person@policy.test to Policy Team as adjudicator."
    )
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Email").fill("new.person@policy.test")
    page.get_by_label("Password", exact=True).fill("a long and unusual passphrase 42")
    page.get_by_label("Password (again)").fill("a long and unusual passphrase 42")
    page.get_by_role("button", name="Sign Up", exact=True).click()
    expect(page.get_by_role("heading", name="Verify Your Email Address")).to_be_visible()

    [url] = [
        found
        for message in mail.outbox
        if message.to == ["new.person@policy.test"]
        for found in re.findall(r"https?://\S+/accounts/confirm-email/\S+", message.body)
    ]
    page.goto(live_server.url + urlsplit(url).path)
    page.get_by_role("button", name="Confirm").click()

    expect(page).to_have_url(f"{live_server.url}/invitations/{invitation.pk}/accept/")
    expect(page.get_by_test_id("invitation-summary")).to_contain_text("Policy Team as adjudicator")
    screenshot("invitation-accept")
    page.get_by_role("button", name="Join Policy Team as adjudicator").click()
    expect(page).to_have_url(f"{live_server.url}/w/policy-team/")
    membership = Membership.objects.get(
        workspace=personas.workspace, user__email="new.person@policy.test"
    )
    assert membership.role == Role.ADJUDICATOR


def _nav_rows(page: Page) -> set[float]:
    """The distinct tops of the top bar's workspace links (one value: the nav fits on a line)."""
    links = page.locator("nav.mainnav > a, nav.mainnav > details > summary")
    return {round(links.nth(i).bounding_box()["y"]) for i in range(links.count())}


def test_the_main_nav_fits_on_one_line_on_a_laptop_and_wraps_below(
    django_db_setup, live_server, page: Page, personas, tmp_path
):
    """Before, at 1360 px the owner's nav took two lines (eleven links beside the menus); the
    screenshots stay in ``tmp_path`` to look at when it fails."""
    # The owner sees every section, so the longest nav.
    sign_in(page, live_server.url, personas.owner.email)
    page.goto(f"{live_server.url}/w/policy-team/")
    expect(page.get_by_role("heading", name="Policy Team")).to_be_visible()
    nav = page.get_by_role("navigation", name="Workspace")
    for width in (1360, 1280):
        page.set_viewport_size({"width": width, "height": 860})
        page.screenshot(path=tmp_path / f"nav-{width}.png")
        assert len(_nav_rows(page)) == 1, f"the nav wraps at {width} px"
        one_line = nav.bounding_box()["height"]
        assert one_line < 3 * 16, f"the nav is {one_line}px tall at {width} px"
    # The less-used sections are real links under "More", opened from the keyboard.
    nav.locator("details.nav-more > summary").focus()
    page.keyboard.press("Enter")
    page.screenshot(path=tmp_path / "nav-more.png")
    page.keyboard.press("Tab")
    expect(nav.get_by_role("link", name="Scenarios")).to_be_focused()
    for name in ("Re-runs", "Endpoints", "Members"):
        expect(nav.get_by_role("link", name=name)).to_be_visible()
    page.keyboard.press("Escape")
    expect(nav.get_by_role("link", name="Members")).to_be_hidden()
    # Narrower, it may wrap, but every link stays on the screen and nothing scrolls sideways.
    page.set_viewport_size({"width": 1000, "height": 860})
    page.screenshot(path=tmp_path / "nav-1000.png")
    for link in nav.get_by_role("link").all():
        box = link.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1000
    assert page.evaluate("document.documentElement.scrollWidth") <= 1000
