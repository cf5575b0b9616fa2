"""Named outcomes of a stage and the two exception types every stage raises."""

from __future__ import annotations

import enum


class Outcome(enum.StrEnum):
    """What happened to one unit of work; stored on the feed or item, used as a metric label."""

    OK = "ok"
    NOT_MODIFIED = "not_modified"  # the server answered 304 to our conditional GET
    UNCHANGED = "unchanged"  # the server answered 200 with the very body of the last poll
    # Permanent: retrying the same input will not help.
    HTTP_ERROR = "http_error"  # 4xx other than 408/429
    BLOCKED_ADDRESS = "blocked_address"  # private / loopback / link-local destination
    TOO_LARGE = "too_large"
    BAD_CONTENT_TYPE = "bad_content_type"
    BAD_REDIRECT = "bad_redirect"  # loop, too many, or missing Location
    EMPTY = "empty"
    NOT_A_FEED = "not_a_feed"
    NO_CONTENT = "no_content"  # extraction found no article text
    ROBOTS_DISALLOWED = "robots_disallowed"
    EXTRACT_TIMEOUT = "extract_timeout"
    ENRICH_FAILED = "enrich_failed"  # enrichment killed its worker on every attempt
    # Transient: worth another try later.
    TIMEOUT = "timeout"
    NETWORK_ERROR = "network_error"
    SERVER_ERROR = "server_error"  # 5xx, 408
    RATE_LIMITED = "rate_limited"  # 429
    HOST_BUSY = "host_busy"  # our own politeness limiter said wait
    INTERNAL_ERROR = "internal_error"  # an unexpected exception in newsmill or a library: a bug, recorded


class StageError(Exception):
    """Base of the two stage exceptions; carries a named outcome and a readable reason."""

    transient = False

    def __init__(self, outcome: Outcome, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{outcome.value}: {reason}")
        self.outcome = outcome
        self.reason = reason
        self.retry_after = retry_after


class PermanentError(StageError):
    """The input is bad; record the outcome and stop working on it."""


class TransientError(StageError):
    """The world is briefly unwell; try again later (``retry_after`` seconds if the server said)."""

    transient = True
