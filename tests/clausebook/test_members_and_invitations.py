"""Admins change roles, remove members and invite people; a workspace always keeps an admin."""

import inspect
import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from celery.signals import before_task_publish
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from clausebook import invitation_session, services, tasks
from clausebook.celery import app
from clausebook.models import AuditEvent, Invitation, Membership, Role
from tests.factories import UserFactory, send_invitation

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


def test_removing_a_member_asks_for_confirmation_first(personas):
    """On 0a5a311 one click on Remove removed the member, with no question asked."""
    client = personas.client_for(personas.owner)
    target = _membership(personas, personas.viewer)
    url = reverse("workspace-member-remove", args=["policy-team", target.pk])
    members_page = client.get(reverse("workspace-members", args=["policy-team"])).content.decode()
    assert f'href="{url}"' in members_page, "Remove leads to the question, it does not remove"

    question = client.get(url)
    assert question.status_code == 200
    page = question.content.decode()
    assert "Remove" in page and "viewer@policy.test" in page
    assert "submitted labels, decisions and comments stay" in page

    unconfirmed = client.post(url)
    assert unconfirmed.status_code == 200
    assert "Tick the box to confirm the removal." in unconfirmed.content.decode()
    assert Membership.objects.filter(pk=target.pk).exists()

    removed = client.post(url, {"confirm": "on"}, follow=True)
    assert "viewer@policy.test was removed from the workspace." in removed.content.decode()
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
    client.post(reverse("workspace-member-remove", args=["policy-team", own.pk]), {"confirm": "on"})
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
    remove = reverse("workspace-member-remove", args=["policy-team", foreign.pk])
    assert client.get(remove).status_code == 404
    assert client.post(remove, {"confirm": "on"}).status_code == 404
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
    assert invitation.token_hash is None, "the email task makes the token"
    assert len(callbacks) == 1, "the email task is enqueued on commit"
    page = client.get(reverse("workspace-members", args=["policy-team"]))
    assert b"new.person@example.test" in page.content


