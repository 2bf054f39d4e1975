"""A real Celery worker process sends the invitation email, and its link lets the invitee in."""

import re

import pytest
from django.conf import settings

from clausebook import services
from clausebook.models import Invitation, Membership, Role
from tests.conftest import read_outbox, wait_for
from tests.factories import UserFactory

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_emails_the_invitation_with_a_link_that_works(
    celery_worker, worker_outbox, personas
):
    invitation, _raw = services.invitation_create(
        workspace=personas.workspace,
        email="new.reviewer@policy.test",
        role=Role.REVIEWER,
        invited_by=personas.owner,
    )
    wait_for(lambda: Invitation.objects.filter(pk=invitation.pk, sent_at__isnull=False).exists())

    [message] = read_outbox(worker_outbox)
    assert message["To"] == "new.reviewer@policy.test"
    assert message["Subject"] == "You are invited to Policy Team on Clausebook"
    body = message.get_content()
    assert "owner@policy.test invited you to review model behaviour in Policy Team" in body
    [link] = re.findall(r"Accept: (\S+)", body)
    assert link.startswith(settings.SITE_URL.rstrip("/") + "/invitations/")

    invitee = personas.client_for(UserFactory(email="new.reviewer@policy.test"))
    path = link.removeprefix(settings.SITE_URL.rstrip("/"))
    assert invitee.get(path).status_code == 200
    invitee.post(path)
    membership = Membership.objects.get(workspace=personas.workspace, user__email=invitation.email)
    assert membership.role == Role.REVIEWER
    assert celery_worker.poll() is None, "the worker must still be running"
