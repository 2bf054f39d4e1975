"""A per-endpoint limiter shared by every worker process: calls in flight and calls per minute.

Contracts
---------
* :meth:`Limiter.try_acquire` either returns a :class:`Permit` (one of the endpoint's
  ``concurrency`` slots, and one token of its per-minute budget when it has one) or the seconds
  to wait before asking again. It never blocks; the caller decides how to wait.
* A permit is held under a lease (``lease_seconds``) that :meth:`Limiter.renew` extends, so a
  worker killed while holding slots frees them when the lease lapses, without any cleanup.
* :meth:`Limiter.release` frees a slot; releasing twice, or after the lease lapsed and someone
  else took the slot, frees nothing that is not the caller's.
* :meth:`Limiter.try_take_token` spends one token of an endpoint's per-minute budget, or says
  how long to wait. A re-run job holds its slots for as long as it has calls for the endpoint
  (one round trip per slot, not two per call) and spends a token per call only when the
  endpoint has a rate limit.

Two stores: Redis when the broker is Redis (every worker already reaches it), else the database
(a row per slot taken with ``FOR UPDATE SKIP LOCKED``, and a token-bucket row per endpoint).
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.db import connection

from reviews.models import EndpointRateBucket, EndpointSlot

#: How long a slot stays taken without renewal. The holder renews every third of it. The same
#: as a re-run job's lease: a job taken over after its worker died must find the dead worker's
#: slots free by then, not wait on them longer.
LEASE_SECONDS = float(getattr(settings, "RERUN_LEASE_SECONDS", 60))
#: A per-minute budget allows this many seconds' worth of calls at once.
BURST_SECONDS = 6.0
#: How soon to ask again when every slot is taken (another worker will free one soon).
SLOT_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Permit:
    endpoint_id: int
    slot: int


class Limiter(Protocol):
    holder: str

    def try_acquire(
        self, *, endpoint_id: int, concurrency: int, rate_per_minute: int
    ) -> Permit | float: ...

    def try_take_token(self, *, endpoint_id: int, rate_per_minute: int) -> float | None: ...

    def release(self, permit: Permit) -> None: ...

    def renew(self) -> None: ...


def holder_name() -> str:
    """Unique per limiter: host, process and a random part (a pid is reused after a restart)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def bucket_capacity(rate_per_minute: int) -> float:
    return max(1.0, rate_per_minute * BURST_SECONDS / 60.0)


_SLOTS = EndpointSlot._meta.db_table
_BUCKETS = EndpointRateBucket._meta.db_table

_SEED_SLOTS_SQL = (
    f"INSERT INTO {_SLOTS} (endpoint_id, slot, holder, expires_at) "  # noqa: S608
    "SELECT %s, g, '', NULL FROM generate_series(0, %s - 1) AS g "
    "ON CONFLICT (endpoint_id, slot) DO NOTHING"
)
# SKIP LOCKED: two workers asking at once take two different slots instead of queueing on one.
# Slots at or past the endpoint's concurrency are left alone, so lowering it takes effect.
_TAKE_SLOT_SQL = (
    f"UPDATE {_SLOTS} SET holder = %s, "  # noqa: S608
    "expires_at = clock_timestamp() + make_interval(secs => %s) "
    f"WHERE id = (SELECT id FROM {_SLOTS} WHERE endpoint_id = %s AND slot < %s "
    "AND (expires_at IS NULL OR expires_at < clock_timestamp()) "
    "ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING slot"
)
_FREE_SLOT_SQL = (
    f"UPDATE {_SLOTS} SET holder = '', expires_at = NULL "  # noqa: S608
    "WHERE endpoint_id = %s AND slot = %s AND holder = %s"
)
_RENEW_SQL = (
    f"UPDATE {_SLOTS} SET expires_at = clock_timestamp() + make_interval(secs => %s) "  # noqa: S608
    "WHERE holder = %s"
)
_SEED_BUCKET_SQL = (
    f"INSERT INTO {_BUCKETS} (endpoint_id, tokens, refilled_at) "  # noqa: S608
    "VALUES (%s, %s, clock_timestamp()) ON CONFLICT (endpoint_id) DO NOTHING"
)
# One statement refills and spends, so two workers cannot both spend the last token.
_TAKE_TOKEN_SQL = f"""
UPDATE {_BUCKETS} SET
  tokens = LEAST(%(cap)s, tokens + EXTRACT(EPOCH FROM clock_timestamp() - refilled_at)
           * %(per_second)s) - 1,
  refilled_at = clock_timestamp()
WHERE endpoint_id = %(endpoint)s
  AND LEAST(%(cap)s, tokens + EXTRACT(EPOCH FROM clock_timestamp() - refilled_at)
      * %(per_second)s) >= 1
RETURNING tokens
"""  # noqa: S608
_TOKENS_NOW_SQL = f"""
SELECT LEAST(%(cap)s, tokens + EXTRACT(EPOCH FROM clock_timestamp() - refilled_at)
       * %(per_second)s) FROM {_BUCKETS} WHERE endpoint_id = %(endpoint)s
"""  # noqa: S608


