"""Writes for workspaces, memberships, invitations, users and API tokens.

Each service is keyword-only, runs in one transaction and records an audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from clausebook import audit, permissions, signals
from clausebook.models import ApiToken, Invitation, Membership, Role, User, Workspace

INVITATION_TTL = timedelta(days=14)


@transaction.atomic
def workspace_create(
    *, name: str, creator: User, slug: str = "", description: str = ""
) -> Workspace:
    """Create a workspace with ``creator`` as its admin."""
    base = slugify(slug or name)[:50] or "workspace"
    candidate, n = base, 1
    while Workspace.objects.filter(slug=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    workspace = Workspace.objects.create(slug=candidate, name=name, description=description)
    Membership.objects.create(workspace=workspace, user=creator, role=Role.ADMIN)
    audit.record(
        verb="workspace.create", actor=creator, workspace=workspace, target=workspace, summary=name
    )
    return workspace


#: How many editors' approvals an amendment may ask for at most.
MAX_APPROVALS_REQUIRED = 10


@transaction.atomic
def workspace_settings_update(
    *, workspace: Workspace, actor: User, amendment_approvals_required: int
) -> Workspace:
    """Change the workspace's settings (admins). Raises ValidationError naming the field."""
    membership = Membership.objects.filter(workspace=workspace, user=actor).first()
    if membership is None:
        raise PermissionDenied("You are not a member of this workspace.")
    permissions.require(membership, "workspace.manage")
    if not 1 <= amendment_approvals_required <= MAX_APPROVALS_REQUIRED:
        raise ValidationError(
            {
                "amendment_approvals_required": (
                    f"An amendment needs 1 to {MAX_APPROVALS_REQUIRED} approvals."
                )
            }
        )
    before = workspace.amendment_approvals_required
    if before == amendment_approvals_required:
        return workspace
    workspace.amendment_approvals_required = amendment_approvals_required
    workspace.save(update_fields=["amendment_approvals_required"])
    audit.record(
        verb="workspace.settings",
        actor=actor,
        workspace=workspace,
        target=workspace,
        summary=f"Amendments need {amendment_approvals_required} approval(s) (was {before})",
        data={"amendment_approvals_required": [before, amendment_approvals_required]},
    )
    return workspace


@transaction.atomic
def membership_set_role(*, membership: Membership, role: int, actor: User) -> Membership:
    """Change a member's role. The last admin of a workspace cannot be demoted."""
    locked = Membership.objects.select_for_update().get(pk=membership.pk)
    if locked.role == Role.ADMIN and role != Role.ADMIN:
        # Lock every admin row so two concurrent demotions cannot both see "another admin left".
        admins = list(
            Membership.objects.select_for_update().filter(
                workspace_id=locked.workspace_id, role=Role.ADMIN
            )
        )
        if len(admins) <= 1:
            raise ValidationError("A workspace needs at least one admin.")
    before = locked.role
    locked.role = Role(role)
    locked.save(update_fields=["role"])
    audit.record(
        verb="membership.role",
        actor=actor,
        workspace=locked.workspace,
        target=locked,
        summary=f"{locked.user.email}: {Role(before).label} → {Role(role).label}",
        data={"before": before, "after": int(role), "user": locked.user_id},
    )
    return locked


@transaction.atomic
def membership_remove(*, membership: Membership, actor: User) -> None:
    """Remove a member from a workspace. The last admin cannot be removed.

    People leave, evidence stays: only the membership row goes. Labels, assignments, seats and
    decisions point at the user, not the membership, and keep pointing at them; receivers of
    ``signals.member_removed`` (the reviews app) release work the member had not finished.
    """
    locked = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    if locked.role == Role.ADMIN:
        admins = Membership.objects.select_for_update().filter(
            workspace_id=locked.workspace_id, role=Role.ADMIN
        )
        if len(list(admins)) <= 1:
            raise ValidationError("A workspace needs at least one admin.")
    audit.record(
        verb="membership.remove",
        actor=actor,
        workspace=locked.workspace,
        target=locked,
        summary=locked.user.email,
        data={"user": locked.user_id, "role": locked.role},
    )
    locked.delete()
    signals.member_removed.send(
        sender=Membership, workspace=locked.workspace, user=locked.user, actor=actor
    )


