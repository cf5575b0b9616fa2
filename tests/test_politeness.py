"""HostGate on a real Redis: spacing, concurrency cap, penalties and slots that outlive their worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis

from shared.errors import Outcome, TransientError
from shared.politeness import KEY_PREFIX, HostGate


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(redis_url)
    yield conn
    conn.close()


def refused(gate: HostGate, host: str) -> TransientError:
    started = time.monotonic()
    with pytest.raises(TransientError) as info, gate.slot(host):
        pass
    assert time.monotonic() - started < 0.5  # refuses at once, never sleeps
    assert info.value.outcome is Outcome.HOST_BUSY
    assert info.value.retry_after is not None
    assert info.value.retry_after > 0
    return info.value


def test_concurrency_cap_is_shared_between_gates(client: redis.Redis) -> None:
    worker_a, worker_b = HostGate(client, 0, 2), HostGate(client, 0, 2)
    with worker_a.slot("news.example"), worker_b.slot("news.example"):
        refused(worker_a, "news.example")
        refused(worker_b, "NEWS.example.")  # the same host, however it is spelled
        with worker_a.slot("other.example"):
            pass
    with worker_b.slot("news.example"):  # released on exit
        pass


def test_slot_is_released_when_the_block_raises(client: redis.Redis) -> None:
    gate = HostGate(client, 0, 1)
    with pytest.raises(ValueError, match="boom"), gate.slot("news.example"):
        raise ValueError("boom")
    with gate.slot("news.example"):
        pass


def test_min_delay_between_request_starts(client: redis.Redis) -> None:
    gate = HostGate(client, 0.3, 5)
    with gate.slot("news.example"):
        pass
    error = refused(gate, "news.example")
    assert error.retry_after is not None
    assert error.retry_after <= 0.3
    time.sleep(error.retry_after + 0.05)
    with gate.slot("news.example"):
        pass


def test_slot_of_a_dead_worker_expires(client: redis.Redis) -> None:
    gate = HostGate(client, 0, 1, slot_ttl=0.2)
    held = gate.slot("news.example")
    held.__enter__()  # a worker killed mid-fetch never leaves the block (kept referenced: no GC clean-up)
    refused(gate, "news.example")
    time.sleep(0.3)
    with gate.slot("news.example"):
        pass
    del held


def test_penalty_refuses_until_it_ends_and_is_never_shortened(client: redis.Redis) -> None:
    gate = HostGate(client, 0, 5)
    gate.penalise("news.example", 30)
    gate.penalise("news.example", 1)  # a later, shorter penalty does not cut the first one short
    error = refused(gate, "news.example")
    assert error.retry_after is not None
    assert 29 < error.retry_after <= 30
    with gate.slot("other.example"):
        pass
    gate.penalise("quick.example", 0.2)
    refused(gate, "quick.example")
    time.sleep(0.3)
    with gate.slot("quick.example"):
        pass


def test_keys_are_prefixed_and_all_expire(client: redis.Redis) -> None:
    gate = HostGate(client, 1.0, 2)
    with gate.slot("news.example"):
        gate.penalise("news.example", 5)
        keys = [key.decode() if isinstance(key, bytes) else key for key in client.keys("*")]
        assert sorted(keys) == sorted(KEY_PREFIX + f"news.example:{k}" for k in ("slots", "spacing", "penalty"))
        assert all(client.pttl(key) > 0 for key in keys)


def test_cap_holds_under_contention(client: redis.Redis) -> None:
    gate = HostGate(client, 0, 3)
    lock = threading.Lock()
    inside, most, admitted = [0], [0], [0]

    def worker() -> None:
        for _ in range(20):
            try:
                with gate.slot("news.example"):
                    with lock:
                        inside[0] += 1
                        most[0] = max(most[0], inside[0])
                        admitted[0] += 1
                    time.sleep(0.005)
                    with lock:
                        inside[0] -= 1
            except TransientError:
                time.sleep(0.001)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] <= 3
    assert admitted[0] > 0


def test_bad_arguments_fail_at_construction(client: redis.Redis) -> None:
    with pytest.raises(ValueError, match="max_concurrency"):
        HostGate(client, 1.0, 0)
