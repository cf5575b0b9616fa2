"""The rendered-feed cache: bounded by bytes, least recently used out first, oversize bodies not kept."""

from __future__ import annotations

from api.render_cache import RenderCache


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