def membership_ensure(
    *, workspace: Workspace, user: User, role: int, actor: User | None
) -> Membership:
    """Give ``user`` at least ``role`` in ``workspace`` (never lowers an existing role)."""
    membership, created = Membership.objects.get_or_create(
        workspace=workspace, user=user, defaults={"role": role}
    )
    if created:
        audit.record(
            verb="membership.create",
            actor=actor,
            workspace=workspace,
            target=membership,
            summary=f"{user.email} as {Role(role).label}",
        )
    elif membership.role < role:
        membership = membership_set_role(membership=membership, role=role, actor=actor or user)
    return membership


@dataclass(frozen=True)
class InvitationCreated:
    invitation: Invitation
    #: The pending invitation to the same address that this one replaced (now revoked).
    replaced: Invitation | None


@transaction.atomic
def invitation_create(
    *, workspace: Workspace, email: str, role: int, invited_by: User, link_base: str
) -> InvitationCreated:
    """Invite ``email``, replacing a pending invitation to the same address (the caller says so).

    ``link_base`` is the scheme, host and port the emailed link points to (see
    ``clausebook.links.link_base``). No token exists yet: the email task, which takes only the
    invitation's id, makes it (``invitation_send``), so no raw secret is stored or queued.
    """
    email = email.strip().lower()
    if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
        raise ValidationError(f"{email} is already a member of this workspace.")
    pending = list(
        Invitation.objects.select_for_update()
        .filter(
            workspace=workspace,
            email__iexact=email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
        )
        .order_by("-created_at")
    )
    now = timezone.now()
    if pending:
        Invitation.objects.filter(pk__in=[old.pk for old in pending]).update(revoked_at=now)
    invitation = Invitation.objects.create(
        workspace=workspace,
        email=email,
        role=role,
        link_base=link_base.rstrip("/"),
        invited_by=invited_by,
        expires_at=now + INVITATION_TTL,
    )
    replaced = pending[0] if pending else None
    audit.record(
        verb="invitation.create",
        actor=invited_by,
        workspace=workspace,
        target=invitation,
        summary=f"{email} as {Role(role).label}"
        + (f" (replaces the invitation of {replaced.created_at:%Y-%m-%d})" if replaced else ""),
        data={"replaced": replaced.pk} if replaced else {},
    )
    from clausebook.tasks import send_invitation_email

    send_invitation_email.delay_on_commit(invitation.pk)
    return InvitationCreated(invitation=invitation, replaced=replaced)


