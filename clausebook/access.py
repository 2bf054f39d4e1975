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
from django.db import connections, router
from django.http import Http404, HttpRequest, HttpResponse

from clausebook import permissions
from clausebook.models import Membership, Role, User, Workspace


@cache
def _membership_lookup(
    alias: str,
) -> tuple[str, list[str], list[str], list[tuple[int, list[Any], Any]]]:
    """What ``Membership.objects.select_related("workspace").filter(user=..., workspace__slug=...)``
    selects, written once per process: every API request and page resolves its membership, and
    building that queryset each time cost more CPU than running it. The statement reads the row
    as it is now, so a removed member or a changed role counts at once (no cache)."""
    connection = connections[alias]
    qn = connection.ops.quote_name
    member, workspace = Membership._meta, Workspace._meta
    fields = [*member.concrete_fields, *workspace.concrete_fields]
    columns = [f"m.{qn(f.column)}" for f in member.concrete_fields]
    columns += [f"w.{qn(f.column)}" for f in workspace.concrete_fields]
    sql = (
        f"SELECT {', '.join(columns)} FROM {qn(member.db_table)} m "  # noqa: S608 - model names
        f"JOIN {qn(workspace.db_table)} w ON w.{qn(workspace.pk.column)} = "
        f"m.{qn(member.get_field('workspace').column)} "
        f"WHERE m.{qn(member.get_field('user').column)} = %s "
        f"AND w.{qn(workspace.get_field('slug').column)} = %s"
    )
    converters = []  # (column index, its converters, field): what the ORM converts on reading
    for index, field in enumerate(fields):
        found = connection.ops.get_db_converters(field) + field.get_db_converters(connection)
        if found:
            converters.append((index, found, field))
    return (
        sql,
        [f.attname for f in member.concrete_fields],
        [f.attname for f in workspace.concrete_fields],
        converters,
    )


def get_membership(user: User, workspace_slug: str) -> Membership:
    """The user's membership of the workspace (its ``workspace`` loaded), or 404."""
    if not user.is_authenticated:
        raise Http404("No such workspace")
    alias = router.db_for_read(Membership)
    sql, member_fields, workspace_fields, converters = _membership_lookup(alias)
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, workspace_slug])
        row = cursor.fetchone()  # (user, workspace) is unique: at most one row
    if row is None:
        raise Http404("No such workspace")
    values = list(row)
    for index, found, field in converters:
        for converter in found:
            values[index] = converter(values[index], field, connection)
    split = len(member_fields)
    membership = Membership.from_db(alias, member_fields, values[:split])
    membership.workspace = Workspace.from_db(alias, workspace_fields, values[split:])
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
