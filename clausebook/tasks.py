"""Platform tasks. Thin: take ids, call a service, safe to run twice."""

from __future__ import annotations

from clausebook import services
from clausebook.celery import app


@app.task(
    name="clausebook.send_invitation_email",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def send_invitation_email(invitation_id: int) -> None:
    """Email the invitation link once. The message holds the id only: the service makes the
    token, so no raw secret ever sits in the broker."""
    services.invitation_send(invitation_id=invitation_id)
