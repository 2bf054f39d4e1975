"""The second line of every amendment write: the actor's right in the spec's workspace, checked
by the service whatever called it (the page or API checked it first)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from clausebook import permissions
from clausebook.models import Membership, User
from specs.models import Spec


def require(actor: User | None, spec: Spec, permission: str) -> Membership:
    """The actor's membership of the spec's workspace with ``permission``, or PermissionDenied."""
    membership = (
        Membership.objects.filter(workspace_id=spec.workspace_id, user=actor).first()
        if actor is not None and actor.is_authenticated
        else None
    )
    if membership is None:
        raise PermissionDenied("Only members of the workspace may change its amendments.")
    permissions.require(membership, permission)
    return membership
