"""Helpers shared by the management commands: resolve command-line options into objects."""

from __future__ import annotations

from django.core.management.base import CommandError

from clausebook.models import User, Workspace


def workspace_option(slug: str) -> Workspace:
    """The workspace named by ``--workspace``, or a CommandError that says which option is wrong."""
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        raise CommandError(f"--workspace: no workspace with slug {slug!r}")
    return workspace


def actor_option(email: str) -> User | None:
    """The user named by ``--as`` (None when the option is empty: the command acts as the system)."""
    if not email:
        return None
    actor = User.objects.filter(email__iexact=email).first()
    if actor is None:
        raise CommandError(f"--as: no user with email {email!r}")
    return actor
