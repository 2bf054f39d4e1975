"""gunicorn settings for Clausebook: ``gunicorn -c python:clausebook.gunicorn_conf ...``.

``make demo`` (``manage.py demo``) and the Docker image both start gunicorn with this module;
options on the command line win over it (the demo passes its bind address and the worker count
it computed from the embedded server's ``max_connections``).

Workers: ``WEB_CONCURRENCY`` when set, else ``min(2 × cores + 1, what the database's
max_connections leaves after the Celery worker and the other clients)``, threads
``GUNICORN_THREADS`` (default 4). See :mod:`clausebook.serving`.
"""

from __future__ import annotations

import gc
import os

from clausebook import logfilters, serving

wsgi_app = "clausebook.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# gthread: keep-alive connections (a browser's, a script's) are served without a new TCP
# handshake each time, and idle ones wait in the poller, not in a thread.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", serving.DEFAULT_THREADS))
if os.environ.get("WEB_CONCURRENCY"):
    workers = int(os.environ["WEB_CONCURRENCY"])
else:
    _limits = (
        serving.probe_limits(os.environ["DATABASE_URL"])
        if os.environ.get("DATABASE_URL")
        else serving.DatabaseLimits(max_connections=serving.DEFAULT_MAX_CONNECTIONS)
    )
    _plan = serving.plan(
        limits=_limits,
        worker_concurrency=int(os.environ.get("CELERY_WORKER_CONCURRENCY", "4")),
        threads=threads,
    )
    workers, threads = _plan.workers, _plan.threads
# The application is imported once, in the master, and the workers fork from it: they start in
# milliseconds instead of each importing Django, and share its code pages (a fraction of the
# memory). Nothing opens a database connection at import time, so no socket is shared by forks.
preload_app = True
keepalive = 5
timeout = 60
# Ctrl-C and `docker stop` wait this long for requests in flight, then workers are killed.
graceful_timeout = 5
accesslog = "-"
errorlog = "-"
# The heartbeat file lives in memory where there is /dev/shm (containers mount /tmp on overlay).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - gunicorn's own


def on_starting(server: object) -> None:
    # Invitation tokens and reset keys in request lines stay out of the logs; the workers
    # install the filter again when Django loads (ClausebookConfig.ready()).
    logfilters.install()


def when_ready(server: object) -> None:
    # With preload_app the master has loaded Django; resolving the URLconf here, once, spares
    # every worker importing all views on its first request (the first page would wait ~0.7 s).
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - reading it is what imports every view
    # What the master loaded stays out of the collector: a worker's first collections would
    # otherwise write to (and so copy) every page of it that it shares with the master.
    gc.collect()
    gc.freeze()
    # `manage.py demo` starts the Celery worker once the app is loaded (this file appears), without
    # a request that would dirty a worker's memory before anyone uses it.
    if os.environ.get("CLAUSEBOOK_SERVER_READY_FILE"):
        with open(os.environ["CLAUSEBOOK_SERVER_READY_FILE"], "w"):
            pass


def post_fork(server: object, worker: object) -> None:
    logfilters.install()
