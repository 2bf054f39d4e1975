"""Request-scoped context for audit events."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from clausebook.audit import current_request_id


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = current_request_id.set(str(uuid.uuid4()))
        try:
            return self.get_response(request)
        finally:
            current_request_id.reset(token)
