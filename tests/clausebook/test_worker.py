"""A real Celery worker process sends the invitation email, and its link lets the invitee in."""

import re
from urllib.parse import urlsplit

import pytest

from clausebook import services
from clausebook.models import Invitation, Membership, Role
from tests.conftest import WORKER_LOG, read_outbox, wait_for
from tests.factories import UserFactory

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_emails_the_invitation_with_a_link_that_works(
    celery_worker, worker_outbox, personas
):
    created = services.invitation_create(
        workspace=personas.workspace,
        email="new.reviewer@policy.test",
        role=Role.REVIEWER,
        invited_by=personas.owner,
        link_base="http://127.0.0.1:8123",
    )
    invitation = created.invitation
    wait_for(lambda: Invitation.objects.filter(pk=invitation.pk, sent_at__isnull=False).exists())

    [message] = read_outbox(worker_outbox)
    assert message["To"] == "new.reviewer@policy.test"
    assert message["Subject"] == "You are invited to Policy Team on Clausebook"
    body = message.get_content()
    assert "owner@policy.test invited you to review model behaviour in Policy Team" in body
    [link] = re.findall(r"Accept: (\S+)", body)
    assert link.startswith("http://127.0.0.1:8123/invitations/"), "the port the admin used"
    raw = urlsplit(link).path.removeprefix("/invitations/").strip("/")
    invitation.refresh_from_db()
    assert invitation.token_hash == Invitation.hash_token(raw), "the worker stored only the hash"

    invitee = personas.client_for(UserFactory(email="new.reviewer@policy.test"))
    page = invitee.get(urlsplit(link).path, follow=True)
    assert page.status_code == 200
    invitee.post(page.redirect_chain[-1][0])
    membership = Membership.objects.get(workspace=personas.workspace, user__email=invitation.email)
    assert membership.role == Role.REVIEWER
    assert celery_worker.poll() is None, "the worker must still be running"
    log = WORKER_LOG.read_text()
    assert "send_invitation_email" in log and raw not in log, "no token in the worker's log"
