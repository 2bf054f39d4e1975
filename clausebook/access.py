"""The one place that resolves who is asking, in which workspace.

Every HTML view and API endpoint resolves its workspace through these helpers:
a user who is not a member gets 404 (the workspace might as well not exist),
a member without the right gets 403. Which role has which right is
``clausebook.permissions``; name a right (``permission="transcripts.import"``) rather than a
role where the map has one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from clausebook import permissions
from clausebook.joined_reads import JoinedReader, model_columns, table
from clausebook.models import Membership, Role, User, Workspace


@cache
def _membership_reader() -> JoinedReader:
    """What ``Membership.objects.select_related("workspace").filter(user=..., workspace__slug=...)``
    selects: every API request and page resolves its membership (see ``joined_reads``)."""
    member, workspace = model_columns(Membership, "m"), model_columns(Workspace, "w")
    sql = (
        f"SELECT {member.select}, {workspace.select} FROM {table(Membership)} m "  # noqa: S608 - model names
        f"JOIN {table(Workspace)} w ON w.id = m.workspace_id "
        "WHERE m.user_id = %s AND w.slug = %s"
    )
    return JoinedReader(sql, (member, workspace))


def get_membership(user: User, workspace_slug: str) -> Membership:
    """The user's membership of the workspace (its ``workspace`` loaded), or 404."""
    if not user.is_authenticated:
        raise Http404("No such workspace")
    found = _membership_reader().one([user.pk, workspace_slug])  # (user, workspace) is unique
    if found is None:
        raise Http404("No such workspace")
    membership, workspace = found
    membership.workspace = workspace
    return membership


def require_role(membership: Membership, role: int) -> None:
    """Raise PermissionDenied (403) unless the membership has at least ``role``."""
    if membership.role < role:
        raise PermissionDenied(f"This needs the {Role(role).label.lower()} role or higher.")


def workspace_member(
    role: int = Role.VIEWER,
    *,
    permission: str | None = None,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Decorator for HTML views under ``/w/<workspace>/``.

    Resolves the ``workspace`` URL argument into ``request.workspace`` and
    ``request.membership`` and enforces ``permission`` (a name from
    ``clausebook.permissions``) or, for views not yet moved to the map, ``role``. The wrapped
    view receives the remaining URL arguments unchanged.
    """
    if permission is not None:
        permissions.right(permission)  # a typo fails at import time, not on the first request

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapper(
            request: HttpRequest, workspace: str, *args: Any, **kwargs: Any
        ) -> HttpResponse:
            membership = get_membership(request.user, workspace)  # type: ignore[arg-type]
            if permission is not None:
                permissions.require(membership, permission)
            else:
                require_role(membership, role)
            request.workspace = membership.workspace  # type: ignore[attr-defined]
            request.membership = membership  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def workspaces_for(user: User) -> list[Workspace]:
    if not user.is_authenticated:
        return []
    return list(Workspace.objects.for_user(user))


class WorkspaceAPIMixin:
    """For DRF views under ``/api/v1/workspaces/<workspace>/``.

    ``read_permission`` (else ``read_role``) guards safe methods and ``write_permission``
    (else ``write_role``) the rest; subclasses build every queryset from ``self.workspace`` so
    no lookup escapes the tenant.
    """

    read_role: int = Role.VIEWER
    write_role: int = Role.EDITOR
    read_permission: str | None = None
    write_permission: str | None = None

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]  # authenticates first
        slug = kwargs.get("workspace", "")
        membership = get_membership(request.user, slug)
        safe = request.method in {"GET", "HEAD", "OPTIONS"}
        permission = self.read_permission if safe else self.write_permission
        if permission is not None:
            permissions.require(membership, permission)
        else:
            require_role(membership, self.read_role if safe else self.write_role)
        self.membership = membership
        self.workspace = membership.workspace
        request.workspace = membership.workspace
        request.membership = membership
