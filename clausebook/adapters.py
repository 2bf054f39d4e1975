from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest
from django.urls import reverse

from clausebook import invitation_session
from clausebook.models import SiteConfiguration


class AccountAdapter(DefaultAccountAdapter):
    """Signup is open only when an admin says so, or for someone holding an invitation; and
    whoever arrived with an invitation lands back on it after signing up or in."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        if SiteConfiguration.get().open_signup:
            return True
        return _invitation_url(request) is not None

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        # Also where allauth sends someone who just confirmed their email address; without
        # this the invitee landed on "create a workspace" instead of their invitation.
        return _invitation_url(request) or super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request: HttpRequest) -> str:
        return _invitation_url(request) or super().get_signup_redirect_url(request)


def _invitation_url(request: HttpRequest) -> str | None:
    invitation = invitation_session.pending(request)
    if invitation is None:
        return None
    return reverse("invitation-detail", args=[invitation.pk])
