"""A benchmark database of its own, created and migrated on first use."""

from __future__ import annotations

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.db import connection

_ready = False


def ensure_bench_database() -> None:
    """Create the ``clausebook_bench`` database if needed and migrate it (once per run)."""
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
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]
        ).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{db["NAME"]}"')
    connection.close()
    call_command("migrate", interactive=False, verbosity=0)
    _ready = True
