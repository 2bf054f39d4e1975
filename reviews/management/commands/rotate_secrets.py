"""``python manage.py rotate_secrets``: re-encrypt every stored secret (model endpoint keys) with
the first key of ``CLAUSEBOOK_SECRET_KEYS``.

Rotation: put the new key first (keep the old ones after it), restart, run this, then drop the
old keys. Secrets no configured key can open stop the run and name nothing secret."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from clausebook import secrets
from reviews.services.endpoints import endpoint_secrets_rotate


class Command(BaseCommand):
    help = "Re-encrypt stored secrets with the first key of CLAUSEBOOK_SECRET_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            count = endpoint_secrets_rotate()
        except (secrets.SecretUnreadable, secrets.SecretsNotConfigured) as exc:
            raise CommandError(f"{exc}; nothing was changed") from None
        self.stdout.write(f"Re-encrypted {count} secret(s) with the first key.")
