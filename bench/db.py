"""A benchmark database of its own, made anew and migrated at the start of every run.

Anew, not reused: a run rolls back many imports, and on a server without autovacuum the dead rows
they leave would slow the next run's plans; and while migrations are still squashed, a database
migrated by an older checkout would not match the code."""

from __future__ import annotations

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.db import connection

_ready = False


def ensure_bench_database() -> None:
    """Drop and create the ``clausebook_bench`` database and migrate it (once per run)."""
    global _ready
    if _ready:
        return
    db = settings.DATABASES["default"]
    params = {
        "dbname": "postgres",
        "user": db["USER"],
        "host": db["HOST"] or None,
        "autocommit": True,
    }
    if db.get("PORT"):
        params["port"] = db["PORT"]
    if db.get("PASSWORD"):
        params["password"] = db["PASSWORD"]
    with psycopg.connect(**params) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{db["NAME"]}"')
    connection.close()
    call_command("migrate", interactive=False, verbosity=0)
    _ready = True


def analyze() -> None:
    """Planner statistics for the data a benchmark just built, as autovacuum keeps them on a
    running server (the machine's PostgreSQL runs without autovacuum): without them, plans
    are guesses that no installation would see."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
