"""The platform API: personal tokens, the current user, workspaces and members, pagination,
throttling, and the OpenAPI schema."""

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clausebook import services
from clausebook.models import ApiToken, AuditEvent, Membership, Role

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def _bearer(raw: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


# --- Tokens --------------------------------------------------------------------------------
def test_a_new_token_is_shown_once_and_only_its_hash_is_stored(personas):
    client = personas.client_for(personas.reviewer)
    response = client.post(reverse("api-tokens"), {"name": "nightly import"})
    assert response.status_code == 200, "the answer to the POST shows the secret, no redirect"
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get(user=personas.reviewer)
    raw = response.context["new_secret"]
    assert raw.startswith("cb_") and len(raw) > 40
    assert raw in response.content.decode()
    assert token.token_hash == ApiToken.hash_token(raw) and raw not in token.token_hash
    assert token.hint == raw[:10]
    again = client.get(reverse("api-tokens"))
    assert raw not in again.content.decode()
    assert token.hint in again.content.decode()
    assert AuditEvent.objects.filter(verb="api_token.create", actor=personas.reviewer).exists()


def test_a_new_tokens_secret_is_never_stored_in_a_session(personas):
    """On 0a5a311 the raw token waited in the database session until the next page load."""
    client = personas.client_for(personas.reviewer)
    response = client.post(reverse("api-tokens"), {"name": "laptop"})
    raw = response.context["new_secret"]
    sessions = list(Session.objects.all())
    assert sessions, "the signed-in client has a session row"
    for session in sessions:
        assert raw not in repr(session.get_decoded())
        assert raw not in session.session_data
    assert raw not in repr(dict(client.session))


def test_the_token_list_costs_a_fixed_number_of_queries(personas, django_assert_num_queries):
    for n in range(5):
        services.api_token_create(user=personas.reviewer, name=f"t{n}")
    client = personas.client_for(personas.reviewer)
    client.get(reverse("api-tokens"))
    with django_assert_num_queries(4):  # session, user, nav workspaces, tokens
        client.get(reverse("api-tokens"))


def test_bearer_auth_works_and_records_last_use(personas):
    token, raw = services.api_token_create(user=personas.reviewer, name="script")
    response = Client().get(reverse("api-me"), **_bearer(raw))
    assert response.status_code == 200
    assert response.json()["email"] == "reviewer@policy.test"
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_last_use_is_written_at_most_once_a_minute(personas):
    token, raw = services.api_token_create(user=personas.reviewer, name="script")
    recent = timezone.now() - timedelta(seconds=10)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=recent)
    Client().get(reverse("api-me"), **_bearer(raw))
    token.refresh_from_db()
    assert token.last_used_at == recent


def test_a_revoked_or_unknown_token_gets_401(personas):
    token, raw = services.api_token_create(user=personas.reviewer, name="script")
    client = personas.client_for(personas.reviewer)
    client.post(reverse("api-token-revoke", args=[token.pk]))
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert Client().get(reverse("api-me"), **_bearer(raw)).status_code == 401
    assert Client().get(reverse("api-me"), **_bearer("cb_" + "x" * 43)).status_code == 401
    assert Client().get(reverse("api-me"), **_bearer("nonsense")).status_code == 401
    assert Client().get(reverse("api-me")).status_code == 401


def test_nobody_can_revoke_someone_elses_token(personas):
    token, raw = services.api_token_create(user=personas.reviewer, name="script")
    client = personas.client_for(personas.owner)
    assert client.post(reverse("api-token-revoke", args=[token.pk])).status_code == 404
    assert Client().get(reverse("api-me"), **_bearer(raw)).status_code == 200


def test_a_token_of_a_deactivated_user_stops_working(personas):
    _, raw = services.api_token_create(user=personas.reviewer, name="script")
    personas.reviewer.is_active = False
    personas.reviewer.save()
    assert Client().get(reverse("api-me"), **_bearer(raw)).status_code == 401


# --- Workspaces and members ----------------------------------------------------------------
def test_the_workspace_list_holds_only_the_users_workspaces_with_their_role(personas):
    client = personas.client_for(personas.outsider)
    body = client.get(reverse("api-workspace-list")).json()
    assert body["count"] == 1
    assert [w["slug"] for w in body["results"]] == ["other-org"]
    assert body["results"][0]["role"] == "admin"
    assert {"next", "previous"} <= body.keys()


def test_workspace_detail_is_404_for_an_outsider(personas):
    url = reverse("api-workspace-detail", args=["policy-team"])
    assert personas.client_for(personas.outsider).get(url).status_code == 404
    assert personas.client_for(personas.viewer).get(url).json()["role"] == "viewer"


