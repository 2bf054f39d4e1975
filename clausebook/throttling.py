"""API throttles, named by their sustained rates, counted in a store every server process shares.

A rate reads ``"50/s burst 500"``: 50 requests a second sustained, and up to 500 at once after a
quiet spell (``"2/min"`` alone means a burst of 2). The count is a GCRA (generic cell rate
algorithm): one number per client, the time at which its allowance would be whole again, so a
client at or under the sustained rate never meets a 429 however long it runs, and one above it
gets a 429 once its burst is spent, with ``Retry-After`` saying when the next request is welcome.

Where the count lives (``CACHES["throttle"]``):

* the database cache (Django's ``DatabaseCache`` table; the default without Redis): one atomic
  ``INSERT ... ON CONFLICT DO UPDATE`` per write, so every gunicorn worker and every server
  process sees the same count, and two requests racing each other are both counted;
* any other cache (Redis when ``REDIS_URL`` is set): a read and a write of the same number through
  the cache. Shared by every process too; two requests of one client arriving in the same
  instant may be counted once (a brake on runaway scripts, not a security control: the account
  rate limits that do matter for security are allauth's, on the default cache).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])[a-z]*\s*(?:,?\s*burst\s+(\d+))?\s*$", re.I)


@dataclass(frozen=True)
class Rate:
    """A sustained rate with its burst: ``requests`` per ``seconds``, ``burst`` at once."""

    requests: int
    seconds: float
    burst: int

    @property
    def interval(self) -> float:
        """Seconds of allowance one request uses."""
        return self.seconds / self.requests


def parse_rate(text: str) -> Rate:
    """``"50/s burst 500"``, ``"3000/min"``, ``"1/10s"``: a :class:`Rate`. Raises
    ImproperlyConfigured naming the text when it is not one."""
    match = _RATE.match(text or "")
    if not match or int(match.group(1)) < 1:
        raise ImproperlyConfigured(
            f"Throttle rate {text!r}: write it as N/period with an optional burst, "
            'e.g. "50/s burst 500" or "3000/min".'
        )
    requests, multiple, unit, burst = match.groups()
    seconds = float(int(multiple or 1) * _PERIODS[unit.lower()])
    return Rate(requests=int(requests), seconds=seconds, burst=int(burst or requests))


# The count, in one statement: the client's "allowance whole again at" time moves on by one
# interval, unless that would put it more than a burst ahead of now (then nothing changes, no row
# comes back, and the request is refused). The value is text, as the cache table holds it.
_TAKE_SQL = """
    INSERT INTO {table} AS t (cache_key, value, expires)
    VALUES (%(key)s, %(first)s, %(first_expires)s)
    ON CONFLICT (cache_key) DO UPDATE
    SET value = (GREATEST(t.value::float8, %(now)s) + %(interval)s)::text,
        expires = to_timestamp(GREATEST(t.value::float8, %(now)s) + %(interval)s)
    WHERE GREATEST(t.value::float8, %(now)s) + %(interval)s - %(now)s <= %(limit)s
    RETURNING value
"""
_READ_SQL = "SELECT value FROM {table} WHERE cache_key = %s"


def _database_table() -> str | None:
    """The database cache table the throttle counts in, or None when it counts in a cache."""
    config = settings.CACHES.get("throttle", {})
    if config.get("BACKEND") == "django.core.cache.backends.db.DatabaseCache":
        return connection.ops.quote_name(config["LOCATION"])
    return None


def take(key: str, rate: Rate, *, now: float | None = None) -> float:
    """Count one request of ``key`` against ``rate``: 0.0 when it is allowed, else the seconds
    until the next one will be."""
    now = time.time() if now is None else now
    # A microsecond of slack: twenty intervals of 0.1 s must fit in a burst of twenty, floats or not.
    limit = rate.burst * rate.interval + 1e-6
    table = _database_table()
    if table is not None:
        first = now + rate.interval
        with connection.cursor() as cursor:
            cursor.execute(
                _TAKE_SQL.format(table=table),
                {
                    "key": key,
                    "first": repr(first),
                    "first_expires": datetime.fromtimestamp(first, tz=UTC),
                    "now": now,
                    "interval": rate.interval,
                    "limit": limit,
                },
            )
            if cursor.fetchone() is not None:
                return 0.0
            cursor.execute(_READ_SQL.format(table=table), [key])
            row = cursor.fetchone()
        held = float(row[0]) if row else now
        return max(held + rate.interval - now - limit, 0.001)
    cache = caches["throttle"]
    held = max(float(cache.get(key) or 0.0), now)
    if held + rate.interval - now > limit:
        return held + rate.interval - now - limit
    cache.set(key, held + rate.interval, timeout=int(held + rate.interval - now) + 1)
    return 0.0


class SustainedRateThrottle(SimpleRateThrottle):
    """A throttle whose rate (``THROTTLE_RATES[scope]``) is a sustained rate with a burst."""

    def parse_rate(self, rate: str | None) -> tuple[Any, Any]:  # type: ignore[override]
        self.sustained = parse_rate(rate) if rate else None
        return (None, None)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        ident = request.user.pk if request.user.is_authenticated else self.get_ident(request)
        return f"throttle:{self.scope}:{ident}"

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.sustained is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.wait_seconds = take(key, self.sustained)
        return self.wait_seconds == 0.0

    def wait(self) -> float | None:
        return getattr(self, "wait_seconds", None) or None


class WriteRateThrottle(SustainedRateThrottle):
    """Throttle writes only (per user, or per address without one); reads are cheap and
    paginated."""

    scope = "writes"

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method in {"GET", "HEAD", "OPTIONS"}:
            return True
        return super().allow_request(request, view)


class AnonymousRateThrottle(SustainedRateThrottle):
    """Every request without a signed-in user or a token, per address."""

    scope = "anon"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return f"throttle:{self.scope}:{self.get_ident(request)}"
