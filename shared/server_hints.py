"""Delays a server asks for (Retry-After, Cache-Control max-age, RSS ttl), read defensively and clamped.

Whatever the server writes, a hint here is None or a finite number of seconds in [0, CEILING]: a year of
seconds, a date in year 9999, twenty nines or five thousand digits never become an overflow, a Redis
error or a host blocked for a year. Each consumer then caps the hint at its own setting (the host penalty at
NEWSMILL_MAX_SERVER_DELAY with ``clamp``; a feed's next poll at NEWSMILL_POLL_MAX_INTERVAL, an item's retry
and a busy host's wait with floors of their own).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Past any cap a setting may hold, short of every overflow: now + CEILING is a valid datetime for
# centuries, and CEILING in milliseconds fits a Redis 64-bit integer.
CEILING = 10 * 365 * 86_400.0
# More digits than this cannot be below CEILING; int() of thousands of digits even raises (CPython's
# int_max_str_digits), so such values are read as "very long" without converting them.
_MAX_DIGITS = 12
_MAX_AGE_RE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


def delta_seconds(text: str) -> float | None:
    """Seconds of a delta-seconds value (RFC 9111 §1.2.2: ASCII digits only), at most CEILING."""
    text = text.strip()
    if not text or not text.isascii() or not text.isdigit():
        return None
    if len(text.lstrip("0")) > _MAX_DIGITS:
        return CEILING
    return min(float(int(text)), CEILING)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds or an HTTP-date (RFC 9110 §10.2.3); None for
    anything else (negative, fractional, garbage). A date in the past means no wait."""
    value = (value or "").strip()
    if not value:
        return None
    seconds = delta_seconds(value)
    if seconds is not None or value.isdigit():
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # An HTTP-date is always GMT (RFC 9110 §5.6.7); the "-0000" spelling parses as naive.
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    return min(max(0.0, (when - now).total_seconds()), CEILING)


def max_age(headers: Mapping[str, str]) -> float | None:
    """Cache-Control max-age of a response (names lower-cased), at most CEILING."""
    match = _MAX_AGE_RE.search(headers.get("cache-control", ""))
    return delta_seconds(match.group(1)) if match else None


def ttl_minutes(text: str | None) -> float | None:
    """Seconds of an RSS ``<ttl>`` (minutes), at most CEILING."""
    minutes = delta_seconds(text or "")
    return None if minutes is None else min(minutes * 60, CEILING)


def clamp(seconds: float | None, cap: float) -> float | None:
    """``seconds`` within [0, cap]; None stays None, NaN counts as no hint."""
    if seconds is None or math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), cap)
