"""Feed polling stage: one conditional GET of a feed and what it tells us, as a typed result."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from shared.errors import Outcome, StageError
from shared.http_client import FetchResult, check_content_type
from workers.stages.feeds import ParsedFeed, parse_feed

Fetcher = Callable[[str, Mapping[str, str]], FetchResult]
FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"
_MAX_AGE_RE = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class Validators:
    etag: str | None
    last_modified: str | None
    body_hash: str | None


@dataclass(frozen=True)
class PollResult:
    outcome: Outcome
    error: str | None
    feed: ParsedFeed | None  # None unless the body was new and parsed
    validators: Validators  # to store for the next conditional GET (None fields: keep the old ones)
    max_age_seconds: int | None = None
    retry_after_seconds: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome in (Outcome.OK, Outcome.NOT_MODIFIED)


def conditional_headers(previous: Validators) -> dict[str, str]:
    headers = {"Accept": FEED_ACCEPT}
    if previous.etag:
        headers["If-None-Match"] = previous.etag
    if previous.last_modified:
        headers["If-Modified-Since"] = previous.last_modified
    return headers


def max_age(headers: Mapping[str, str]) -> int | None:
    match = _MAX_AGE_RE.search(headers.get("cache-control", ""))
    return int(match.group(1)) if match else None


def poll_feed(url: str, previous: Validators, fetch: Fetcher, *, max_entries: int = 1_000) -> PollResult:
    """Fetch a feed conditionally and parse it only if it changed.

    A 304 costs no parsing, and neither does a 200 whose body hashes like the last one: some servers send
    fresh validators (or none) with an unchanged body."""
    try:
        response = fetch(url, conditional_headers(previous))
        if response.status == 304:
            return PollResult(Outcome.NOT_MODIFIED, None, None, Validators(None, None, None),
                              max_age(response.headers))  # fmt: skip
        validators = Validators(
            response.headers.get("etag"),
            response.headers.get("last-modified"),
            hashlib.sha256(response.body).hexdigest(),
        )
        if validators.body_hash == previous.body_hash:
            return PollResult(Outcome.NOT_MODIFIED, None, None, validators, max_age(response.headers))
        check_content_type(response, "feed")
        parsed = parse_feed(response.body, response.url, response.headers.get("content-type"), max_entries=max_entries)
    except StageError as exc:
        return PollResult(exc.outcome, exc.reason, None, Validators(None, None, None),
                          retry_after_seconds=exc.retry_after)  # fmt: skip
    return PollResult(Outcome.OK, None, parsed, validators, max_age(response.headers))