def test_a_viewer_lists_members_paginated_in_a_fixed_number_of_queries(
    personas, django_assert_num_queries
):
    client = personas.client_for(personas.viewer)
    url = reverse("api-member-list", args=["policy-team"])
    with django_assert_num_queries(5):  # session, user, membership, count, page
        response = client.get(url + "?page_size=4")
    body = response.json()
    assert body["count"] == 6
    assert len(body["results"]) == 4
    assert body["next"]
    assert body["results"][0]["role"] == "admin"
    assert personas.client_for(personas.outsider).get(url).status_code == 404


def test_only_an_admin_may_patch_a_role(personas):
    target = Membership.objects.get(workspace=personas.workspace, user=personas.viewer)
    url = reverse("api-member-detail", args=["policy-team", target.pk])
    editor = personas.client_for(personas.editor)
    assert editor.get(url).json()["role"] == "viewer"
    assert editor.patch(url, {"role": "admin"}, content_type="application/json").status_code == 403
    outsider = personas.client_for(personas.outsider)
    assert (
        outsider.patch(url, {"role": "admin"}, content_type="application/json").status_code == 404
    )
    admin = personas.client_for(personas.owner)
    response = admin.patch(url, {"role": "reviewer"}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["role"] == "reviewer"
    target.refresh_from_db()
    assert target.role == Role.REVIEWER


def test_patching_a_role_rejects_unknown_roles_and_the_last_admin(personas):
    admin = personas.client_for(personas.owner)
    own = Membership.objects.get(workspace=personas.workspace, user=personas.owner)
    url = reverse("api-member-detail", args=["policy-team", own.pk])
    assert admin.patch(url, {"role": "god"}, content_type="application/json").status_code == 400
    response = admin.patch(url, {"role": "viewer"}, content_type="application/json")
    assert response.status_code == 400
    own.refresh_from_db()
    assert own.role == Role.ADMIN


def test_a_member_of_another_workspace_is_404_through_this_workspace(personas):
    foreign = Membership.objects.get(workspace=personas.other_workspace)
    url = reverse("api-member-detail", args=["policy-team", foreign.pk])
    assert personas.client_for(personas.owner).get(url).status_code == 404


def test_writes_are_throttled(personas, monkeypatch):
    from django.core.cache import cache

    from clausebook.throttling import WriteRateThrottle

    # A tiny rate for this test only; monkeypatch puts the configured rates back afterwards.
    monkeypatch.setattr(WriteRateThrottle, "THROTTLE_RATES", {"writes": "2/min"})
    cache.clear()
    target = Membership.objects.get(workspace=personas.workspace, user=personas.viewer)
    url = reverse("api-member-detail", args=["policy-team", target.pk])
    admin = personas.client_for(personas.owner)
    codes = [
        admin.patch(url, {"role": "viewer"}, content_type="application/json").status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    assert admin.get(url).status_code == 200, "reads are not throttled"
    cache.clear()


def test_the_api_writes_are_throttled_by_default_configuration():
    from clausebook import settings as production_settings

    classes = production_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]
    assert "clausebook.throttling.WriteRateThrottle" in classes
    assert production_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["writes"]


def test_every_list_endpoint_is_paginated():
    """Every DRF list view (generic or hand-written) under /api/v1/ has a paginator, or pages by
    number itself under a declared ``page_size_limit`` (refusing bigger pages with a 400)."""
    from django.urls import get_resolver
    from rest_framework.views import APIView

    from tests.route_samples import iter_routes

    missing = []
    for route in iter_routes(get_resolver()):
        view_class = getattr(route.callback, "cls", None)
        if not (view_class and issubclass(view_class, APIView)):
            continue
        is_list = bool(route.name and route.name.endswith("-list"))
        if (
            is_list
            and route.route.startswith("api/v1/")
            and getattr(view_class, "pagination_class", None) is None
            and not getattr(view_class, "page_size_limit", None)
        ):
            missing.append(route.name)
    assert not missing, f"list endpoints without pagination: {missing}"


# --- Schema and docs -----------------------------------------------------------------------
def test_the_openapi_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yml"
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "DEBUG": "true"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    text = out.read_text()
    assert text.startswith("openapi: 3")
    assert "/api/v1/me/" in text and "/api/v1/workspaces/{workspace}/members/" in text


def test_the_schema_is_served_as_openapi_3(personas):
    client = personas.client_for(personas.viewer)
    response = client.get(reverse("api-schema") + "?format=json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_the_docs_page_serves_swagger_ui_from_our_own_static_files(personas):
    client = personas.client_for(personas.viewer)
    response = client.get(reverse("api-docs"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    # Every script and stylesheet comes from this site (a nonce is random text, so the check is on
    # the addresses, not on substrings of the whole page).
    sources = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
    assert sources
    assert all(source.startswith("/static/") for source in sources), sources
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
