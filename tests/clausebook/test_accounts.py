"""Accounts through django-allauth: closed signup by default, mandatory email verification,
password reset, TOTP two-factor with recovery codes, and login rate limits."""

import re
from urllib.parse import urlsplit

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal import auth as totp_auth
from django.core import mail
from django.test import Client
from django.urls import reverse

from clausebook import services
from clausebook.models import Role, SiteConfiguration, User
from tests.factories import TEST_PASSWORD, UserFactory, send_invitation

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a long and unusual passphrase 42"


def _signup(client: Client, email: str):
    return client.post(
        reverse("account_signup"),
        {"email": email, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )


def _login(client: Client, email: str, password: str = TEST_PASSWORD, **extra):
    return client.post(reverse("account_login"), {"login": email, "password": password}, **extra)


# --- Signup --------------------------------------------------------------------------------
def test_signup_is_closed_by_default(client):
    assert SiteConfiguration.get().open_signup is False
    page = client.get(reverse("account_signup"))
    assert page.status_code == 200
    assert "<h1>Sign-up is closed</h1>" in page.content.decode()
    _signup(client, "stranger@example.test")
    assert not User.objects.filter(email="stranger@example.test").exists()


def test_signup_opens_when_an_admin_switches_it_on(client):
    SiteConfiguration.objects.update_or_create(pk=1, defaults={"open_signup": True})
    response = _signup(client, "newcomer@example.test")
    assert response.status_code == 302
    assert User.objects.filter(email="newcomer@example.test").exists()


def test_signup_is_allowed_while_holding_a_pending_invitation(personas, client):
    _, link = send_invitation(
        personas.workspace,
        email="invited@example.test",
        role=Role.REVIEWER,
        invited_by=personas.owner,
    )
    client.get(link)  # remembers the invitation (its id, not its token) in the session
    response = _signup(client, "invited@example.test")
    assert response.status_code == 302
    assert User.objects.filter(email="invited@example.test").exists()


def test_a_revoked_invitation_in_the_session_does_not_open_signup(personas, client):
    _, link = send_invitation(
        personas.workspace,
        email="revoked@example.test",
        role=Role.REVIEWER,
        invited_by=personas.owner,
    )
    client.get(link)
    services.invitation_create(
        workspace=personas.workspace,
        email="revoked@example.test",
        role=Role.EDITOR,
        invited_by=personas.owner,
        link_base="http://testserver",
    )  # replaces (revokes) the first one
    _signup(client, "revoked@example.test")
    assert not User.objects.filter(email="revoked@example.test").exists()


def test_after_confirming_their_email_an_invitee_lands_on_their_invitation(personas, client):
    """On 0a5a311 the new account landed on "create a workspace" instead."""
    invitation, link = send_invitation(
        personas.workspace,
        email="landing@example.test",
        role=Role.REVIEWER,
        invited_by=personas.owner,
    )
    client.get(link)
    _signup(client, "landing@example.test")
    [confirmation] = [m for m in mail.outbox if m.to == ["landing@example.test"]][-1:]
    [key_url] = re.findall(r"https?://\S+/accounts/confirm-email/\S+", confirmation.body)
    path = urlsplit(key_url).path
    response = client.post(path)
    detail = reverse("invitation-detail", args=[invitation.pk])
    assert response.status_code == 302 and response["Location"] == detail
    page = client.get(detail).content.decode()
    assert "to <strong>Policy Team</strong> as <strong>reviewer</strong>" in page
    assert client.get(reverse("home"))["Location"] == detail, "home leads there too"


# --- Email verification ----------------------------------------------------------------------
def test_a_new_account_must_verify_its_email_before_signing_in(client):
    SiteConfiguration.objects.update_or_create(pk=1, defaults={"open_signup": True})
    response = _signup(client, "verify.me@example.test")
    assert response["Location"] == reverse("account_email_verification_sent")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["verify.me@example.test"]

    fresh = Client()
    blocked = _login(fresh, "verify.me@example.test", NEW_PASSWORD)
    assert blocked["Location"] == reverse("account_email_verification_sent")
    assert fresh.get(reverse("home")).status_code == 302  # still anonymous

    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", message.body)
    assert link, message.body
    path = "/" + link.group(0).split("/", 3)[3]
    fresh.post(path)
    allowed = Client()
    assert _login(allowed, "verify.me@example.test", NEW_PASSWORD)["Location"] == reverse("home")


# --- Password reset --------------------------------------------------------------------------
def test_a_password_reset_email_lets_the_user_set_a_new_password(client):
    user = UserFactory(email="forgetful@example.test")
    client.post(reverse("account_reset_password"), {"email": "forgetful@example.test"})
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    match = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+/)", body)
    assert match, body
    follow = client.get(match.group(1))
    assert follow.status_code == 302  # allauth swaps the key for a session-held token
    form_url = follow["Location"]
    done = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_a_password_reset_for_an_unknown_address_reveals_nothing(client):
    response = client.post(reverse("account_reset_password"), {"email": "nobody@example.test"})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_done")


