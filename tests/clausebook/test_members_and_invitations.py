"""Admins change roles, remove members and invite people; a workspace always keeps an admin."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from clausebook import services
from clausebook.models import AuditEvent, Invitation, Membership, Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _membership(personas, user):
    return Membership.objects.get(workspace=personas.workspace, user=user)


def test_an_admin_changes_a_members_role_and_it_is_audited(personas):
    client = personas.client_for(personas.owner)
    target = _membership(personas, personas.reviewer)
    response = client.post(
        reverse("workspace-member-role", args=["policy-team", target.pk]), {"role": Role.EDITOR}
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.role == Role.EDITOR
    event = AuditEvent.objects.get(verb="membership.role", target_id=str(target.pk))
    assert event.actor == personas.owner
    assert event.data == {
        "before": Role.REVIEWER,
        "after": Role.EDITOR,
        "user": personas.reviewer.pk,
    }


def test_an_admin_removes_a_member(personas):
    client = personas.client_for(personas.owner)
    target = _membership(personas, personas.viewer)
    client.post(reverse("workspace-member-remove", args=["policy-team", target.pk]))
    assert not Membership.objects.filter(pk=target.pk).exists()
    assert AuditEvent.objects.filter(verb="membership.remove", target_id=str(target.pk)).exists()


def test_the_last_admin_can_neither_be_demoted_nor_removed(personas):
    client = personas.client_for(personas.owner)
    own = _membership(personas, personas.owner)
    response = client.post(
        reverse("workspace-member-role", args=["policy-team", own.pk]),
        {"role": Role.VIEWER},
        follow=True,
    )
    assert "at least one admin" in response.content.decode()
    client.post(reverse("workspace-member-remove", args=["policy-team", own.pk]))
    own.refresh_from_db()
    assert own.role == Role.ADMIN


def test_an_admin_may_step_down_once_another_admin_exists(personas):
    editor = _membership(personas, personas.editor)
    services.membership_set_role(membership=editor, role=Role.ADMIN, actor=personas.owner)
    own = _membership(personas, personas.owner)
    services.membership_set_role(membership=own, role=Role.EDITOR, actor=personas.owner)
    own.refresh_from_db()
    assert own.role == Role.EDITOR
    with pytest.raises(ValidationError):
        services.membership_remove(membership=editor, actor=personas.editor)


def test_an_admin_cannot_touch_a_membership_of_another_workspace(personas):
    client = personas.client_for(personas.owner)
    foreign = Membership.objects.get(workspace=personas.other_workspace)
    response = client.post(
        reverse("workspace-member-role", args=["policy-team", foreign.pk]), {"role": Role.VIEWER}
    )
    assert response.status_code == 404
    assert (
        client.post(
            reverse("workspace-member-remove", args=["policy-team", foreign.pk])
        ).status_code
        == 404
    )
    foreign.refresh_from_db()
    assert foreign.role == Role.ADMIN


def test_an_editor_cannot_change_roles(personas):
    client = personas.client_for(personas.editor)
    target = _membership(personas, personas.viewer)
    response = client.post(
        reverse("workspace-member-role", args=["policy-team", target.pk]), {"role": Role.ADMIN}
    )
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.role == Role.VIEWER


def test_an_admin_invites_by_email_from_the_members_page(
    personas, django_capture_on_commit_callbacks
):
    client = personas.client_for(personas.owner)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("workspace-members", args=["policy-team"]),
            {"email": "New.Person@Example.test", "role": Role.ADJUDICATOR},
        )
    assert response.status_code == 302
    invitation = Invitation.objects.get(workspace=personas.workspace)
    assert invitation.email == "new.person@example.test"
    assert invitation.role == Role.ADJUDICATOR
    assert invitation.is_pending
    assert len(callbacks) == 1, "the email task is enqueued on commit"
    page = client.get(reverse("workspace-members", args=["policy-team"]))
    assert b"new.person@example.test" in page.content


def test_inviting_an_existing_member_is_refused_with_a_message(personas):
    client = personas.client_for(personas.owner)
    response = client.post(
        reverse("workspace-members", args=["policy-team"]),
        {"email": "viewer@policy.test", "role": Role.REVIEWER},
    )
    assert response.status_code == 200
    assert "already a member" in response.content.decode()
    assert not Invitation.objects.exists()


def test_resending_an_invitation_replaces_the_pending_one(personas):
    first, first_raw = services.invitation_create(
        workspace=personas.workspace,
        email="a@x.test",
        role=Role.REVIEWER,
        invited_by=personas.owner,
    )
    second, _ = services.invitation_create(
        workspace=personas.workspace, email="A@x.test", role=Role.EDITOR, invited_by=personas.owner
    )
    first.refresh_from_db()
    assert first.revoked_at is not None
    assert second.is_pending
    with pytest.raises(ValidationError):
        services.invitation_accept(raw_token=first_raw, user=UserFactory(email="a@x.test"))


def test_accepting_with_the_invited_email_creates_the_membership(personas):
    invitee = UserFactory(email="invitee@example.test")
    _, raw = services.invitation_create(
        workspace=personas.workspace,
        email="Invitee@example.test",
        role=Role.ADJUDICATOR,
        invited_by=personas.owner,
    )
    client = personas.client_for(invitee)
    assert client.get(reverse("invitation-accept", args=[raw])).status_code == 200
    response = client.post(reverse("invitation-accept", args=[raw]))
    assert response["Location"] == reverse("workspace-dashboard", args=["policy-team"])
    assert (
        Membership.objects.get(workspace=personas.workspace, user=invitee).role == Role.ADJUDICATOR
    )
    assert AuditEvent.objects.filter(verb="invitation.accept", actor=invitee).exists()


def test_accepting_with_another_email_is_forbidden(personas):
    _, raw = services.invitation_create(
        workspace=personas.workspace,
        email="someone@example.test",
        role=Role.ADMIN,
        invited_by=personas.owner,
    )
    with pytest.raises(PermissionDenied):
        services.invitation_accept(raw_token=raw, user=personas.outsider)
    client = personas.client_for(personas.outsider)
    response = client.post(reverse("invitation-accept", args=[raw]), follow=True)
    assert "another email address" in response.content.decode()
    assert not Membership.objects.filter(
        workspace=personas.workspace, user=personas.outsider
    ).exists()


def test_an_invitation_works_only_once(personas):
    invitee = UserFactory(email="once@example.test")
    _, raw = services.invitation_create(
        workspace=personas.workspace,
        email="once@example.test",
        role=Role.REVIEWER,
        invited_by=personas.owner,
    )
    services.invitation_accept(raw_token=raw, user=invitee)
    with pytest.raises(ValidationError, match="invalid, expired or already used"):
        services.invitation_accept(raw_token=raw, user=invitee)


def test_an_expired_or_unknown_invitation_is_invalid(personas):
    invitee = UserFactory(email="late@example.test")
    invitation, raw = services.invitation_create(
        workspace=personas.workspace,
        email="late@example.test",
        role=Role.REVIEWER,
        invited_by=personas.owner,
    )
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(ValidationError):
        services.invitation_accept(raw_token=raw, user=invitee)
    with pytest.raises(ValidationError):
        services.invitation_accept(raw_token="not-a-token", user=invitee)
    client = personas.client_for(invitee)
    response = client.post(reverse("invitation-accept", args=[raw]), follow=True)
    assert "invalid, expired or already used" in response.content.decode()


def test_accepting_never_lowers_an_existing_role(personas):
    _, raw = services.invitation_create(
        workspace=personas.other_workspace,
        email="editor@policy.test",
        role=Role.VIEWER,
        invited_by=personas.outsider,
    )
    services.invitation_accept(raw_token=raw, user=personas.editor)
    assert _membership(personas, personas.editor).role == Role.EDITOR


def test_the_invitation_token_is_stored_only_as_a_hash(personas):
    invitation, raw = services.invitation_create(
        workspace=personas.workspace,
        email="hash@example.test",
        role=Role.REVIEWER,
        invited_by=personas.owner,
    )
    assert raw not in invitation.token_hash
    assert invitation.token_hash == Invitation.hash_token(raw)


def test_an_anonymous_visitor_with_an_invitation_is_offered_sign_in_or_sign_up(personas, client):
    _, raw = services.invitation_create(
        workspace=personas.workspace,
        email="anon@example.test",
        role=Role.REVIEWER,
        invited_by=personas.owner,
    )
    response = client.get(reverse("invitation-accept", args=[raw]))
    assert response.status_code == 200
    assert reverse("account_signup").encode() in response.content
    assert client.session["invitation_token"] == raw
