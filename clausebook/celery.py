"""The Celery app. Settings come from CELERY_* in settings.py.

Unlike the official Django recipe, ``clausebook/__init__.py`` does not import this module (see
there why): start workers with ``-A clausebook.celery``; task modules import ``app`` from here.

Two additions to a plain worker, both for small installs (``make demo``):

* ``celery worker --sweeps`` sends the periodic sweeps of ``CELERY_BEAT_SCHEDULE`` from the
  worker's own timer, so a one-machine install needs no beat process (``-B`` forks one: ~70 MB).
  A deployment with several workers runs ``celery beat`` once instead (compose does). The sweeps
  are safe to run twice, so a beat and a ``--sweeps`` worker side by side only do extra work.
* Before the pool forks, the worker freezes what it has loaded out of the garbage collector's
  reach: a collection in a pool process would otherwise touch every inherited object and copy
  the pages they sit on into that process (gunicorn's master does the same, ``gunicorn_conf``).
"""

from __future__ import annotations

import gc
import logging
import os
from datetime import timedelta
from typing import Any

from celery import Celery, bootsteps, signals
from click import Option

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clausebook.settings")

logger = logging.getLogger(__name__)

app = Celery("clausebook", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.user_options["worker"].add(
    Option(
        ("--sweeps",),
        is_flag=True,
        default=False,
        help="Send the periodic sweeps (CELERY_BEAT_SCHEDULE) from this worker: no beat needed.",
    )
)


def schedule_seconds(entry: dict[str, Any]) -> float:
    """The interval of a schedule entry: the sweeps are plain intervals (seconds or a timedelta)."""
    schedule = entry["schedule"]
    return schedule.total_seconds() if isinstance(schedule, timedelta) else float(schedule)


def _send(name: str, entry: dict[str, Any]) -> None:
    # A broker that is down for a minute must not stop the next minute's sweep.
    try:
        app.send_task(entry["task"], **entry.get("options", {}))
    except Exception:
        logger.exception("Could not send the periodic task %s", name)


class Sweeps(bootsteps.StartStopStep):
    """The ``--sweeps`` option: each entry of the beat schedule, sent on its interval from the
    worker's timer (the event loop's, or celery's timer thread on a polling broker)."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, parent: Any, sweeps: bool = False, **options: Any) -> None:
        super().__init__(parent, **options)
        self.enabled = sweeps
        self.entries: list[Any] = []

    def start(self, parent: Any) -> None:
        for name, entry in parent.app.conf.beat_schedule.items():
            self.entries.append(
                parent.timer.call_repeatedly(schedule_seconds(entry), _send, (name, entry))
            )

    def stop(self, parent: Any) -> None:
        for entry in self.entries:
            entry.cancel()
        self.entries = []


app.steps["worker"].add(Sweeps)


@signals.worker_init.connect
def _freeze_before_fork(**_: Any) -> None:
    # worker_init comes after Django's set-up (the fix-up's receiver is connected first) and
    # before the pool's processes are forked.
    gc.collect()
    gc.freeze()
