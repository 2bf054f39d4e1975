"""Composed reads for workspaces and members."""

from __future__ import annotations

from django.db.models import QuerySet

from clausebook.models import ApiToken, AuditEvent, Invitation, Membership, User, Workspace


def members_of(workspace: Workspace) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(workspace=workspace)
        .select_related("user")
        .order_by("-role", "user__email")
    )


def pending_invitations(workspace: Workspace) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        workspace=workspace, accepted_at__isnull=True, revoked_at__isnull=True
    ).order_by("-created_at")


def api_tokens_of(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("revoked_at", "-created_at")


def recent_activity(workspace: Workspace, limit: int = 15) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(workspace=workspace)
        .select_related("actor")
        .order_by("-created_at")[:limit]
    )


def invitation_by_id(invitation_id: int) -> Invitation | None:
    return (
        Invitation.objects.select_related("workspace", "invited_by")
        .filter(pk=invitation_id)
        .first()
    )


def invitation_by_token(raw_token: str) -> Invitation | None:
    """The invitation an emailed link names (only the token's hash is stored)."""
    return (
        Invitation.objects.select_related("workspace")
        .filter(token_hash=Invitation.hash_token(raw_token))
        .first()
    )
