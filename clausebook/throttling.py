"""API throttles. Their counters live in the ``throttle`` cache: Redis when configured, else
process memory. Throttling is a brake on runaway scripts, not a security control (DRF's own
counters are not atomic), so it must not cost database round trips on every write; the
account rate limits that do matter for security keep the shared default cache."""

from __future__ import annotations

from typing import Any

from django.core.cache import caches
from django.utils.connection import ConnectionProxy
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

throttle_cache = ConnectionProxy(caches, "throttle")


class WriteRateThrottle(UserRateThrottle):
    """Throttle writes only; reads are cheap and paginated."""

    scope = "writes"
    cache = throttle_cache

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method in {"GET", "HEAD", "OPTIONS"}:
            return True
        return super().allow_request(request, view)


class AnonymousRateThrottle(AnonRateThrottle):
    cache = throttle_cache
