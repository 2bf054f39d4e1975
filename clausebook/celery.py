"""The Celery app. Settings come from CELERY_* in settings.py.

Unlike the official Django recipe, ``clausebook/__init__.py`` does not import this module (see
there why): start workers with ``-A clausebook.celery``; task modules import ``app`` from here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from celery import Celery
from rest_framework import exceptions, status

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clausebook.settings")

app = Celery("clausebook", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


class QueueUnavailable(exceptions.APIException):
    """503: the broker could not be reached, so the work was not queued. The API answers with
    it as is (``clausebook.api_errors``: an APIException's own status); pages catch it."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = (
        "The task queue is unreachable, so this was not started. "
        "Nothing was queued; try again in a few minutes."
    )
    default_code = "queue_unavailable"


def enqueue_on_commit(task: Any, *args: Any, on_failure: Callable[[], None]) -> None:
    """Send ``task(*args)`` once the current transaction commits (so the worker finds its rows,
    T33). If the broker cannot be reached, ``on_failure()`` marks the work as not started
    (visibly: its row stays, saying why) and :data:`QueueUnavailable` is raised to the caller,
    which answers 503 (T36). The arguments are ids: nothing secret is logged."""
    from django.db import transaction
    from kombu.exceptions import OperationalError

    def send() -> None:
        try:
            task.apply_async(args)
        except (OperationalError, OSError) as error:
            logger.error(
                "Could not queue %s%r: the broker is unreachable (%s)", task.name, args, error
            )
            on_failure()
            raise QueueUnavailable() from error

    transaction.on_commit(send)
