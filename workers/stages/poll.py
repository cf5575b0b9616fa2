"""Feed polling stage: one conditional GET of a feed and what it tells us, as a typed result."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from shared.errors import Outcome, StageError
from shared.http_client import FetchResult, check_content_type
from shared.server_hints import max_age
from workers.stages.feeds import ParsedFeed, parse_feed

Fetcher = Callable[[str, Mapping[str, str]], FetchResult]
FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"
# Validators go back to the server in If-None-Match / If-Modified-Since as they came. A header value we send
# must be visible ASCII: a UTF-8 ETag once made a feed unpollable forever (httpx cannot encode it), and an
# ETag of kilobytes is a server bug or an attack. Such a validator is dropped (and said so on the feed).
MAX_VALIDATOR_CHARS = 1_024


@dataclass(frozen=True)
class Validators:
    etag: str | None
    last_modified: str | None
    body_hash: str | None


NO_VALIDATORS = Validators(None, None, None)


@dataclass(frozen=True)
class PollResult:
    outcome: Outcome
    error: str | None  # the reason of a failure, or a note on a success (a validator that was dropped)
    feed: ParsedFeed | None  # None unless the body was new and parsed
    validators: Validators  # to store for the next conditional GET (None fields: keep the old ones)
    max_age_seconds: float | None = None
    retry_after_seconds: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome in (Outcome.OK, Outcome.NOT_MODIFIED, Outcome.UNCHANGED)


def usable_validator(value: str | None) -> str | None:
    """``value`` when it can be sent back as a header value: printable ASCII, at most MAX_VALIDATOR_CHARS."""
    value = (value or "").strip()
    if not value or len(value) > MAX_VALIDATOR_CHARS or not all(" " <= c <= "~" for c in value):
        return None
    return value


def conditional_headers(previous: Validators) -> dict[str, str]:
    headers = {"Accept": FEED_ACCEPT}
    # Checked again on the way out: a row stored before validators were checked may hold anything.
    if etag := usable_validator(previous.etag):
        headers["If-None-Match"] = etag
    if last_modified := usable_validator(previous.last_modified):
        headers["If-Modified-Since"] = last_modified
    return headers


def received_validators(headers: Mapping[str, str], body: bytes) -> tuple[Validators, str | None]:
    """The validators of a 200 that can be sent back next time, and a note naming those that cannot."""
    dropped = [
        f"{name} {value[:40]!r}{'…' if len(value) > 40 else ''}"
        for name, value in (("ETag", headers.get("etag")), ("Last-Modified", headers.get("last-modified")))
        if value is not None and value.strip() and usable_validator(value) is None
    ]
    note = None
    if dropped:
        note = (f"ignored the server's {' and '.join(dropped)}: a validator is sent back only as printable "
                f"ASCII of at most {MAX_VALIDATOR_CHARS} characters")  # fmt: skip
    etag, last_modified = usable_validator(headers.get("etag")), usable_validator(headers.get("last-modified"))
    return Validators(etag, last_modified, hashlib.sha256(body).hexdigest()), note


def poll_feed(url: str, previous: Validators, fetch: Fetcher, *, max_entries: int = 1_000) -> PollResult:
    """Fetch a feed conditionally and parse it only if it changed.

    A 304 (``not_modified``) costs no parsing, and neither does a 200 whose body hashes like the last one
    (``unchanged``): some servers send fresh validators (or none) with an unchanged body."""
    try:
        response = fetch(url, conditional_headers(previous))
        hint = max_age(response.headers)
        if response.status == 304:
            return PollResult(Outcome.NOT_MODIFIED, None, None, NO_VALIDATORS, hint)
        validators, note = received_validators(response.headers, response.body)
        if validators.body_hash == previous.body_hash:
            return PollResult(Outcome.UNCHANGED, note, None, validators, hint)
        check_content_type(response, "feed")
        parsed = parse_feed(response.body, response.url, response.headers.get("content-type"), max_entries=max_entries)
    except StageError as exc:
        return PollResult(exc.outcome, exc.reason, None, NO_VALIDATORS, retry_after_seconds=exc.retry_after)
    return PollResult(Outcome.OK, note, parsed, validators, hint)
