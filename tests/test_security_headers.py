"""Platform-wide security baseline: enforced CSP with a nonce, CSRF on forms, htmx and the API,
production headers and the production configuration gate (T12, T40)."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from clausebook.models import ApiToken, Membership, Role

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"


# --- CSP -----------------------------------------------------------------------------------
def _policy(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    header = response["Content-Security-Policy"]
    return {
        part.split()[0]: " ".join(part.split()[1:])
        for part in (p.strip() for p in header.split(";"))
        if part
    }


@pytest.mark.parametrize("page", ["login", "dashboard", "members", "tokens"])
def test_html_pages_carry_an_enforced_csp_with_a_nonce(personas, page):
    urls = {
        "login": reverse("account_login"),
        "dashboard": reverse("workspace-dashboard", args=["policy-team"]),
        "members": reverse("workspace-members", args=["policy-team"]),
        "tokens": reverse("api-tokens"),
    }
    client = Client() if page == "login" else personas.client_for(personas.owner)
    response = client.get(urls[page])
    assert response.status_code == 200
    assert "Content-Security-Policy-Report-Only" not in response
    policy = _policy(response)
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy["script-src"]).group(1)
    scripts = re.findall(r"<script\b[^>]*>", response.content.decode())
    assert scripts, "the page loads htmx and app.js"
    for tag in scripts:
        assert f'nonce="{nonce}"' in tag, tag
        assert re.search(r'\bsrc="/static/[^"]+\.js"', tag), f"inline script: {tag}"
    assert policy["style-src"] == "'self'"


def test_the_nonce_changes_on_every_response(client):
    first = _policy(client.get(reverse("account_login")))["script-src"]
    second = _policy(client.get(reverse("account_login")))["script-src"]
    assert first != second


def test_templates_need_no_unsafe_inline():
    """Inline style attributes, inline event handlers and inline scripts would all be blocked
    by the CSP, so no template may contain them."""
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for pattern in (
            r"\sstyle=",
            r"\son[a-z]+\s*=",
            r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>",
        ):
            for match in re.finditer(pattern, text):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {match.group(0).strip()}")
    assert not offenders, "\n".join(offenders)


# --- CSRF (T12) ----------------------------------------------------------------------------
def test_t12_a_form_post_without_a_csrf_token_is_refused(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.reviewer)
    response = client.post(reverse("api-tokens"), {"name": "cross-site"})
    assert response.status_code == 403
    assert not ApiToken.objects.exists()
    page = client.get(reverse("api-tokens"))
    token = page.cookies["csrftoken"].value
    ok = client.post(reverse("api-tokens"), {"name": "same-site", "csrfmiddlewaretoken": token})
    assert ok.status_code == 200  # the answer shows the new secret once (no redirect)
    assert ApiToken.objects.filter(name="same-site").exists()


def test_t12_an_htmx_post_without_the_csrf_header_is_refused(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.owner)
    target = Membership.objects.get(workspace=personas.workspace, user=personas.viewer)
    url = reverse("workspace-member-role", args=["policy-team", target.pk])
    assert client.post(url, {"role": Role.ADMIN}, HTTP_HX_REQUEST="true").status_code == 403
    target.refresh_from_db()
    assert target.role == Role.VIEWER
    token = client.get(reverse("workspace-members", args=["policy-team"])).cookies["csrftoken"]
    response = client.post(
        url, {"role": Role.EDITOR}, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token.value
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.role == Role.EDITOR


def test_t12_the_base_layout_sends_the_csrf_token_with_every_htmx_request(personas):
    page = personas.client_for(personas.viewer).get(reverse("api-tokens")).content.decode()
    assert re.search(r"<body[^>]*hx-headers='\{\"X-CSRFToken\": \"[^\"]+\"\}'", page)


def test_t12_a_session_authenticated_api_write_needs_the_csrf_token(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.owner)
    target = Membership.objects.get(workspace=personas.workspace, user=personas.viewer)
    url = reverse("api-member-detail", args=["policy-team", target.pk])
    response = client.patch(url, {"role": "admin"}, content_type="application/json")
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.role == Role.VIEWER


def test_t12_every_form_in_the_templates_posts_with_a_csrf_token():
    missing = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for match in re.finditer(
            r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", text, re.S | re.I
        ):
            if "csrf_token" not in match.group(1) and "{% slot" not in match.group(1):
                missing.append(f"{path.relative_to(ROOT)}: {match.group(0)[:80]}")
    assert not missing, "\n".join(missing)


# --- Production configuration (T40) ----------------------------------------------------------
def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    host = db["HOST"] or ""
    if host.startswith("/"):
        return f"postgres://{auth}@/{db['NAME']}?host={host}"
    return f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def production_env(**overrides: str) -> dict[str, str]:
    """The production environment documented in README.md and docker/.env.example."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DEBUG",
            "DJANGO_SETTINGS_MODULE",
            "SECRET_KEY",
            "DATABASE_URL",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
            "CLAUSEBOOK_BROKER_DIR",
        }
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "clausebook.settings",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "clausebook.example.com",
            "CSRF_TRUSTED_ORIGINS": "https://clausebook.example.com",
            "SITE_URL": "https://clausebook.example.com",
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": "redis://redis:6379/0",
            "EMAIL_HOST": "smtp.example.com",
            "BEHIND_TLS_PROXY": "true",
            # Production has no local install folder (this checkout's var/ would supply a key).
            "CLAUSEBOOK_LOCAL_DIR": "",
        }
    )
    env.update(overrides)
    return env


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_t40_check_deploy_passes_with_the_documented_production_environment():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "short",
        "django-insecure-" + "x" * 60,
        "a" * 64,
        "dev-only-insecure-key-never-use-in-production-0123456789abcdef",
    ],
    ids=["missing", "short", "django-insecure", "low-entropy", "dev-default"],
)
def test_t40_production_refuses_to_start_without_a_strong_secret_key(secret):
    env = production_env(SECRET_KEY=secret)
    if not secret:
        env.pop("SECRET_KEY")
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set to a random value of at least 50 characters" in result.stderr


