"""One error shape for the API, and 413 for bodies over the limit."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class Conflict(exceptions.APIException):
    """409: the client's copy is stale. ``current`` carries the state it should reload."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "Someone else changed this since you loaded it."
    default_code = "conflict"

    def __init__(self, detail: str | None = None, current: Any = None) -> None:
        super().__init__(detail)
        self.current = current


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        from django.conf import settings

        return Response(
            {
                "detail": f"Request body too large: the limit is {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
            },
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, Conflict) and exc.current is not None:
        response.data = {"detail": str(exc.detail), "current": exc.current}
    return response
