"""Which invitation this browser came with: its id in the session, never its token.

Set when the emailed link is opened (proof of holding it), read by the invitation page, by the
sign-up switch and by the redirect after signing up or in, dropped on acceptance.
"""

from __future__ import annotations

from django.http import HttpRequest

from clausebook import selectors
from clausebook.models import Invitation

SESSION_KEY = "clausebook.invitation_id"


def remember(request: HttpRequest, invitation: Invitation) -> None:
    request.session[SESSION_KEY] = invitation.pk


def holds(request: HttpRequest, invitation_id: int) -> bool:
    """Whether this browser opened the link of invitation ``invitation_id``."""
    return request.session.get(SESSION_KEY) == invitation_id


def pending(request: HttpRequest) -> Invitation | None:
    """The pending invitation whose link this browser opened, if any."""
    invitation_id = request.session.get(SESSION_KEY)
    if not isinstance(invitation_id, int):
        return None
    invitation = selectors.invitation_by_id(invitation_id)
    if invitation is None or not invitation.is_pending:
        return None
    return invitation


def forget(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)