class DatabaseLimiter:
    """The limiter in PostgreSQL. Each statement is its own transaction (the caller is not in
    one), so no slot row stays locked longer than one UPDATE."""

    def __init__(self, lease_seconds: float = LEASE_SECONDS) -> None:
        self.holder = holder_name()
        self.lease_seconds = lease_seconds
        self._seeded: set[tuple[int, int]] = set()
        self._buckets_seeded: set[int] = set()

    def try_acquire(
        self, *, endpoint_id: int, concurrency: int, rate_per_minute: int
    ) -> Permit | float:
        with connection.cursor() as cursor:
            if (endpoint_id, concurrency) not in self._seeded:
                cursor.execute(_SEED_SLOTS_SQL, [endpoint_id, concurrency])
                if rate_per_minute:
                    cursor.execute(
                        _SEED_BUCKET_SQL, [endpoint_id, bucket_capacity(rate_per_minute)]
                    )
                self._seeded.add((endpoint_id, concurrency))
            cursor.execute(
                _TAKE_SLOT_SQL, [self.holder, self.lease_seconds, endpoint_id, concurrency]
            )
            row = cursor.fetchone()
            if row is None:
                return SLOT_POLL_SECONDS
            permit = Permit(endpoint_id=endpoint_id, slot=row[0])
            if not rate_per_minute:
                return permit
            bucket = {
                "cap": bucket_capacity(rate_per_minute),
                "per_second": rate_per_minute / 60.0,
                "endpoint": endpoint_id,
            }
            cursor.execute(_TAKE_TOKEN_SQL, bucket)
            if cursor.fetchone() is not None:
                return permit
            cursor.execute(_TOKENS_NOW_SQL, bucket)
            found = cursor.fetchone()
            tokens = float(found[0]) if found else 0.0
        self.release(permit)
        return max(SLOT_POLL_SECONDS, (1.0 - tokens) / bucket["per_second"])

    def try_take_token(self, *, endpoint_id: int, rate_per_minute: int) -> float | None:
        """None when a token was spent (or there is no limit), else the seconds to wait."""
        if not rate_per_minute:
            return None
        bucket = {
            "cap": bucket_capacity(rate_per_minute),
            "per_second": rate_per_minute / 60.0,
            "endpoint": endpoint_id,
        }
        with connection.cursor() as cursor:
            if endpoint_id not in self._buckets_seeded:
                cursor.execute(_SEED_BUCKET_SQL, [endpoint_id, bucket["cap"]])
                self._buckets_seeded.add(endpoint_id)
            cursor.execute(_TAKE_TOKEN_SQL, bucket)
            if cursor.fetchone() is not None:
                return None
            cursor.execute(_TOKENS_NOW_SQL, bucket)
            found = cursor.fetchone()
        tokens = float(found[0]) if found else 0.0
        return max(SLOT_POLL_SECONDS, (1.0 - tokens) / bucket["per_second"])

    def release(self, permit: Permit) -> None:
        with connection.cursor() as cursor:
            cursor.execute(_FREE_SLOT_SQL, [permit.endpoint_id, permit.slot, self.holder])

    def renew(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(_RENEW_SQL, [self.lease_seconds, self.holder])


# Redis: a slot is a key set with NX and an expiry; the bucket is a hash. Both in Lua, so one
# round trip decides, atomically, whatever the number of workers.
_REDIS_ACQUIRE = """
local prefix, holder, lease_ms, concurrency = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local cap, per_second = tonumber(ARGV[4]), tonumber(ARGV[5])
local slot = -1
for i = 0, concurrency - 1 do
  if redis.call('SET', prefix .. ':slot:' .. i, holder, 'NX', 'PX', lease_ms) then
    slot = i
    break
  end
end
if slot < 0 then return {-1, 0} end
if per_second <= 0 then return {slot, 0} end
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local bucket = prefix .. ':bucket'
local tokens = tonumber(redis.call('HGET', bucket, 'tokens') or cap)
local at = tonumber(redis.call('HGET', bucket, 'at') or t)
tokens = math.min(cap, tokens + (t - at) * per_second)
if tokens < 1 then
  redis.call('DEL', prefix .. ':slot:' .. slot)
  return {-1, tostring((1 - tokens) / per_second)}
end
redis.call('HSET', bucket, 'tokens', tostring(tokens - 1), 'at', tostring(t))
redis.call('EXPIRE', bucket, 3600)
return {slot, 0}
"""
_REDIS_SPEND = """
local bucket, cap, per_second = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local tokens = tonumber(redis.call('HGET', bucket, 'tokens') or cap)
local at = tonumber(redis.call('HGET', bucket, 'at') or t)
tokens = math.min(cap, tokens + (t - at) * per_second)
if tokens < 1 then return tostring((1 - tokens) / per_second) end
redis.call('HSET', bucket, 'tokens', tostring(tokens - 1), 'at', tostring(t))
redis.call('EXPIRE', bucket, 3600)
return ''
"""
_REDIS_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_REDIS_RENEW = """
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('PEXPIRE', key, ARGV[2]) end
end
return 0
"""


class RedisLimiter:
    def __init__(self, url: str, lease_seconds: float = LEASE_SECONDS) -> None:
        import redis

        self.holder = holder_name()
        self.lease_seconds = lease_seconds
        self._redis = redis.Redis.from_url(url)
        self._acquire = self._redis.register_script(_REDIS_ACQUIRE)
        self._token = self._redis.register_script(_REDIS_SPEND)
        self._release = self._redis.register_script(_REDIS_RELEASE)
        self._renew = self._redis.register_script(_REDIS_RENEW)
        self._held: set[Permit] = set()

    @staticmethod
    def _prefix(endpoint_id: int) -> str:
        return f"clausebook:limiter:endpoint:{endpoint_id}"

    def try_acquire(
        self, *, endpoint_id: int, concurrency: int, rate_per_minute: int
    ) -> Permit | float:
        slot, wait = self._acquire(
            keys=[self._prefix(endpoint_id)],
            args=[
                self.holder,
                int(self.lease_seconds * 1000),
                concurrency,
                bucket_capacity(rate_per_minute) if rate_per_minute else 0,
                rate_per_minute / 60.0,
            ],
        )
        if int(slot) < 0:
            return max(SLOT_POLL_SECONDS, float(wait or 0))
        permit = Permit(endpoint_id=endpoint_id, slot=int(slot))
        self._held.add(permit)
        return permit

    def try_take_token(self, *, endpoint_id: int, rate_per_minute: int) -> float | None:
        if not rate_per_minute:
            return None
        wait = self._token(
            keys=[f"{self._prefix(endpoint_id)}:bucket"],
            args=[bucket_capacity(rate_per_minute), rate_per_minute / 60.0],
        )
        if not wait:
            return None
        return max(SLOT_POLL_SECONDS, float(wait))

    def release(self, permit: Permit) -> None:
        self._held.discard(permit)
        self._release(
            keys=[f"{self._prefix(permit.endpoint_id)}:slot:{permit.slot}"], args=[self.holder]
        )

    def renew(self) -> None:
        keys = [f"{self._prefix(p.endpoint_id)}:slot:{p.slot}" for p in self._held]
        if keys:
            self._renew(keys=keys, args=[self.holder, int(self.lease_seconds * 1000)])


def limiter_for_worker() -> Limiter:
    """Redis when the broker is Redis, else the database."""
    broker = str(getattr(settings, "CELERY_BROKER_URL", "") or "")
    if broker.startswith(("redis://", "rediss://")):
        return RedisLimiter(broker)
    return DatabaseLimiter()
