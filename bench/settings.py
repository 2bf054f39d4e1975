"""Benchmark settings: the product's settings on a database of their own (``bench``)."""

import os

os.environ.setdefault("DEBUG", "true")

from clausebook.settings import *  # noqa: E402,F403

DATABASES["default"]["NAME"] = os.environ.get("BENCH_DATABASE_NAME", "clausebook_bench")  # noqa: F405
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
DEBUG = False  # query logging off: DEBUG=True keeps every SQL string in memory
ALLOWED_HOSTS = ["*"]
