"""``python manage.py demo``: migrate, seed demo data, start the web server and a Celery worker.

Ctrl-C stops everything this command started; the embedded PostgreSQL stops with the
last process that uses it. Running it again reuses the data.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from django.utils.module_loading import import_string

from clausebook.demo import DEMO_PASSWORD, DEMO_USERS


class Command(BaseCommand):
    help = "Set up demo data and run the web server and a Celery worker until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--seed-only", action="store_true", help="Migrate and seed, then exit.")
        parser.add_argument(
            "--no-worker", action="store_true", help="Do not start a Celery worker."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        self.stdout.write("Preparing the database…")
        call_command("migrate", interactive=False, verbosity=0)
        self.seed()
        if options["seed_only"]:
            return
        env = os.environ.copy()
        env.setdefault("DEBUG", "true")
        if "DATABASE_URL" not in env:
            # Children join the same embedded server through its socket folder.
            db = settings.DATABASES["default"]
            env["DATABASE_URL"] = f"postgres://{db['USER']}@/{db['NAME']}?host={db['HOST']}"
        connection.close()
        address = f"{options['host']}:{options['port']}"
        processes = [
            subprocess.Popen(  # noqa: S603 - fixed argv
                [sys.executable, "manage.py", "runserver", address, "--noreload"], env=env
            )
        ]
        if not options["no_worker"]:
            processes.append(
                subprocess.Popen(  # noqa: S603 - fixed argv
                    [
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
                        "2",
                        "--hostname",
                        "demo@%h",
                        # Beat inside the worker: the periodic sweep that recovers imports whose
                        # worker died (compose runs beat as a service of its own).
                        "--beat",
                    ],
                    env=env,
                )
            )
        self.print_banner(f"http://{address}/", time.monotonic() - started)
        self.wait(processes)

    def seed(self) -> None:
        from clausebook.demo import seed_platform

        platform = seed_platform()
        # The registry in settings is the one place that names each app's seeder, in order.
        for dotted in settings.DEMO_SEEDERS:
            import_string(dotted)(platform, stdout=self.stdout)

    def print_banner(self, url: str, elapsed: float) -> None:
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
            "Press Ctrl-C to stop.",
            "",
        ]
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))

    def wait(self, processes: list[subprocess.Popen[bytes]]) -> None:
        def stop(*_: Any) -> None:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, lambda *_: stop())
        try:
            while all(process.poll() is None for process in processes):
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            stop()
            for process in processes:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.stdout.write("Stopped.")
