"""Sending work to the queue from a request, and what a page or the API says when it cannot.

Apart from ``clausebook.celery`` on purpose: importing that module loads Celery, kombu and
billiard, which a web process needs only when it actually sends a task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from rest_framework import exceptions, status

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
