"""``python manage.py demo``: migrate, seed demo data, start the web server and a Celery worker.

The web server is gunicorn (``--server dev``: Django's reloading development server, for
``make dev``), with as many workers as the cores suggest and the database's ``max_connections``
allows (:mod:`clausebook.serving`). Each child runs in a process group of its own, so Ctrl-C
reaches this command only and it stops them in order: a SIGINT to each group (what a terminal
would send), a harder signal after a few seconds, then SIGKILL for whatever is left of the group.
Then it leaves the embedded PostgreSQL, which stops unless another live process still uses it.
Running it again reuses the data.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from django.utils.module_loading import import_string

from clausebook import serving
from clausebook.demo import DEMO_PASSWORD, DEMO_USERS
from devtools.local_model_server import NAME as MODEL_SERVER_NAME
from devtools.local_model_server import LocalModelServer

WORKER_CONCURRENCY = 2
# The worker's CPU priority below the web server's (see handle).
WORKER_NICENESS = 10
# Seconds the children get to stop after Ctrl-C before SIGKILL: gunicorn needs about one, a
# Celery warm shutdown with nothing to do six (a killed task is not lost: imports run under a
# lease that the sweep re-queues, and acks_late tasks are redelivered).
GRACE_SECONDS = 2.5
# How long the worker and the checks wait for the web server to be ready before starting anyway.
SERVE_WAIT_SECONDS = 60.0


def _die_with_parent() -> None:
    """In the child before exec: a SIGTERM when the demo dies without cleaning up (SIGKILL)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]

    def signal_group(self, sig: signal.Signals) -> None:
        # The child leads its own group (process_group=0): workers and pool processes are in it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)

    def group_alive(self) -> bool:
        """Whether a process of the group still runs (a zombie waiting for its reaper does not)."""
        proc = Path("/proc")
        if not proc.is_dir():
            try:
                os.killpg(self.process.pid, 0)
            except (ProcessLookupError, PermissionError):
                return False
            return True
        for stat in proc.glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after it.
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == self.process.pid and fields[0] not in {"Z", "X"}:
                    return True
        return False


def migrations_pending() -> bool:
    """Whether a migration file on disk is not recorded as applied: one query and a folder listing
    per app, where ``migrate`` with nothing to do loads every migration module and runs the
    post-migrate handlers (a few hundred ms at every start). When in doubt, say yes."""
    import importlib.util

    from django.apps import apps
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return True
    applied = set(recorder.applied_migrations())
    for config in apps.get_app_configs():
        module_name, _ = MigrationLoader.migrations_module(config.label)
        if module_name is None:
            continue
        try:
            spec = importlib.util.find_spec(module_name)
        except ImportError:
            continue
        if spec is None or not spec.submodule_search_locations:
            continue
        for folder in spec.submodule_search_locations:
            for path in Path(folder).glob("*.py"):
                if path.name[0] not in "_~" and (config.label, path.stem) not in applied:
                    return True
    return False


