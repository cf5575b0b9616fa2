"""robots.txt for article fetches (RFC 9309), fetched with our client and cached per origin in Redis."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import threading
import time
from collections import OrderedDict
from urllib.parse import urlsplit, urlunsplit

from protego import Protego
from redis import Redis

from shared.errors import Outcome, PermanentError, TransientError
from shared.http_client import FetchPolicy, fetch
from shared.politeness import HostGate
from shared.server_hints import CEILING

KEY_PREFIX = "newsmill:robots:"
MAX_ROBOTS_BYTES = 500 * 1024  # RFC 9309 §2.5: parse at least 500 KiB; we read no more
UNREACHABLE_TTL = 600  # seconds an unreachable robots.txt blocks a host before we ask again
_RULES, _UNREACHABLE = b"R", b"U"
# Parsed rules kept per process, most recently used first out last: a fleet reading thousands of sites must
# not keep every site's parser for the life of a threaded worker (which is never recycled).
MAX_PARSED_ORIGINS = 1_000
# Seconds a process answers from its parsed rules without asking Redis again: an article fetch no longer costs a
# Redis round trip and a hash of the whole robots.txt, and a robots.txt that changed is seen this much later
# (RFC 9309's 24 hours of caching included). "Unreachable" answers are always read from Redis (their wait runs).
LOCAL_TTL = 60.0


class RobotsCache:
    """Answers "may we fetch this URL?" per RFC 9309, caching each origin's answer in Redis for ``ttl`` seconds.

    - 2xx: the rules apply (only the first 500 KiB are read, RFC 9309 §2.5).
    - Redirects are followed by our client, at least five of them (§2.3.1.2).
    - 4xx and other permanent failures (redirect loops, refused redirect targets): "unavailable", everything is
      allowed (§2.3.1.3), cached for ``ttl``.
    - 5xx, 429, timeouts and network errors: "unreachable", everything is disallowed (§2.3.1.4). ``allowed``
      raises TransientError (the fetch's outcome, ``retry_after`` set) instead of returning False, so the
      article is retried later rather than recorded as disallowed. This state is cached for only 10 minutes,
      or for the Retry-After, capped at ``max_delay`` (NEWSMILL_MAX_SERVER_DELAY).
    """

    def __init__(
        self,
        redis: Redis,
        policy: FetchPolicy,
        ttl: int = 86_400,
        max_parsed: int = MAX_PARSED_ORIGINS,
        *,
        gate: HostGate | None = None,
        max_delay: float = CEILING,
        local_ttl: float = LOCAL_TTL,
    ) -> None:
        self.redis = redis
        self.max_parsed = max_parsed
        self.gate = gate  # robots.txt is a request to the host like any other: it takes one of its slots
        self.max_delay = max_delay  # NEWSMILL_MAX_SERVER_DELAY: the longest a Retry-After keeps "unreachable"
        # RFC 9309 §2.4: do not use a cached copy for more than 24 hours.
        self.ttl = min(ttl, 86_400)
        self.policy = dataclasses.replace(
            policy, max_bytes=MAX_ROBOTS_BYTES, max_redirects=max(policy.max_redirects, 5)
        )
        # Match groups on the product token only: a full User-Agent carries URLs and comments that
        # could match unrelated groups (RFC 9309 §2.2.1).
        self.agent = policy.user_agent.split("/", 1)[0].split()[0] if policy.user_agent.strip() else "*"
        self.local_ttl = local_ttl
        # origin -> (digest, parser, time.monotonic() of the Redis read): skip re-parsing, and within local_ttl
        # the read itself; shared by the IO worker's threads
        self._parsed: OrderedDict[str, tuple[bytes, Protego, float]] = OrderedDict()
        self._parsed_lock = threading.Lock()

    def allowed(self, url: str) -> bool:
        """True when robots.txt lets us fetch ``url``; raises TransientError while robots.txt is unreachable."""
        origin = _origin(url)
        if urlsplit(url).path == "/robots.txt":
            return True  # RFC 9309 §2.2.2: robots.txt itself is always allowed
        if (recent := self._recent(origin)) is not None:
            return recent.can_fetch(url, self.agent)
        key = KEY_PREFIX + origin
        entry = self.redis.get(key)
        if entry is None:
            entry = self._refresh(origin, key)
        raw = entry.encode() if isinstance(entry, str) else bytes(entry)
        kind, _, payload = raw.partition(b"\n")
        if kind == _UNREACHABLE:
            outcome, _, reason = payload.decode("utf-8", "replace").partition("\n")
            wait = self.redis.pttl(key)
            retry_after = int(wait) / 1000 if isinstance(wait, int) and wait > 0 else float(UNREACHABLE_TTL)
            raise TransientError(Outcome(outcome), f"robots.txt unreachable: {reason}", retry_after=retry_after)
        return self._parser(origin, payload).can_fetch(url, self.agent)

    def _refresh(self, origin: str, key: str) -> bytes:
        """Fetch robots.txt of ``origin`` and store what it means; returns the stored entry. A busy host
        raises HOST_BUSY before anything is fetched or stored."""
        with self.gate.slot(urlsplit(origin).hostname or "") if self.gate else contextlib.nullcontext():
            entry, ttl = self._fetch(origin)
        self.redis.set(key, entry, ex=ttl)
        return entry

    def _fetch(self, origin: str) -> tuple[bytes, int]:
        """The entry to store for ``origin``'s robots.txt, and for how many seconds."""
        try:
            result = fetch(origin + "/robots.txt", self.policy, truncate=True)
        except PermanentError:
            return _RULES + b"\n", self.ttl  # unavailable: no rules, all allowed
        except TransientError as exc:
            entry = b"\n".join((_UNREACHABLE, exc.outcome.value.encode(), exc.reason.encode("utf-8", "replace")))
            return entry, max(UNREACHABLE_TTL, round(min(exc.retry_after or 0.0, self.max_delay)))
        # 304 cannot happen (no validators sent); any 2xx body is the rules, however it is labelled.
        return _RULES + b"\n" + result.body, self.ttl

    def _recent(self, origin: str) -> Protego | None:
        """The parsed rules of ``origin`` if read from Redis less than ``local_ttl`` seconds ago."""
        with self._parsed_lock:
            cached = self._parsed.get(origin)
        return cached[1] if cached is not None and time.monotonic() - cached[2] < self.local_ttl else None

    def _parser(self, origin: str, body: bytes) -> Protego:
        digest = hashlib.sha256(body).digest()
        now = time.monotonic()
        with self._parsed_lock:
            cached = self._parsed.get(origin)
            if cached is not None and cached[0] == digest:
                self._parsed[origin] = (digest, cached[1], now)
                self._parsed.move_to_end(origin)
                return cached[1]
        parser = Protego.parse(body.decode("utf-8", errors="replace"))  # RFC 9309 §2.3: UTF-8
        with self._parsed_lock:
            self._parsed[origin] = (digest, parser, now)
            self._parsed.move_to_end(origin)
            while len(self._parsed) > self.max_parsed:
                self._parsed.popitem(last=False)
        return parser

    def parsed_origins(self) -> int:
        """How many origins' parsed rules this process keeps (bounded by ``max_parsed``)."""
        return len(self._parsed)


def _origin(url: str) -> str:
    """scheme://host[:port] of ``url``: robots.txt applies per scheme, host and port (RFC 9309 §2.3)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PermanentError(Outcome.BLOCKED_ADDRESS, f"not an http(s) URL: {url!r}")
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2].lower(), "", "", ""))
