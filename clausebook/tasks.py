"""Platform tasks. Thin: take ids, call a service or send, safe to run twice."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from clausebook.celery import app
from clausebook.models import Invitation


@app.task(
    name="clausebook.send_invitation_email",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def send_invitation_email(invitation_id: int, raw_token: str) -> None:
    """Email the invitation link once. ``sent_at`` makes a redelivered task a no-op."""
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("workspace", "invited_by")
            .filter(pk=invitation_id, sent_at__isnull=True)
            .first()
        )
        if invitation is None:
            return
        link = settings.SITE_URL.rstrip("/") + reverse("invitation-accept", args=[raw_token])
        inviter = invitation.invited_by.email if invitation.invited_by else "A workspace admin"
        send_mail(
            subject=f"You are invited to {invitation.workspace.name} on Clausebook",
            message=(
                f"{inviter} invited you to review model behaviour in {invitation.workspace.name} "
                f"as {invitation.get_role_display().lower()}.\n\nAccept: {link}\n\n"
                f"The link expires on {invitation.expires_at:%Y-%m-%d}."
            ),
            from_email=None,
            recipient_list=[invitation.email],
        )
        invitation.sent_at = timezone.now()
        invitation.save(update_fields=["sent_at"])
