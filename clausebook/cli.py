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
from pathlib import Path
from typing import Any, TextIO

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


def add_new_user_arguments(parser: CommandParser) -> None:
    """Declare ``--create-user`` and ``--password-file``. A password is never an argument
    (argv shows in ``ps`` and shell history): it comes from that file, or from stdin."""
    parser.add_argument(
        "--create-user",
        action="store_true",
        help="Create the account if no user has this email. Its password is read from "
        "--password-file, else from stdin (one line).",
    )
    parser.add_argument(
        "--password-file",
        metavar="PATH",
        default="",
        help="File whose first line is the new account's password (with --create-user).",
    )


def read_password(options: Mapping[str, Any], stdin: TextIO) -> str:
    """The new account's password from ``--password-file`` or ``stdin``; ``CommandError`` when
    there is none."""
    if options.get("password_file"):
        path = Path(options["password_file"])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise CommandError(f"--password-file: {path}: {error.strerror}") from error
        source = f"--password-file: {path}"
    else:
        if stdin.isatty():
            import getpass

            text = getpass.getpass("Password for the new account: ")
        else:
            text = stdin.readline()
        source = "stdin"
    password = text.splitlines()[0] if text.strip() else ""
    if not password:
        raise CommandError(f"{source}: no password given for the new account")
    return password
