"""The topic-feed caches: rendered bodies bounded by bytes (least recently used out first, oversize bodies not
kept), and feed states reused for their TTL with one load for concurrent readers."""

from __future__ import annotations

import asyncio

from api.render_cache import RenderCache, StateCache


def test_evicts_least_recently_used_when_over_budget() -> None:
    cache = RenderCache(max_bytes=400)
    for name in ("a", "b", "c"):
        cache.put((name, "u"), (b"x" * 100, "text/plain"))
    assert cache.get(("a", "u")) is not None  # a is now the most recent
    cache.put(("d", "u"), (b"x" * 100, "text/plain"))
    cache.put(("e", "u"), (b"x" * 100, "text/plain"))  # 500 bytes > 400: the least recent (b) goes
    assert cache.get(("b", "u")) is None
    assert [cache.get((n, "u")) is not None for n in ("a", "c", "d", "e")] == [True] * 4


def test_replacing_a_key_does_not_double_count_and_huge_bodies_are_skipped() -> None:
    cache = RenderCache(max_bytes=400)
    for _ in range(10):
        cache.put(("a", "u"), (b"x" * 90, "text/plain"))
    cache.put(("b", "u"), (b"x" * 90, "text/plain"))
    assert cache.get(("a", "u")) == (b"x" * 90, "text/plain")
    cache.put(("huge", "u"), (b"x" * 101, "text/plain"))  # over a quarter of the budget
    assert cache.get(("huge", "u")) is None
    assert cache.get(("b", "u")) is not None


def test_state_cache_loads_once_for_concurrent_readers_and_expires() -> None:
    asyncio.run(_state_cache_loads_once_for_concurrent_readers_and_expires())


async def _state_cache_loads_once_for_concurrent_readers_and_expires() -> None:
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.05)
        return loads

    cache: StateCache[int] = StateCache(ttl=0.3)
    assert await asyncio.gather(*(cache.get("t", load) for _ in range(50))) == [1] * 50
    assert loads == 1
    assert await cache.get("t", load) == 1  # fresh: no load
    await asyncio.sleep(0.35)
    assert await cache.get("t", load) == 2  # expired: loaded again
    assert loads == 2


def test_state_cache_keeps_no_unknown_topic_and_ttl_zero_always_loads() -> None:
    asyncio.run(_state_cache_keeps_no_unknown_topic_and_ttl_zero_always_loads())


async def _state_cache_keeps_no_unknown_topic_and_ttl_zero_always_loads() -> None:
    calls: list[str] = []

    async def missing() -> int | None:
        calls.append("missing")
        return None

    cache: StateCache[int] = StateCache(ttl=60)
    assert await cache.get("nope", missing) is None
    assert await cache.get("nope", missing) is None
    assert calls == ["missing", "missing"]

    always: StateCache[int] = StateCache(ttl=0)

    async def value() -> int:
        calls.append("value")
        return 7

    assert [await always.get("t", value) for _ in range(3)] == [7, 7, 7]
    assert calls.count("value") == 3


def test_a_reader_giving_up_does_not_cancel_the_load_others_await() -> None:
    asyncio.run(_a_reader_giving_up_does_not_cancel_the_load_others_await())


async def _a_reader_giving_up_does_not_cancel_the_load_others_await() -> None:
    release = asyncio.Event()

    async def slow() -> int:
        await release.wait()
        return 42

    cache: StateCache[int] = StateCache(ttl=60)
    first = asyncio.ensure_future(cache.get("t", slow))
    second = asyncio.ensure_future(cache.get("t", slow))
    await asyncio.sleep(0)
    first.cancel()
    release.set()
    assert await second == 42
    assert await cache.get("t", slow) == 42  # kept
