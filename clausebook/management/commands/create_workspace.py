"""Create a workspace with its first admin, from a script.

``python manage.py create_workspace SLUG --name NAME --owner EMAIL [--create-user
[--password-file PATH]] [--description TEXT] [--json]``
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_slug
from django.db import transaction

from clausebook import cli, services
from clausebook.models import User, Workspace


class Command(BaseCommand):
    help = (
        "Create a workspace whose admin is --owner (an existing account, or a new one with "
        "--create-user). Prints what it made; --json for scripts."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The workspace's URL name, e.g. policy-team.")
        parser.add_argument("--name", required=True, help="Display name.")
        parser.add_argument("--description", default="", help="Optional description.")
        parser.add_argument("--owner", required=True, metavar="EMAIL", help="The first admin.")
        cli.add_new_user_arguments(parser)
        parser.add_argument("--json", action="store_true", help="Print a JSON summary.")

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["slug"].strip()
        try:
            validate_slug(slug)
        except ValidationError as error:
            raise CommandError(
                f"slug: {slug!r} is not a slug (letters, digits, - and _)"
            ) from error
        if len(slug) > 50:
            raise CommandError(f"slug: {slug!r} is longer than 50 characters")
        name = options["name"].strip()
        if not name:
            raise CommandError("--name: give the workspace a name")
        if Workspace.objects.filter(slug=slug).exists():
            raise CommandError(f"slug: a workspace {slug!r} already exists")
        owner = User.objects.filter(email__iexact=options["owner"].strip()).first()
        created_user = False
        if owner is None:
            if not options["create_user"]:
                raise CommandError(
                    f"--owner: no account with email {options['owner']!r} "
                    "(pass --create-user to create one)"
                )
            password = cli.read_password(options, options.get("stdin") or sys.stdin)
        elif not owner.is_active:
            raise CommandError(f"--owner: {owner.email} is deactivated")
        with transaction.atomic():
            if owner is None:
                try:
                    owner = services.user_create(
                        email=options["owner"], password=password, actor=None
                    )
                except ValidationError as error:
                    raise CommandError(f"--owner: {' '.join(error.messages)}") from error
                created_user = True
            workspace = services.workspace_create(
                name=name[:120], creator=owner, slug=slug, description=options["description"]
            )
            if workspace.slug != slug:  # taken between the check and the insert
                raise CommandError(f"slug: a workspace {slug!r} already exists")
        membership = workspace.memberships.get(user=owner)
        summary = {
            "id": workspace.pk,
            "slug": workspace.slug,
            "name": workspace.name,
            "owner": {"id": owner.pk, "email": owner.email, "created": created_user},
            "membership": membership.pk,
            "role": "admin",
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            self.stdout.write(
                f"Created workspace {workspace.slug!r} ({workspace.name}); "
                f"{owner.email} is its admin" + (" (new account)." if created_user else ".")
            )
