"""Add a person to a workspace with a role (or change their role), from a script.

``python manage.py add_member --workspace SLUG EMAIL --role ROLE [--as EMAIL] [--create-user
[--password-file PATH]] [--json]``

Running it again with the same role changes nothing, so a setup script can run it every time.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from clausebook import cli, permissions, services
from clausebook.models import Membership, Role, User

ROLES = [role.name.lower() for role in Role]


class Command(BaseCommand):
    help = (
        "Make EMAIL a member of --workspace with --role (creating the account only with "
        "--create-user). An existing member gets the role given; the last admin cannot be "
        "demoted. --json for scripts."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_workspace_arguments(parser)
        parser.add_argument("email", help="The person's email address.")
        parser.add_argument("--role", required=True, choices=ROLES, help="Their role.")
        cli.add_new_user_arguments(parser)
        parser.add_argument("--json", action="store_true", help="Print a JSON summary.")

    def handle(self, *args: Any, **options: Any) -> None:
        context = cli.resolve(options, role=permissions.role_for("members.manage"))
        role = Role[options["role"].upper()]
        email = options["email"].strip()
        user = User.objects.filter(email__iexact=email).first()
        if user is None and not options["create_user"]:
            raise CommandError(
                f"email: no account with email {email!r} (pass --create-user to create one)"
            )
        if user is not None and not user.is_active:
            raise CommandError(f"email: {user.email} is deactivated")
        password = (
            cli.read_password(options, options.get("stdin") or sys.stdin) if user is None else ""
        )
        created_user = False
        with transaction.atomic():
            if user is None:
                try:
                    user = services.user_create(email=email, password=password, actor=context.actor)
                except ValidationError as error:
                    raise CommandError(f"--create-user: {' '.join(error.messages)}") from error
                created_user = True
            membership = Membership.objects.filter(workspace=context.workspace, user=user).first()
            if membership is None:
                membership = services.membership_ensure(
                    workspace=context.workspace, user=user, role=role, actor=context.actor
                )
                result = "added"
            elif membership.role != role:
                try:
                    # Without --as the system acts, and the audit trail says so.
                    membership = services.membership_set_role(
                        membership=membership,
                        role=role,
                        actor=context.actor,  # type: ignore[arg-type]
                    )
                except ValidationError as error:
                    raise CommandError(f"--role: {' '.join(error.messages)}") from error
                result = "updated"
            else:
                result = "unchanged"
        summary = {
            "workspace": context.workspace.slug,
            "user": {"id": user.pk, "email": user.email, "created": created_user},
            "membership": membership.pk,
            "role": options["role"],
            "result": result,
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            verb = {"added": "is now", "updated": "is now", "unchanged": "already is"}[result]
            self.stdout.write(
                f"{user.email} {verb} {role.label.lower()} in {context.workspace.slug!r}"
                + (" (new account)." if created_user else ".")
            )
