"""The broker settings hold against the tasks' own timings (T35): on Redis, a task that is still
running, or waiting out a countdown, is redelivered once its visibility timeout passes
(celery#7918), so that timeout must exceed the longest countdown any task is sent with plus the
hard time limit. Read from the settings Redis deployments get and from the tasks themselves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

# Runs in a fresh interpreter, so the settings are the ones a Redis deployment evaluates, whatever
# broker this test run uses.
PROBE = """
import json
import django
django.setup()
from django.conf import settings
from clausebook.celery import app
import reviews.tasks, transcripts.tasks, clausebook.tasks  # noqa: F401  every task registered
from reviews.tasks import longest_countdown

import inspect
import celery.app.autoretry
# Celery's own cap when a task sets retry_backoff without retry_backoff_max: checked against its
# source so a Celery upgrade that changes it fails here rather than silently.
CELERY_BACKOFF_MAX = 600
assert f"getattr(task, 'retry_backoff_max', {CELERY_BACKOFF_MAX})" in inspect.getsource(
    celery.app.autoretry
)

countdowns = {"reviews (waiting out a lease)": longest_countdown()}
limits = {"settings": settings.CELERY_TASK_TIME_LIMIT}
for name, task in app.tasks.items():
    if name.startswith("celery."):
        continue
    if getattr(task, "autoretry_for", ()):
        if task.retry_backoff:
            countdowns[name] = float(getattr(task, "retry_backoff_max", CELERY_BACKOFF_MAX))
        else:
            countdowns[name] = float(task.default_retry_delay)
    if task.time_limit:
        limits[name] = task.time_limit
print(json.dumps({
    "broker": settings.CELERY_BROKER_URL,
    "options": settings.CELERY_BROKER_TRANSPORT_OPTIONS,
    "countdowns": countdowns,
    "limits": limits,
    "soft": settings.CELERY_TASK_SOFT_TIME_LIMIT,
}))
"""


def redis_settings() -> dict:
    env = {
        **os.environ,
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "DJANGO_SETTINGS_MODULE": "clausebook.settings",
        "DEBUG": "true",
    }
    env.pop("CELERY_VISIBILITY_TIMEOUT", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_t35_redis_visibility_timeout_exceeds_the_longest_countdown_plus_the_hard_time_limit():
    found = redis_settings()
    assert found["broker"].startswith("redis://")
    timeout = found["options"]["visibility_timeout"]
    longest = max(found["countdowns"].values())
    hard = max(found["limits"].values())
    assert timeout > longest + hard, (
        f"visibility_timeout {timeout} s must exceed the longest countdown {longest} s "
        f"({max(found['countdowns'], key=found['countdowns'].get)}) plus the hard time limit "
        f"{hard} s, or Redis redelivers a task that is still running"
    )
    # The soft limit (the job's own deadline handling) comes before the hard one.
    assert found["soft"] < hard
    # The tasks that wait out a lease are among the countdowns looked at.
    assert found["countdowns"]["reviews (waiting out a lease)"] > 0


def test_t35_the_running_configuration_says_the_same_when_its_broker_is_redis(settings):
    from reviews.tasks import longest_countdown

    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        # On the filesystem broker nothing is redelivered by time; the Redis case is above.
        assert "visibility_timeout" not in settings.CELERY_BROKER_TRANSPORT_OPTIONS
        return
    timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert timeout > longest_countdown() + settings.CELERY_TASK_TIME_LIMIT
