"""Per-host politeness shared by every worker through Redis: spacing, a concurrency cap and penalties."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from redis import Redis

from shared.errors import Outcome, TransientError
from shared.server_hints import clamp

KEY_PREFIX = "newsmill:host:"

# Admit one request to a host or say how long to wait, atomically. Times are the Redis server's clock, so workers
# whose clocks disagree still share one schedule. Every key carries a TTL: a worker that dies holding a slot
# leaves an entry that expires on its own.
#   KEYS[1] slots   sorted set: token -> expiry (ms)      ARGV[1] max concurrency
#   KEYS[2] spacing exists while min_delay runs            ARGV[2] min delay (ms)
#   KEYS[3] penalty exists while the host is penalised     ARGV[3] slot TTL (ms)   ARGV[4] token
# Returns 0 when admitted, else milliseconds to wait.
_ADMIT = """
local wait = redis.call('PTTL', KEYS[3])
if wait > 0 then return wait end
wait = redis.call('PTTL', KEYS[2])
if wait > 0 then return wait end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local busy = math.max(tonumber(ARGV[2]), 1000)
  return math.max(1, math.min(busy, tonumber(first[2]) - now))
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[4])
redis.call('PEXPIRE', KEYS[1], ttl)
if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[2], '1', 'PX', ARGV[2]) end
return 0
"""

# Extend a penalty, never shorten one already running.   KEYS[1] penalty   ARGV[1] duration (ms)
_PENALISE = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 0
"""


class HostGate:
    """Admits requests to a host across all workers, or raises TransientError(HOST_BUSY) at once.

    A refused caller should reschedule its task for ``retry_after`` seconds rather than sleep: a worker blocked
    on one slow host is a worker not fetching from the others.
    """

    def __init__(
        self,
        redis: Redis,
        min_delay: float,
        max_concurrency: int,
        *,
        slot_ttl: float = 120.0,
        max_penalty: float = 21_600.0,
    ) -> None:
        if max_concurrency < 1 or min_delay < 0 or slot_ttl <= 0 or max_penalty <= 0:
            raise ValueError("max_concurrency must be >= 1, min_delay >= 0, slot_ttl and max_penalty > 0")
        self.redis = redis
        self.min_delay = min_delay
        self.max_concurrency = max_concurrency
        self.slot_ttl = slot_ttl  # longer than any fetch (total_timeout), or a live slot could expire early
        # NEWSMILL_MAX_SERVER_DELAY: a server's Retry-After of a year must not take its host away for a year.
        self.max_penalty = max_penalty
        self._admit = redis.register_script(_ADMIT)
        self._penalise = redis.register_script(_PENALISE)

    @staticmethod
    def host(host: str) -> str:
        """How the gate spells a host: one schedule for ``News.example.`` and ``news.example``."""
        return host.lower().rstrip(".")

    @staticmethod
    def keys(host: str) -> tuple[str, str, str]:
        """The slots, spacing and penalty keys of ``host``."""
        base = KEY_PREFIX + HostGate.host(host)
        return f"{base}:slots", f"{base}:spacing", f"{base}:penalty"

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        """Hold one of ``host``'s slots for the block, or raise HOST_BUSY with the seconds to wait."""
        slots, spacing, penalty = self.keys(host)
        token = uuid.uuid4().hex
        args = [self.max_concurrency, _ms(self.min_delay), _ms(self.slot_ttl), token]
        wait = int(self._admit(keys=[slots, spacing, penalty], args=args))  # type: ignore[arg-type]
        if wait > 0:
            raise TransientError(Outcome.HOST_BUSY, f"{host} is busy for {wait} ms", retry_after=wait / 1000)
        try:
            yield
        finally:
            self.redis.zrem(slots, token)

    def penalise(self, host: str, seconds: float) -> float:
        """Refuse ``host`` for ``seconds`` (after a 429 or 503), at most ``max_penalty``, unless a longer
        penalty already runs; returns the seconds applied."""
        seconds = clamp(seconds, self.max_penalty) or 0.0  # NaN is no penalty
        if seconds > 0:
            self._penalise(keys=[self.keys(host)[2]], args=[_ms(seconds)])
        return seconds


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))