class Command(BaseCommand):
    # The system checks run once the servers are starting (see handle), not before: they import
    # every URL module, which would keep the first page waiting for work the servers redo.
    requires_system_checks: list[str] = []
    help = "Set up demo data and run the web server and a Celery worker until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--seed-only", action="store_true", help="Migrate and seed, then exit.")
        parser.add_argument(
            "--no-worker", action="store_true", help="Do not start a Celery worker."
        )
        parser.add_argument(
            "--server",
            choices=["gunicorn", "dev"],
            default="gunicorn",
            help="gunicorn (default), or Django's development server, which reloads on changes.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        self._stop_requests = 0
        self._ready_file = Path(settings.VAR_DIR) / f"web-ready-{os.getpid()}"
        self.stdout.write("Preparing the database…")
        if migrations_pending():
            call_command("migrate", interactive=False, verbosity=0)
        model_server = self.start_model_server()
        self.seed()
        if options["seed_only"]:
            model_server.stop()
            return
        if not settings.DEBUG:
            # Without DEBUG, WhiteNoise serves what collectstatic gathered in STATIC_ROOT.
            call_command("collectstatic", interactive=False, verbosity=0)
        env = os.environ.copy()
        env.setdefault("DEBUG", "true")
        # The operator's allow-list is the only way an endpoint reaches a private address; the
        # demo opens exactly its own local model server, for the web server and the worker.
        env["CLAUSEBOOK_ALLOW_PRIVATE_HOSTS"] = ",".join(settings.ALLOW_PRIVATE_HOSTS)
        if "DATABASE_URL" not in env:
            # Children join the same embedded server through its socket folder.
            db = settings.DATABASES["default"]
            env["DATABASE_URL"] = f"postgres://{db['USER']}@/{db['NAME']}?host={db['HOST']}"
        worker_concurrency = 0 if options["no_worker"] else WORKER_CONCURRENCY
        with connection.cursor() as cursor:
            limits = serving.read_limits(cursor)
        connection.close()
        address = f"{options['host']}:{options['port']}"
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGTERM, self._request_stop)
        children: list[Child] = []
        failed: Child | None = None
        try:
            if options["server"] == "dev":
                children.append(self.start_dev_server(address, env))
                server_line = "Web server: Django's development server (reloads on code changes)"
            else:
                web_plan = serving.plan(
                    limits=limits, worker_concurrency=worker_concurrency, per_core=1
                )
                if env.get("WEB_CONCURRENCY"):
                    web_plan = serving.WebPlan(int(env["WEB_CONCURRENCY"]), web_plan.threads)
                children.append(self.start_gunicorn(address, web_plan, env))
                server_line = (
                    f"Web server: gunicorn, {web_plan.workers} workers × {web_plan.threads} "
                    f"threads ({serving.cores()} cores; the database takes "
                    f"{limits.max_connections} connections)"
                )
            # The worker starts beside the web server, at a lower CPU priority: on a laptop's few
            # cores it loads on whatever gunicorn leaves idle, so the first page does not wait
            # for it, and later its jobs yield to people's requests. The system checks wait
            # until the web server is ready.
            if not options["no_worker"]:
                children.append(self.start_worker(env, worker_concurrency))
            self.wait_until_serving(options["host"], options["port"], children[0])
            server_line += f"\n{MODEL_SERVER_NAME}: {model_server.base_url}"
            if not self._stop_requests:
                self.check(display_num_errors=False)
            self.print_banner(f"http://{address}/", time.monotonic() - started, server_line)
            failed = self.wait(children)
        finally:
            self.stop(children)
            self._ready_file.unlink(missing_ok=True)
            model_server.stop()
            self.release_database()
            self.stdout.write("Stopped.")
        if failed is not None:
            self.stderr.write(f"The {failed.name} exited ({failed.process.returncode}).")
            sys.exit(1)

    def _request_stop(self, signum: int, frame: object) -> None:
        self._stop_requests += 1

    def _spawn(self, name: str, argv: list[str], env: dict[str, str], nice: int = 0) -> Child:
        def before_exec() -> None:
            _die_with_parent()
            if nice:
                with contextlib.suppress(OSError):
                    os.nice(nice)

        process = subprocess.Popen(  # noqa: S603 - fixed argv
            argv, env=env, process_group=0, preexec_fn=before_exec
        )
        return Child(name, process)

    def start_gunicorn(self, address: str, plan: serving.WebPlan, env: dict[str, str]) -> Child:
        argv = [sys.executable, "-m", "gunicorn", "-c", "python:clausebook.gunicorn_conf"]
        argv += ["--bind", address, "--workers", str(plan.workers), "--threads", str(plan.threads)]
        # The same numbers in the environment spare the config module its own database probe.
        env = {**env, "WEB_CONCURRENCY": str(plan.workers), "GUNICORN_THREADS": str(plan.threads)}
        self._ready_file.parent.mkdir(parents=True, exist_ok=True)
        self._ready_file.unlink(missing_ok=True)
        env["CLAUSEBOOK_SERVER_READY_FILE"] = str(self._ready_file)  # gunicorn_conf.when_ready
        return self._spawn("web server", argv, env)

    def start_dev_server(self, address: str, env: dict[str, str]) -> Child:
        argv = [sys.executable, "manage.py", "runserver", address]
        return self._spawn("development server", argv, env)

    def start_worker(self, env: dict[str, str], concurrency: int) -> Child:
        argv = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "clausebook.celery",
            "--quiet",  # no banner: the demo prints its own
            "worker",
            "--loglevel",
            "WARNING",
            "--concurrency",
            str(concurrency),
            "--hostname",
            "demo@%h",
            # The periodic sweeps (imports, exports and re-runs whose worker died) from the
            # worker's own timer: no beat process (compose runs beat as a service of its own).
            "--sweeps",
        ]
        # Celery's Django fix-up runs the system checks in the worker, which imports every URL
        # module and view (~25 MB, which the pool processes inherit); this command runs them once.
        env = {**env, "CELERY_SKIP_CHECKS": "1"}
        return self._spawn("Celery worker", argv, env, nice=WORKER_NICENESS)

    def start_model_server(self) -> LocalModelServer:
        """The local model server (a development tool) on its usual port, or any free one, in a
        thread of this process; the seeded endpoint points at it."""
        wanted = int(os.environ.get("LOCAL_MODEL_SERVER_PORT", "8765"))
        try:
            server = LocalModelServer(port=wanted).start()
        except OSError:
            server = LocalModelServer(port=0).start()
        settings.ALLOW_PRIVATE_HOSTS = [*settings.ALLOW_PRIVATE_HOSTS, server.host_port]
        os.environ["CLAUSEBOOK_DEMO_MODEL_SERVER_URL"] = server.base_url
        return server

    def seed(self) -> None:
        from clausebook.demo import seed_platform

        platform = seed_platform()
        # The registry in settings is the one place that names each app's seeder, in order.
        for dotted in settings.DEMO_SEEDERS:
            import_string(dotted)(platform, stdout=self.stdout)

    def print_banner(self, url: str, elapsed: float, server_line: str) -> None:
        width = max(len(email) for email, _, _ in DEMO_USERS) + 2
        lines = [
            "",
            f"Clausebook is running at {url}  (ready in {elapsed:.1f} s)",
            "",
            f"Sign in with any of these (password: {DEMO_PASSWORD}):",
        ]
        lines += [f"  {email:<{width}} {role.label}" for email, _, role in DEMO_USERS]
        lines += [
            f"  {'outsider@example.com':<{width}} Admin of another workspace",
            "",
            server_line,
            "Press Ctrl-C to stop.",
            "",
        ]
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))

    def wait_until_serving(self, host: str, port: int, web: Child) -> None:
        """Until gunicorn has loaded the app (its ready file; the development server: until
        ``/healthz`` answers), the web server exits, Ctrl-C, or SERVE_WAIT_SECONDS."""
        import http.client

        if host in {"", "0.0.0.0"}:  # noqa: S104 - reaching a server bound to every interface
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        deadline = time.monotonic() + SERVE_WAIT_SECONDS
        while not self._stop_requests and time.monotonic() < deadline:
            if web.process.poll() is not None:
                return
            if web.name == "web server":  # gunicorn
                if self._ready_file.exists():
                    self._ready_file.unlink(missing_ok=True)
                    return
                time.sleep(0.05)
                continue
            probe = http.client.HTTPConnection(host, port, timeout=2)
            try:
                probe.request("GET", "/healthz")
                if probe.getresponse().status < 500:
                    return
            except OSError:
                pass
            finally:
                probe.close()
            time.sleep(0.05)

    def wait(self, children: list[Child]) -> Child | None:
        """Until Ctrl-C (or SIGTERM): None; or the child that exited on its own."""
        while not self._stop_requests:
            for child in children:
                if child.process.poll() is not None:
                    return child
            time.sleep(0.2)
        self.stdout.write("\nStopping…")
        return None

    def stop(self, children: list[Child]) -> None:
        """Every process the children started is gone when this returns (a few seconds)."""
        for child in children:
            child.signal_group(signal.SIGINT)
        # A second Ctrl-C cuts the grace short.
        asked = self._stop_requests
        deadline = time.monotonic() + GRACE_SECONDS
        while time.monotonic() < deadline and self._stop_requests <= max(asked, 1):
            if all(child.process.poll() is not None for child in children):
                break
            time.sleep(0.05)
        for child in children:
            # Whatever is left of the group (a pool process, beat): nothing may outlive the demo.
            child.signal_group(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=5)
        deadline = time.monotonic() + 5
        while any(child.group_alive() for child in children) and time.monotonic() < deadline:
            time.sleep(0.05)

    def release_database(self) -> None:
        if "DATABASE_URL" in os.environ:
            return  # not the embedded server: someone else runs it
        from clausebook import localdb

        # pg_ctl inherits the ignored SIGINT: another Ctrl-C cannot cut the stop short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        still_used_by = localdb.release()
        if still_used_by:
            pids = ", ".join(str(pid) for pid in still_used_by)
            self.stdout.write(
                f"The embedded PostgreSQL keeps running for the other processes using it "
                f"(pid {pids}); it stops when the last of them exits."
            )
