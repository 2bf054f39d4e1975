"""Process-wide caches, all bounded, all registered so they can be emptied at once.

Use these instead of a module-level ``dict`` or a bare ``functools.lru_cache``:

* :func:`bounded_cache` returns a :class:`BoundedCache`, a small thread-safe LRU mapping for
  values computed by the caller (``cache.get_or_set(key, compute)``).
* :func:`memoize` decorates a pure function of hashable arguments (``functools.lru_cache``
  underneath) and registers it.

Contract: a cached value must be a pure function of its key for the life of the process (for
example, the rendering of a published, immutable clause). Nothing here expires by time; only the
size bound evicts (least recently used first). :func:`clear_all` empties every cache created
here; the test suite calls it before each test, so query counts never depend on test order.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

# Every cache created here, so that clear_all() reaches them all. A list, not a dict by name: a
# module imported twice (a reload) must not hide its first cache from clear_all().
_REGISTRY: list[tuple[str, Callable[[], None]]] = []
_REGISTRY_LOCK = threading.Lock()


def _register(name: str, clear: Callable[[], None]) -> None:
    with _REGISTRY_LOCK:
        _REGISTRY.append((name, clear))


class BoundedCache[K: Hashable, V]:
    """A least-recently-used mapping holding at most ``maxsize`` entries.

    Thread-safe: gunicorn threads share a process. ``compute`` in :meth:`get_or_set` runs outside
    the lock, so two threads may compute the same value once each; the result is the same by the
    module's contract, and the lock is never held across template rendering.
    """

    def __init__(self, name: str, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.name = name
        self.maxsize = maxsize
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def get(self, key: K) -> V | None:
        """The cached value (marking it recently used), or ``None``."""
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def set(self, key: K, value: V) -> V:
        """Store ``value`` under ``key``, evicting the least recently used entry when full."""
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)
        return value

    def get_or_set(self, key: K, compute: Callable[[], V]) -> V:
        """The cached value for ``key``, computing and storing it on a miss."""
        value = self.get(key)
        if value is None:
            value = self.set(key, compute())
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


def bounded_cache(name: str, *, maxsize: int) -> BoundedCache:
    """Create and register a :class:`BoundedCache`. ``name`` says where it lives (the module path,
    e.g. ``"specs.presenters.rendered"``); call this once, at module level."""
    cache: BoundedCache = BoundedCache(name, maxsize)
    _register(name, cache.clear)
    return cache


def memoize[**P, R](*, maxsize: int) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """``functools.lru_cache(maxsize=...)``, registered under the function's qualified name."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        cached = functools.lru_cache(maxsize=maxsize)(function)
        _register(f"{function.__module__}.{function.__qualname__}", cached.cache_clear)
        return cached  # type: ignore[return-value]

    return decorate


def clear_all() -> None:
    """Empty every registered cache (tests call this before each test)."""
    with _REGISTRY_LOCK:
        clears = [clear for _name, clear in _REGISTRY]
    for clear in clears:
        clear()


def registered() -> list[str]:
    """Names of the registered caches (for tests and debugging)."""
    with _REGISTRY_LOCK:
        return sorted(name for name, _clear in _REGISTRY)
