"""The bounded-cache helper: bounded, least recently used first out, and emptied by clear_all()."""

from __future__ import annotations

from clausebook.caching import BoundedCache, bounded_cache, clear_all, memoize


def test_it_evicts_the_least_recently_used_entry_when_full() -> None:
    cache: BoundedCache[str, int] = BoundedCache("test.lru", maxsize=2)
    cache.set("a", 1)
    cache.set("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recently used
    cache.set("c", 3)
    assert "a" in cache and "c" in cache
    assert "b" not in cache
    assert len(cache) == 2


def test_get_or_set_computes_only_on_a_miss() -> None:
    cache: BoundedCache[str, str] = BoundedCache("test.get_or_set", maxsize=4)
    calls: list[str] = []

    def compute() -> str:
        calls.append("x")
        return "value"

    assert cache.get_or_set("key", compute) == "value"
    assert cache.get_or_set("key", compute) == "value"
    assert calls == ["x"]


def test_clear_all_empties_registered_caches_and_memoized_functions() -> None:
    cache = bounded_cache("tests.clausebook.test_caching.registered", maxsize=8)
    calls: list[int] = []

    @memoize(maxsize=8)
    def double(number: int) -> int:
        calls.append(number)
        return number * 2

    cache.set("k", "v")
    assert double(2) == 4 and double(2) == 4
    assert calls == [2]

    clear_all()

    assert "k" not in cache
    assert double(2) == 4
    assert calls == [2, 2]
