"""A real Celery worker process runs a task that writes to the database."""

import pytest
from django.core import mail  # noqa: F401 - the worker sends through its own backend

from clausebook import services
from clausebook.models import Invitation
from tests.conftest import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_sends_the_invitation_and_marks_it_sent(celery_worker, personas):
    invitation, _raw = services.invitation_create(
        workspace=personas.workspace,
        email="new.reviewer@policy.test",
        role=20,
        invited_by=personas.owner,
    )
    sent = wait_for(
        lambda: Invitation.objects.filter(pk=invitation.pk, sent_at__isnull=False).first()
    )
    assert sent.sent_at is not None
    assert celery_worker.poll() is None, "the worker must still be running"
