"""403 and 404 pages use the site layout and say why and where to go (issue 9); the API keeps
answering JSON."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from clausebook.models import Membership
from specs import services as spec_services

pytestmark = pytest.mark.django_db

TOPBAR = re.compile(r'<header class="topbar">.*?<a class="brand" href="/"', re.S)


@pytest.fixture
def production_errors(settings):  # type: ignore[no-untyped-def]
    """Error pages as production serves them: with DEBUG on, Django shows its debug 404 page."""
    settings.DEBUG = False
    return settings


def _text(response) -> str:  # type: ignore[no-untyped-def]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_a_viewer_opening_an_editor_page_gets_a_403_in_the_layout_saying_why(
    personas, production_errors
):
    spec = spec_services.spec_create(
        workspace=personas.workspace, slug="model-spec", title="Model Spec", actor=personas.editor
    )
    client = personas.client_for(personas.viewer)
    response = client.get(reverse("specs:version-import", args=["policy-team", spec.slug]))

    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert TOPBAR.search(html), "the page has the site's top bar"
    assert 'aria-label="Account menu"' in html
    text = _text(response)
    assert "You don't have access to this page" in text
    assert "This needs the editor role or higher." in text
    assert "viewer@policy.test" in text
    assert "A workspace admin can give you a higher role" in text
    dashboard = reverse("workspace-dashboard", args=["policy-team"])
    assert f'href="{dashboard}">Back to the Policy Team dashboard</a>' in html
    assert 'nonce="' in html, "the layout's scripts load under the CSP"


def test_the_403_page_is_served_with_debug_on_too(personas):
    client = personas.client_for(personas.viewer)
    response = client.get(reverse("workspace-members", args=["policy-team"]))
    assert response.status_code == 403
    assert "This needs the admin role or higher." in _text(response)
    assert TOPBAR.search(response.content.decode())


def test_an_unknown_url_gets_a_404_in_the_layout_with_a_way_back(personas, production_errors):
    client = personas.client_for(personas.reviewer)
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    html = response.content.decode()
    assert TOPBAR.search(html)
    text = _text(response)
    assert "There is no page here" in text
    assert "Nothing is at /no-such-page/" in text
    assert f'href="{reverse("home")}">Home</a>' in html
    assert "Resolver404" not in text, "no internal exception names"


def test_a_missing_page_in_my_workspace_links_back_to_its_dashboard(personas, production_errors):
    client = personas.client_for(personas.reviewer)
    response = client.get(reverse("specs:spec-detail", args=["policy-team", "no-such-spec"]))

    assert response.status_code == 404
    dashboard = reverse("workspace-dashboard", args=["policy-team"])
    assert f'href="{dashboard}">Back to the Policy Team dashboard</a>' in response.content.decode()


def test_another_workspaces_page_gets_the_same_404_as_a_page_that_never_existed(
    personas, production_errors
):
    client = personas.client_for(personas.outsider)
    victim = client.get(reverse("workspace-dashboard", args=["policy-team"]))
    nowhere = client.get(reverse("workspace-dashboard", args=["no-such-team"]))

    assert victim.status_code == nowhere.status_code == 404
    assert TOPBAR.search(victim.content.decode())
    assert "Policy Team" not in victim.content.decode()
    assert _text(victim).replace("policy-team", "X") == _text(nowhere).replace("no-such-team", "X")


def test_a_signed_out_visitor_on_an_unknown_url_is_offered_the_sign_in_page(
    client, production_errors
):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert TOPBAR.search(response.content.decode())
    assert f'href="{reverse("account_login")}">Sign in</a>' in response.content.decode()


def test_api_errors_stay_json(personas, production_errors):
    membership = Membership.objects.get(workspace=personas.workspace, user=personas.viewer)
    viewer = personas.client_for(personas.viewer)
    forbidden = viewer.patch(
        reverse("api-member-detail", args=["policy-team", membership.pk]),
        {"role": "admin"},
        content_type="application/json",
    )
    assert forbidden.status_code == 403
    assert forbidden["Content-Type"] == "application/json"
    assert "detail" in forbidden.json()

    outsider = personas.client_for(personas.outsider)
    missing = outsider.get(reverse("api-workspace-detail", args=["policy-team"]))
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/json"
    assert "detail" in missing.json()


def test_an_unrouted_api_path_answers_json(client, settings):
    settings.DEBUG = False
    response = client.get("/api/v1/no-such-route/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "No such API route."}
