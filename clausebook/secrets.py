"""Secrets at rest (model endpoint keys): Fernet tokens under keys from the environment.

``CLAUSEBOOK_SECRET_KEYS`` is a comma-separated list of Fernet keys. The first encrypts; every
key decrypts, so a key is rotated by putting a new one first, running ``manage.py
rotate_secrets`` (which re-encrypts every stored secret with the first key) and then dropping
the old one. A local install without the variable keeps one key of its own in
``var/secret_keys`` (mode 0600), made on first use, like ``var/secret_key``.

A secret is never logged or put in task arguments: ``SecretText`` hides it from ``repr`` and
``str``, and callers pass row ids to tasks, not secrets.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

FILENAME = "secret_keys"


class SecretsNotConfigured(RuntimeError):  # noqa: N818 - a state, named as one
    """No key is configured, so secrets can be neither stored nor read."""


class SecretUnreadable(ValueError):  # noqa: N818
    """A stored secret was encrypted under a key that is no longer configured (or is damaged)."""


class SecretText(str):
    """A decrypted secret that prints as a mask: logs, tracebacks and reprs never show it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SecretText('********')"

    def __str__(self) -> str:
        return "********"

    def reveal(self) -> str:
        """The secret itself, for the one place that sends it (an Authorization header)."""
        return str.__str__(self)


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def local_secret_keys(folder: Path) -> list[str]:
    """The key kept in ``folder/secret_keys``, created (mode 0600) on first use; two processes
    starting at once agree on one key (``O_EXCL``: the loser reads the winner's file)."""
    path = folder / FILENAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_keys(path)
    key = generate_key()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return [key]


def _read_keys(path: Path) -> list[str]:
    for _ in range(50):  # another process may have created the file and not written it yet
        keys = parse_keys(path.read_text())
        if keys:
            return keys
        time.sleep(0.02)
    raise RuntimeError(f"{path} is empty: delete it (stored secrets become unreadable)")


def parse_keys(raw: str) -> list[str]:
    return [key.strip() for key in raw.replace("\n", ",").split(",") if key.strip()]


def _check_key(key: str, position: int) -> Fernet:
    try:
        if len(base64.urlsafe_b64decode(key.encode("ascii"))) != 32:
            raise ValueError
        return Fernet(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise SecretsNotConfigured(
            f"CLAUSEBOOK_SECRET_KEYS key {position} is not a Fernet key (32 bytes, URL-safe "
            'base64; make one with `python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"`)'
        ) from None


def keyring(keys: Sequence[str]) -> MultiFernet:
    if not keys:
        raise SecretsNotConfigured(
            "CLAUSEBOOK_SECRET_KEYS is not set: secrets cannot be stored or read"
        )
    return MultiFernet([_check_key(key, index + 1) for index, key in enumerate(keys)])


def _configured() -> MultiFernet:
    from django.conf import settings  # the settings carry the keys; imported late: settings use us

    return keyring(settings.SECRET_KEYS)


def encrypt(secret: str, *, keys: Sequence[str] | None = None) -> str:
    """A token for ``secret`` under the first key; the empty secret stays empty (none set)."""
    if not secret:
        return ""
    box = keyring(keys) if keys is not None else _configured()
    return box.encrypt(str.__str__(secret).encode("utf-8")).decode("ascii")


def decrypt(token: str, *, keys: Sequence[str] | None = None) -> SecretText:
    """The secret in ``token`` (any configured key); ``SecretUnreadable`` if none opens it."""
    if not token:
        return SecretText("")
    box = keyring(keys) if keys is not None else _configured()
    try:
        return SecretText(box.decrypt(token.encode("ascii")).decode("utf-8"))
    except (InvalidToken, UnicodeError):
        raise SecretUnreadable(
            "a stored secret cannot be decrypted with the configured keys"
        ) from None


def rotate(token: str, *, keys: Sequence[str] | None = None) -> str:
    """``token`` re-encrypted under the first key (unchanged when empty)."""
    if not token:
        return ""
    box = keyring(keys) if keys is not None else _configured()
    try:
        return box.rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise SecretUnreadable(
            "a stored secret cannot be decrypted with the configured keys"
        ) from None


def mask(token: str) -> str:
    """What pages and the API show for a stored secret: that one is set, never any of it."""
    return "********" if token else ""
