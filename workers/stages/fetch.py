"""Article fetching stage: robots.txt, per-host politeness, then one bounded GET through our client."""

from __future__ import annotations

from shared.errors import Outcome, PermanentError, TransientError
from shared.http_client import FetchPolicy, FetchResult, check_content_type, fetch
from shared.politeness import HostGate
from shared.robots import RobotsCache
from shared.urls import host_of

HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"


def fetch_article(
    url: str, policy: FetchPolicy, gate: HostGate | None = None, robots: RobotsCache | None = None
) -> FetchResult:
    """Fetch an article page; raises PermanentError or TransientError with a named outcome.

    A busy host raises TransientError(HOST_BUSY) at once rather than waiting, so the task is rescheduled and
    the worker serves other hosts meanwhile."""
    if robots is not None and not robots.allowed(url):
        raise PermanentError(Outcome.ROBOTS_DISALLOWED, f"robots.txt disallows {url}")
    host = host_of(url)
    try:
        if gate is None:
            result = fetch(url, policy, headers={"Accept": HTML_ACCEPT})
        else:
            with gate.slot(host):
                result = fetch(url, policy, headers={"Accept": HTML_ACCEPT})
    except TransientError as exc:
        if gate is not None and exc.outcome in (Outcome.RATE_LIMITED, Outcome.SERVER_ERROR):
            # The host asked us to slow down (429, or 503 with Retry-After): every worker backs off it.
            gate.penalise(host, exc.retry_after or 30.0)
        raise
    check_content_type(result, "html")
    return result
