"""Fetching through the per-host limiter: article pages (after robots.txt) and feed documents alike."""

from __future__ import annotations

from collections.abc import Mapping

from shared.errors import Outcome, PermanentError, TransientError
from shared.http_client import FetchPolicy, FetchResult, check_content_type, fetch
from shared.politeness import HostGate
from shared.robots import RobotsCache
from shared.urls import host_of

HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
# How long a 5xx without Retry-After holds its host back for every worker.
DEFAULT_PENALTY = 30.0


def fetch_politely(
    url: str, policy: FetchPolicy, gate: HostGate | None, headers: Mapping[str, str] | None = None
) -> FetchResult:
    """One GET holding one of the host's slots; raises PermanentError or TransientError with a named outcome.

    A busy host raises TransientError(HOST_BUSY) at once rather than waiting, so the caller reschedules and
    the worker serves other hosts meanwhile. A 429 or 5xx holds the host back for every worker, for its
    Retry-After capped at the gate's ``max_penalty`` (NEWSMILL_MAX_SERVER_DELAY); the reason says so."""
    if gate is None:
        return fetch(url, policy, headers=headers)
    host = host_of(url)
    try:
        with gate.slot(host):
            return fetch(url, policy, headers=headers)
    except TransientError as exc:
        if exc.outcome not in (Outcome.RATE_LIMITED, Outcome.SERVER_ERROR):
            raise
        held = gate.penalise(host, DEFAULT_PENALTY if exc.retry_after is None else exc.retry_after)
        asked = exc.retry_after
        capped = f" (its Retry-After: {asked:g} s)" if asked is not None and asked > held else ""
        reason = f"{exc.reason}; {host} held back {held:g} s{capped}"
        # The server's own Retry-After goes on: each caller caps it (an item at an hour, a feed at
        # NEWSMILL_POLL_MAX_INTERVAL); only the host-wide penalty is capped here.
        raise TransientError(exc.outcome, reason, retry_after=asked) from exc


def fetch_article(
    url: str, policy: FetchPolicy, gate: HostGate | None = None, robots: RobotsCache | None = None
) -> FetchResult:
    """Fetch an article page; raises PermanentError or TransientError with a named outcome."""
    if robots is not None and not robots.allowed(url):
        raise PermanentError(Outcome.ROBOTS_DISALLOWED, f"robots.txt disallows {url}")
    result = fetch_politely(url, policy, gate, {"Accept": HTML_ACCEPT})
    check_content_type(result, "html")
    return result
