from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest

from clausebook.models import Invitation, SiteConfiguration


class AccountAdapter(DefaultAccountAdapter):
    """Signup is open only when an admin says so, or for someone holding an invitation."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        if SiteConfiguration.get().open_signup:
            return True
        token = request.session.get("invitation_token")
        if not token:
            return False
        invitation = Invitation.objects.filter(token_hash=Invitation.hash_token(token)).first()
        return invitation is not None and invitation.is_pending
