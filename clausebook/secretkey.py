"""The ``SECRET_KEY`` of a local install: random, made once per checkout, kept under ``var/``.

Imported by the settings before Django is configured, so it uses the standard library only.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

FILENAME = "secret_key"


def local_secret_key(folder: Path) -> str:
    """The key kept in ``folder/secret_key``, created (mode 0600) on first use.

    Creation is ``O_CREAT | O_EXCL``, so two processes starting at once (the web server and the
    worker ``make demo`` starts) agree on one key: the loser reads the winner's file.
    """
    path = folder / FILENAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    key = secrets.token_urlsafe(64)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def _read(path: Path) -> str:
    for _ in range(50):  # another process may have created the file and not written it yet
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.02)
    raise RuntimeError(f"{path} is empty: delete it and start again")