def test_t40_a_bad_boolean_in_the_environment_stops_the_start_with_its_name():
    result = _manage("check", env=production_env(SESSION_COOKIE_SECURE="maybe"))
    assert result.returncode != 0
    assert "SESSION_COOKIE_SECURE='maybe' is not a boolean" in result.stderr


PROBE = """
import json, django
django.setup()
from django.test import Client
from rest_framework.settings import api_settings
client = Client(HTTP_HOST="clausebook.example.com")
page = client.get("/accounts/login/", secure=True)
plain = client.get("/accounts/login/")
api = client.get("/api/v1/me/", secure=True, HTTP_ACCEPT="text/html")
print(json.dumps({
    "headers": dict(page.headers),
    "cookies": {k: dict(v) for k, v in page.cookies.items()},
    "plain_status": plain.status_code,
    "plain_location": plain.get("Location", ""),
    "api_status": api.status_code,
    "api_type": api["Content-Type"],
    "renderers": [r.__name__ for r in api_settings.DEFAULT_RENDERER_CLASSES],
}))
"""


def test_t40_production_responses_carry_the_security_headers():
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    headers = probe["headers"]
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "includeSubDomains" in headers["Strict-Transport-Security"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "Content-Security-Policy-Report-Only" not in headers
    assert probe["cookies"]["csrftoken"]["secure"] is True
    assert probe["plain_status"] == 301, "plain HTTP is redirected to HTTPS"
    assert probe["plain_location"].startswith("https://clausebook.example.com/")
    # DRF's browsable API is off in production (GHSA-gw84-84pc-xp82, GHSA-g47c-3xmw-q6m2).
    assert probe["renderers"] == ["JSONRenderer"]
    # DRF negotiates the renderer before it authenticates: asking for HTML is refused outright.
    assert probe["api_status"] == 406, "no HTML rendering of the API"
    assert "text/html" not in probe["api_type"]
