"""The audit trail: services write one event per change, and the database refuses to rewrite it."""

import pytest
from django.db import IntegrityError, connection, transaction

from clausebook import audit, services
from clausebook.models import AuditEvent, Membership, Role

pytestmark = pytest.mark.django_db


def test_services_record_who_did_what(personas):
    workspace = services.workspace_create(name="Audit me", creator=personas.editor)
    token, _ = services.api_token_create(user=personas.editor, name="ci")
    services.api_token_revoke(token=token, actor=personas.editor)
    services.api_token_revoke(token=token, actor=personas.editor)  # idempotent: no 2nd event
    verbs = list(
        AuditEvent.objects.filter(actor=personas.editor)
        .order_by("id")
        .values_list("verb", flat=True)
    )
    assert verbs == ["workspace.create", "api_token.create", "api_token.revoke"]
    created = AuditEvent.objects.get(verb="workspace.create")
    assert created.workspace_id == workspace.pk
    assert created.target_type == "clausebook.workspace" and created.target_id == str(workspace.pk)


def test_an_event_carries_the_request_id_of_the_request_that_caused_it(personas):
    client = personas.client_for(personas.owner)
    target = Membership.objects.get(workspace=personas.workspace, user=personas.viewer)
    client.post(f"/w/policy-team/members/{target.pk}/role/", {"role": Role.REVIEWER})
    event = AuditEvent.objects.get(verb="membership.role")
    assert len(event.request_id) == 36


def test_a_failed_service_leaves_no_event(personas):
    own = Membership.objects.get(workspace=personas.workspace, user=personas.owner)
    with pytest.raises(Exception, match="at least one admin"):
        services.membership_set_role(membership=own, role=Role.VIEWER, actor=personas.owner)
    assert not AuditEvent.objects.filter(verb="membership.role").exists()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE clausebook_auditevent SET summary = 'rewritten'",
        "DELETE FROM clausebook_auditevent",
    ],
    ids=["update", "delete"],
)
def test_t31_the_database_refuses_to_rewrite_history(personas, statement):
    event = audit.record(verb="test.event", actor=personas.owner, workspace=personas.workspace)
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    event.refresh_from_db()
    assert event.summary == ""


def test_t31_orm_updates_and_deletes_are_refused_too(personas):
    event = audit.record(verb="test.event", actor=personas.owner, workspace=personas.workspace)
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(verb="forged")
    with pytest.raises(IntegrityError), transaction.atomic():
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk, verb="test.event").exists()
