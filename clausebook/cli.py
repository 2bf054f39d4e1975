"""Options shared by the management commands, declared and resolved in one place.

Every command that works inside a workspace takes the same two options::

    --workspace SLUG   the workspace to act in (required)
    --as EMAIL         the member recorded as the actor in the audit trail (optional; empty:
                       the system acts)

Use them so::

    from clausebook import cli

    def add_arguments(self, parser):
        cli.add_workspace_arguments(parser)
        ...

    def handle(self, *args, **options):
        context = cli.resolve(options, role=Role.EDITOR)
        service(workspace=context.workspace, actor=context.actor, ...)

Bad values raise ``CommandError`` naming the option (``--workspace: no workspace with slug
'x'``), so every command exits non-zero with the same kind of message. Other command errors
follow the same habit: start the message with the option or the path it is about.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.management.base import CommandError, CommandParser

from clausebook.models import Membership, Role, User, Workspace


@dataclass(frozen=True)
class WorkspaceContext:
    """What ``--workspace`` and ``--as`` resolved to. ``actor`` is None when the system acts."""

    workspace: Workspace
    actor: User | None


def add_workspace_arguments(parser: CommandParser, *, actor_required: bool = False) -> None:
    """Declare ``--workspace`` and ``--as`` (stored as ``options["as_email"]``)."""
    parser.add_argument("--workspace", required=True, metavar="SLUG", help="Workspace slug.")
    parser.add_argument(
        "--as",
        dest="as_email",
        required=actor_required,
        default="",
        metavar="EMAIL",
        help="Email of the member recorded as the actor"
        + ("." if actor_required else " (default: the system)."),
    )


def resolve(options: Mapping[str, Any], *, role: Role | None = None) -> WorkspaceContext:
    """Resolve ``--workspace`` and ``--as``. When an actor is named, they must be a member of
    the workspace, with at least ``role`` if given. Raises ``CommandError`` naming the option."""
    workspace = workspace_option(options["workspace"])
    actor = actor_option(options.get("as_email", ""))
    if actor is not None:
        membership = Membership.objects.filter(workspace=workspace, user=actor).first()
        if membership is None:
            raise CommandError(
                f"--as: {actor.email} is not a member of workspace {workspace.slug!r}"
            )
        if role is not None and membership.role < role:
            raise CommandError(
                f"--as: {actor.email} is {Role(membership.role).label} in {workspace.slug!r}; "
                f"this needs {role.label} or above"
            )
    return WorkspaceContext(workspace=workspace, actor=actor)


def workspace_option(slug: str) -> Workspace:
    """The workspace named by ``--workspace``, or a CommandError that says which option is wrong."""
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        raise CommandError(f"--workspace: no workspace with slug {slug!r}")
    return workspace


def actor_option(email: str) -> User | None:
    """The active user named by ``--as`` (None when the option is empty: the system acts)."""
    if not email:
        return None
    actor = User.objects.filter(email__iexact=email).first()
    if actor is None:
        raise CommandError(f"--as: no user with email {email!r}")
    if not actor.is_active:
        raise CommandError(f"--as: {actor.email} is deactivated")
    return actor
