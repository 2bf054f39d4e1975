"""The API docs page in a real browser, under the enforced CSP (issue 9: it was a blank page)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.clausebook.test_browser_platform import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}

# Collects every CSP violation the page reports, including ones a script catches and survives.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.effectiveDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


def _operations_in_schema(page: Page, base_url: str) -> int:
    response = page.request.get(f"{base_url}/api/schema/?format=json")
    assert response.status == 200
    paths = response.json()["paths"]
    return sum(1 for methods in paths.values() for method in methods if method in HTTP_METHODS)


def test_the_api_docs_render_every_operation_under_the_enforced_csp(
    django_db_setup, live_server, page: Page, personas, screenshot, settings
):
    # As production runs it. The CSP does not depend on DEBUG (SECURE_CSP is set either way),
    # and the response's header is checked below.
    settings.DEBUG = False
    console_errors: list[str] = []
    page.on(
        "console",
        lambda message: console_errors.append(message.text) if message.type == "error" else None,
    )
    page.add_init_script(RECORD_VIOLATIONS)
    sign_in(page, live_server.url, personas.editor.email)
    expect(page).to_have_url(re.compile(r"/w/policy-team/$"))

    # The docs are reached from the account menu, as a user would find them.
    page.get_by_label("Account menu").click()
    with page.expect_navigation() as navigation:
        page.get_by_role("menuitem", name="API docs").click()
    policy = navigation.value.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "content-security-policy-report-only" not in navigation.value.headers

    expected = _operations_in_schema(page, live_server.url)
    assert expected >= 20, "the schema lists the whole API"
    expect(page.get_by_role("heading", name=re.compile("Clausebook API"))).to_be_visible()
    operations = page.locator("#swagger-ui .opblock")
    expect(operations).to_have_count(expected, timeout=20_000)
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/me/").first).to_be_visible()

    # An operation opens and shows its parameters and responses: the UI is live, not a picture.
    page.locator(".opblock-summary", has_text="/api/v1/me/").first.click()
    expect(page.locator(".opblock.is-open .responses-wrapper").first).to_be_visible()
    page.locator(".opblock-summary", has_text="/api/v1/me/").first.click()
    page.evaluate("document.activeElement.blur()")
    screenshot("api-docs")

    violations = page.evaluate("window.__cspViolations")
    assert violations == [], violations
    csp_messages = [text for text in console_errors if "Content Security Policy" in text]
    assert csp_messages == [], csp_messages
