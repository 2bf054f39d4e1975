"""The API's error shape, produced in one place (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``).

API views do not translate exceptions: they let services raise, and this handler answers.

* Django ``ValidationError``, DRF ``ValidationError`` → 400, ``{"<field>": ["message", ...]}``
* ``Conflict(detail, current=...)`` → 409, ``{"detail": "...", "current": {...}}``
* Django ``PermissionDenied`` (or DRF's) → 403, ``{"detail": "..."}``
* ``django.http.Http404`` → 404, ``{"detail": "..."}``
* ``ProtectedError`` (a delete refused by a PROTECT key) → 409, ``{"detail": "... referenced by
  ..."}``
* ``RequestDataTooBig`` → 413, ``{"detail": "... the limit is N bytes."}``
* a body the JSON parser refuses (syntax, encoding, nesting deeper than 254 levels) → 400,
  ``{"detail": "Malformed JSON at line L, column C: ...", "line": L, "column": C}`` (``line``
  and ``column`` when known; see ``clausebook.parsers``)
* any other ``APIException`` → its own status, ``{"detail": "..."}`` (DRF's default)

Validation errors (400) are always an object mapping a field name to a list of messages, the
shape DRF serializers produce. Errors that belong to no single field are listed under
``non_field_errors`` (DRF's ``NON_FIELD_ERRORS_KEY``): a Django ``ValidationError("...")``
without a field, the ``__all__`` key of a Django error dict, and a DRF
``ValidationError("...")`` raised with a bare message all land there. A field-level error may
carry extra keys (a parse error adds ``"line"``) when the view raises a DRF ``ValidationError``
with that dict. ``detail`` is a string and is used only by the non-validation statuses.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from clausebook.parsers import MalformedBody


class Conflict(exceptions.APIException):
    """409: the client's copy is stale. ``current`` carries the state it should reload."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "Someone else changed this since you loaded it."
    default_code = "conflict"

    def __init__(self, detail: str | None = None, current: Any = None) -> None:
        super().__init__(detail)
        self.current = current


def validation_messages(error: DjangoValidationError) -> dict[str, list[str]]:
    """A Django ``ValidationError`` as the API's 400 body: field → messages, with errors that
    name no field under ``non_field_errors``."""
    non_field = api_settings.NON_FIELD_ERRORS_KEY
    if hasattr(error, "error_dict"):
        return {
            (non_field if field == NON_FIELD_ERRORS else field): messages
            for field, messages in error.message_dict.items()
        }
    return {non_field: error.messages}


def _as_field_lists(detail: Any) -> Any:
    # DRF keeps what the view raised: ValidationError("x") is ["x"], {"f": "x"} is {"f": "x"}.
    # Serializers always produce {"f": ["x"]}; bring the hand-raised ones to that shape.
    if isinstance(detail, list) and all(isinstance(message, str) for message in detail):
        return {api_settings.NON_FIELD_ERRORS_KEY: detail}
    if isinstance(detail, dict):
        return {
            field: [messages] if isinstance(messages, str) else messages
            for field, messages in detail.items()
        }
    return detail


def _protected_detail(error: ProtectedError) -> str:
    referencing = sorted({obj._meta.verbose_name_plural for obj in error.protected_objects})
    return (
        "This cannot be deleted: it is still referenced by "
        + (", ".join(str(name) for name in referencing) or "other records")
        + "."
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, after mapping Django's exceptions onto the shapes documented above."""
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {
                "detail": "Request body too large: the limit is "
                f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
            },
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, MalformedBody):
        return Response(exc.body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ProtectedError):
        # People leave, evidence stays: a delete refused by a PROTECT foreign key is the
        # database keeping evidence, which the client should hear about, not a server error.
        set_rollback()
        return Response({"detail": _protected_detail(exc)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(validation_messages(exc))
    elif isinstance(exc, exceptions.ValidationError):
        exc.detail = _as_field_lists(exc.detail)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, Conflict) and exc.current is not None:
        response.data = {"detail": str(exc.detail), "current": exc.current}
    return response