def test_the_email_task_is_queued_with_the_invitation_id_only(
    personas, django_capture_on_commit_callbacks
):
    """On 0a5a311 the raw token travelled through the broker as the task's second argument.

    The message is read as Celery hands it to the broker (``before_task_publish``), so the check
    holds for the filesystem broker and Redis alike."""
    published = []

    def capture(sender=None, body=None, headers=None, **_):  # type: ignore[no-untyped-def]
        if sender == "clausebook.send_invitation_email":
            published.append((body, headers))

    before_task_publish.connect(capture, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            personas.client_for(personas.owner).post(
                reverse("workspace-members", args=["policy-team"]),
                {"email": "queued@example.test", "role": Role.REVIEWER},
            )
    finally:
        before_task_publish.disconnect(capture)
        app.control.purge()  # no worker runs here; leave the queue as it was
    invitation = Invitation.objects.get(email="queued@example.test")
    [(body, headers)] = published
    args, kwargs, _embed = body
    assert list(args) == [invitation.pk] and kwargs == {}
    assert headers["argsrepr"] == f"({invitation.pk},)"
    assert list(inspect.signature(tasks.send_invitation_email.run).parameters) == ["invitation_id"]


def test_the_emailed_link_names_the_host_and_port_the_admin_used(personas):
    """On 0a5a311 every link pointed at port 8000, whatever port the server ran on."""
    client = personas.client_for(personas.owner)
    client.post(
        reverse("workspace-members", args=["policy-team"]),
        {"email": "port@example.test", "role": Role.REVIEWER},
        HTTP_HOST="127.0.0.1:8123",
    )
    invitation = Invitation.objects.get(email="port@example.test")
    assert invitation.link_base == "http://127.0.0.1:8123"
    services.invitation_send(invitation_id=invitation.pk)
    [link] = re.findall(r"Accept: (\S+)", mail.outbox[-1].body)
    assert link.startswith("http://127.0.0.1:8123/invitations/")


def test_an_explicit_site_url_wins_over_the_request(personas, settings):
    settings.SITE_URL = "https://clausebook.example.com/"
    personas.client_for(personas.owner).post(
        reverse("workspace-members", args=["policy-team"]),
        {"email": "site@example.test", "role": Role.REVIEWER},
        HTTP_HOST="127.0.0.1:8123",
    )
    invitation = Invitation.objects.get(email="site@example.test")
    services.invitation_send(invitation_id=invitation.pk)
    [link] = re.findall(r"Accept: (\S+)", mail.outbox[-1].body)
    assert link.startswith("https://clausebook.example.com/invitations/")


def test_inviting_an_existing_member_is_refused_with_a_message(personas):
    client = personas.client_for(personas.owner)
    response = client.post(
        reverse("workspace-members", args=["policy-team"]),
        {"email": "viewer@policy.test", "role": Role.REVIEWER},
    )
    assert response.status_code == 200
    assert "already a member" in response.content.decode()
    assert not Invitation.objects.exists()


def test_inviting_an_address_again_says_it_replaced_the_earlier_invitation(personas):
    """On 0a5a311 the earlier invitation was replaced without a word."""
    first, first_link = send_invitation(
        personas.workspace, email="a@x.test", role=Role.REVIEWER, invited_by=personas.owner
    )
    client = personas.client_for(personas.owner)
    response = client.post(
        reverse("workspace-members", args=["policy-team"]),
        {"email": "A@x.test", "role": Role.EDITOR},
        follow=True,
    )
    sent_on = date_format(first.sent_at, "DATE_FORMAT")
    assert (
        f"Invitation sent to a@x.test. It replaced the earlier invitation sent on {sent_on} "
        "(as reviewer), whose link no longer works."
    ) in response.content.decode()
    first.refresh_from_db()
    assert first.revoked_at is not None
    second = Invitation.objects.get(email="a@x.test", revoked_at__isnull=True)
    assert second.role == Role.EDITOR and second.is_pending
    invitee = personas.client_for(UserFactory(email="a@x.test"))
    assert invitee.get(first_link).status_code == 404


def test_a_first_invitation_says_nothing_about_replacing(personas):
    response = personas.client_for(personas.owner).post(
        reverse("workspace-members", args=["policy-team"]),
        {"email": "first@x.test", "role": Role.EDITOR},
        follow=True,
    )
    page = response.content.decode()
    assert "Invitation sent to first@x.test." in page and "replaced" not in page


def test_the_accept_page_names_the_workspace_and_the_role(personas):
    """On 0a5a311 the accept page named neither."""
    invitee = UserFactory(email="invitee@example.test")
    invitation, link = send_invitation(
        personas.workspace,
        email="Invitee@example.test",
        role=Role.ADJUDICATOR,
        invited_by=personas.owner,
    )
    client = personas.client_for(invitee)
    opened = client.get(link)
    detail = reverse("invitation-detail", args=[invitation.pk])
    assert opened["Location"] == detail, "the token leaves the address bar at once"
    page = client.get(detail)
    assert page.status_code == 200
    assert (
        "owner@policy.test invited <strong>invitee@example.test</strong> to "
        "<strong>Policy Team</strong> as <strong>adjudicator</strong>."
    ) in page.content.decode()
    response = client.post(detail)
    assert response["Location"] == reverse("workspace-dashboard", args=["policy-team"])
    assert (
        Membership.objects.get(workspace=personas.workspace, user=invitee).role == Role.ADJUDICATOR
    )
    assert AuditEvent.objects.filter(verb="invitation.accept", actor=invitee).exists()
    assert invitation_session.SESSION_KEY not in client.session


def test_accepting_with_another_email_is_forbidden(personas):
    invitation, link = send_invitation(
        personas.workspace,
        email="someone@example.test",
        role=Role.ADMIN,
        invited_by=personas.owner,
    )
    with pytest.raises(PermissionDenied):
        services.invitation_accept(invitation_id=invitation.pk, user=personas.outsider)
    client = personas.client_for(personas.outsider)
    page = client.get(link, follow=True).content.decode()
    assert "the invitation only works for <strong>someone@example.test</strong>" in page
    response = client.post(reverse("invitation-detail", args=[invitation.pk]), follow=True)
    assert "another email address" in response.content.decode()
    assert not Membership.objects.filter(
        workspace=personas.workspace, user=personas.outsider
    ).exists()


def test_the_invitation_page_answers_only_the_browser_that_opened_the_link(personas):
    invitee = UserFactory(email="guessed@example.test")
    invitation, _link = send_invitation(
        personas.workspace, email="guessed@example.test", role=Role.ADMIN, invited_by=personas.owner
    )
    client = personas.client_for(invitee)  # never opened the link: guesses the id
    detail = reverse("invitation-detail", args=[invitation.pk])
    assert client.get(detail).status_code == 404
    assert client.post(detail).status_code == 404
    assert not Membership.objects.filter(workspace=personas.workspace, user=invitee).exists()


def test_an_invitation_works_only_once(personas):
    invitee = UserFactory(email="once@example.test")
    invitation, link = send_invitation(
        personas.workspace, email="once@example.test", role=Role.REVIEWER, invited_by=personas.owner
    )
    services.invitation_accept(invitation_id=invitation.pk, user=invitee)
    with pytest.raises(ValidationError, match="invalid, expired or already used"):
        services.invitation_accept(invitation_id=invitation.pk, user=invitee)
    response = personas.client_for(invitee).get(link)
    assert response.status_code == 404
    assert "invalid, expired or already used" in response.content.decode()


def test_an_expired_or_unknown_invitation_is_invalid(personas):
    invitee = UserFactory(email="late@example.test")
    invitation, link = send_invitation(
        personas.workspace, email="late@example.test", role=Role.REVIEWER, invited_by=personas.owner
    )
    client = personas.client_for(invitee)
    client.get(link)  # opened in time
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(ValidationError):
        services.invitation_accept(invitation_id=invitation.pk, user=invitee)
    response = client.get(reverse("invitation-detail", args=[invitation.pk]))
    assert response.status_code == 404
    assert "invalid, expired or already used" in response.content.decode()
    unknown = client.get(reverse("invitation-accept", args=["not-a-token"]))
    assert unknown.status_code == 404
    assert "invalid, expired or already used" in unknown.content.decode()


def test_a_revoked_invitation_is_not_emailed(personas):
    created = services.invitation_create(
        workspace=personas.workspace,
        email="late-mail@example.test",
        role=Role.REVIEWER,
        invited_by=personas.owner,
        link_base="http://testserver",
    )
    Invitation.objects.filter(pk=created.invitation.pk).update(revoked_at=timezone.now())
    assert services.invitation_send(invitation_id=created.invitation.pk) is False
    assert not mail.outbox


def test_a_redelivered_email_task_sends_nothing_twice(personas):
    invitation, _link = send_invitation(
        personas.workspace,
        email="twice@example.test",
        role=Role.REVIEWER,
        invited_by=personas.owner,
    )
    token_hash = invitation.token_hash
    assert services.invitation_send(invitation_id=invitation.pk) is False
    invitation.refresh_from_db()
    assert invitation.token_hash == token_hash and len(mail.outbox) == 1


def test_accepting_never_lowers_an_existing_role(personas):
    invitation, _link = send_invitation(
        personas.other_workspace,
        email="editor@policy.test",
        role=Role.VIEWER,
        invited_by=personas.outsider,
    )
    services.invitation_accept(invitation_id=invitation.pk, user=personas.editor)
    assert _membership(personas, personas.editor).role == Role.EDITOR


def _session_contents() -> str:
    return "\n".join(repr(session.get_decoded()) for session in Session.objects.all())


def test_the_invitation_token_is_stored_only_as_a_hash_and_never_in_a_session(personas, client):
    """On 0a5a311 an anonymous visitor's session kept the raw token."""
    invitation, link = send_invitation(
        personas.workspace, email="hash@example.test", role=Role.REVIEWER, invited_by=personas.owner
    )
    raw = link.removeprefix("/invitations/").strip("/")
    assert invitation.token_hash == Invitation.hash_token(raw)
    row = repr(list(Invitation.objects.filter(pk=invitation.pk).values()))
    assert raw not in row
    client.get(link)
    assert client.session[invitation_session.SESSION_KEY] == invitation.pk
    assert Session.objects.exists()
    assert raw not in _session_contents()


def test_an_anonymous_visitor_with_an_invitation_is_offered_sign_in_or_sign_up(personas, client):
    invitation, link = send_invitation(
        personas.workspace, email="anon@example.test", role=Role.REVIEWER, invited_by=personas.owner
    )
    response = client.get(link, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "to <strong>Policy Team</strong> as <strong>reviewer</strong>" in page
    detail = reverse("invitation-detail", args=[invitation.pk])
    assert f"{reverse('account_signup')}?next={quote(detail)}" in page
    assert link not in page, "no link carries the token on"