# --- Two-factor authentication --------------------------------------------------------------
def _activate_totp(client: Client) -> str:
    """Walk allauth's activation flow and return the TOTP secret."""
    page = client.get(reverse("mfa_activate_totp"))
    # Turning on 2FA is a sensitive change: allauth asks for the password again first.
    assert page["Location"].startswith(reverse("account_reauthenticate"))
    client.post(page["Location"], {"password": TEST_PASSWORD})
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    secret = client.session[totp_auth.SECRET_SESSION_KEY]
    code = _current_code(secret)
    response = client.post(reverse("mfa_activate_totp"), {"code": code})
    assert response.status_code == 302, re.findall(
        r'<ul class="errorlist".*?</ul>', response.content.decode(), re.S
    )
    return secret


def _current_code(secret: str) -> str:
    """The code an authenticator app would show now (what the user types)."""
    counters = list(totp_auth.yield_hotp_counters_from_time())
    return totp_auth.format_hotp_value(totp_auth.hotp_value(secret, counters[len(counters) // 2]))


def test_with_totp_on_signing_in_needs_the_code_and_recovery_codes_work_once():
    user = UserFactory(email="careful@example.test")
    client = Client()
    _login(client, user.email)
    secret = _activate_totp(client)
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    recovery = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    codes = recovery.wrap().get_unused_codes()
    assert len(codes) >= 8

    # Password alone is not enough: the second stage asks for a code.
    second = Client()
    response = _login(second, user.email)
    assert response["Location"] == reverse("mfa_authenticate")
    assert second.get(reverse("api-tokens")).status_code == 302
    wrong = second.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert wrong.status_code == 200
    ok = second.post(reverse("mfa_authenticate"), {"code": _current_code(secret)})
    assert ok.status_code == 302
    assert second.get(reverse("api-tokens")).status_code == 200

    # A recovery code works once.
    third = Client()
    _login(third, user.email)
    assert third.post(reverse("mfa_authenticate"), {"code": codes[0]}).status_code == 302
    assert third.get(reverse("api-tokens")).status_code == 200
    fourth = Client()
    _login(fourth, user.email)
    assert fourth.post(reverse("mfa_authenticate"), {"code": codes[0]}).status_code == 200
    assert fourth.get(reverse("api-tokens")).status_code == 302


# --- Rate limits -----------------------------------------------------------------------------
LIMITED = "Too many failed login attempts"
WRONG = "The email address and/or password you specified are not correct"


def _variant(email: str, n: int) -> str:
    """The same account spelled differently: case, accents in the local part or the domain."""
    local, domain = email.split("@")
    accents = ["é", "è", "ê", "ë", "É"]
    return [
        email,
        email.upper(),
        local.replace("e", accents[n % 5], 1) + "@" + domain,
        local + "@" + domain.replace("e", accents[n % 5], 1),
    ][n % 4]


def test_t37_failed_logins_are_rate_limited_despite_spoofed_ips_and_accented_emails():
    UserFactory(email="target@example.test")
    client = Client()
    checked, limited = 0, 0
    for n in range(20):
        response = _login(
            client,
            _variant("target@example.test", n),
            password=f"wrong-{n}",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )
        page = response.content.decode()
        # All attempts come from one client address, far below the per-address page limit
        # (30/min, a 429): what stops them is the failed-login limit, a form error on a 200.
        assert response.status_code == 200
        checked += WRONG in page
        limited += LIMITED in page
    # The per-address limit (10/min) holds whatever X-Forwarded-For says, and the per-account
    # limit (5 per 5 min) holds for every spelling of the address that could match the account.
    assert checked <= 10, f"{checked} passwords were checked"
    assert limited >= 5, "the last attempts are refused without checking the password"
    response = _login(client, "target@example.test", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert response.status_code == 200
    assert LIMITED in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_t37_the_admin_login_goes_through_the_rate_limited_sign_in(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


# --- Open redirects ---------------------------------------------------------------------------
EVIL_NEXT = [
    "//evil.com",
    "https:evil.com",
    "/\\evil.com",
    "javascript:alert(1)",
    "%2F%2Fevil.com",
    "https://evil.com/",
]


def _is_local(location: str) -> bool:
    parts = urlsplit(location)
    return not parts.scheme and not parts.netloc and not location.startswith(("//", "/\\", "\\"))


@pytest.mark.parametrize("target", EVIL_NEXT)
def test_t38_login_never_redirects_off_site(target):
    UserFactory(email="safe@example.test")
    client = Client()
    response = client.post(
        reverse("account_login") + "?next=" + target,
        {"login": "safe@example.test", "password": TEST_PASSWORD, "next": target},
    )
    assert response.status_code == 302
    assert _is_local(response["Location"]), response["Location"]


@pytest.mark.parametrize("target", EVIL_NEXT)
def test_t38_logout_never_redirects_off_site(target):
    user = UserFactory(email="bye@example.test")
    client = Client()
    client.force_login(user)
    response = client.post(reverse("account_logout"), {"next": target})
    assert response.status_code == 302
    assert _is_local(response["Location"]), response["Location"]


@pytest.mark.parametrize("target", EVIL_NEXT)
def test_t38_signup_never_redirects_off_site(target):
    SiteConfiguration.objects.update_or_create(pk=1, defaults={"open_signup": True})
    client = Client()
    response = client.post(
        reverse("account_signup"),
        {
            "email": "x@example.test",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "next": target,
        },
    )
    assert response.status_code == 302
    assert _is_local(response["Location"]), response["Location"]