@transaction.atomic
def invitation_send(*, invitation_id: int) -> bool:
    """Make the invitation's link and email it, once; False when there is nothing to send.

    The raw token is made here, hashed into the row and written into the email, in one
    transaction: it never reaches the broker, the database or a log. A redelivered task finds
    ``sent_at`` set (or the row locked by the first delivery) and does nothing. If sending fails
    the transaction rolls back, hash included, and the retry makes a new token.
    """
    invitation = (
        Invitation.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("workspace", "invited_by")
        .filter(
            pk=invitation_id,
            sent_at__isnull=True,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
        )
        .first()
    )
    if invitation is None or not invitation.is_pending:
        return False
    raw, token_hash = Invitation.new_token()
    base = invitation.link_base or settings.SITE_URL.rstrip("/")
    link = base + reverse("invitation-accept", args=[raw])
    inviter = invitation.invited_by.email if invitation.invited_by else "A workspace admin"
    send_mail(
        subject=f"You are invited to {invitation.workspace.name} on Clausebook",
        message=(
            f"{inviter} invited you to review model behaviour in {invitation.workspace.name} "
            f"as {invitation.get_role_display().lower()}.\n\nAccept: {link}\n\n"
            f"The link works once, for {invitation.email} only, and expires on "
            f"{invitation.expires_at:%Y-%m-%d}."
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )
    invitation.token_hash = token_hash
    invitation.sent_at = timezone.now()
    invitation.save(update_fields=["token_hash", "sent_at"])
    return True


@transaction.atomic
def invitation_accept(*, invitation_id: int, user: User) -> Membership:
    """Turn a pending invitation into a membership. The invitee's email must match.

    The caller has checked that this visitor opened the emailed link (``views.invitation_link``
    remembers the invitation's id in the session, never its token).
    """
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("workspace")
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None or not invitation.is_pending:
        raise ValidationError("This invitation is invalid, expired or already used.")
    if invitation.email.lower() != user.email.lower():
        raise PermissionDenied("This invitation was sent to another email address.")
    membership = membership_ensure(
        workspace=invitation.workspace, user=user, role=invitation.role, actor=user
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit.record(
        verb="invitation.accept", actor=user, workspace=invitation.workspace, target=invitation
    )
    return membership


@transaction.atomic
def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a personal API token; the raw secret is returned once and never stored."""
    name = name.strip() or "API token"
    for _ in range(3):
        raw, token_hash = ApiToken.generate()
        try:
            with transaction.atomic():
                token = ApiToken.objects.create(
                    user=user, name=name[:80], token_hash=token_hash, hint=raw[:10]
                )
            break
        except IntegrityError:  # pragma: no cover - a 256-bit collision
            continue
    audit.record(verb="api_token.create", actor=user, workspace=None, target=token, summary=name)
    return token, raw


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: User) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(
            verb="api_token.revoke", actor=actor, workspace=None, target=token, summary=token.name
        )


@transaction.atomic
def user_create(*, email: str, password: str, actor: User | None) -> User:
    """Create an account that can sign in at once (its address counts as verified: whoever
    creates it, an operator at the command line, vouches for it). ``ValidationError`` for an
    address already taken or a password the validators refuse."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth.password_validation import validate_password

    email = User.objects.normalize_email(email.strip()).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": f"{email} already has an account."})
    candidate = User(email=email)
    validate_password(password, user=candidate)  # raises ValidationError listing every problem
    user = User.objects.create_user(email=email, password=password)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    audit.record(verb="user.create", actor=actor, workspace=None, target=user, summary=email)
    return user


@transaction.atomic
def user_deactivate(*, user: User, actor: User | None) -> User:
    """Stop ``user`` from signing in or using the API, keeping everything they did.

    This is how a person leaves Clausebook: their labels, assignments and decisions are
    evidence that agreement and gold rest on, so the account stays and only loses access.
    Sessions end by themselves (Django refuses inactive users on every request); API tokens are
    revoked so they read as such in the token list. Deactivating twice is a no-op.
    """
    locked = User.objects.select_for_update().get(pk=user.pk)
    if not locked.is_active:
        return locked
    locked.is_active = False
    locked.save(update_fields=["is_active"])
    revoked = ApiToken.objects.filter(user=locked, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    audit.record(
        verb="user.deactivate",
        actor=actor,
        workspace=None,
        target=locked,
        summary=locked.email,
        data={"tokens_revoked": revoked},
    )
    signals.user_deactivated.send(sender=User, user=locked, actor=actor)
    return locked


@transaction.atomic
def user_delete(*, user: User, actor: User | None) -> None:
    """Delete an account that holds no evidence; refuse, saying why, when it does.

    Labels, assignments, seats and decisions reference their user with PROTECT, so a user who
    did any review work cannot be deleted: that raises ``ValidationError`` (deactivate them
    instead), never a database error.
    """
    email = user.email
    try:
        # A savepoint, so the refused DELETE leaves the outer transaction usable.
        with transaction.atomic():
            User.objects.filter(pk=user.pk).delete()
    except ProtectedError as error:
        raise ValidationError(protected_message(email, error)) from error
    audit.record(
        verb="user.delete", actor=actor, workspace=None, summary=email, data={"user": user.pk}
    )


def protected_message(email: str, error: ProtectedError) -> str:
    """Why a user cannot be deleted, naming what still refers to them."""
    kinds = sorted({str(obj._meta.verbose_name_plural) for obj in error.protected_objects})
    return (
        f"{email} cannot be deleted: their {', '.join(kinds)} are kept as evidence. "
        "Deactivate the account instead."
    )
