"""Validators for conditional GETs (RFC 9110 §8.8, §13): a strong ETag from what the response depends on,
Last-Modified, and the decision to answer 304 before any rendering."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from starlette.datastructures import Headers


def strong_etag(*parts: object) -> str:
    """A quoted strong ETag: equal inputs, equal tag; any change of input, a different one."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).hexdigest()[:32]
    return f'"{digest}"'


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _etag_matches(header: str, etag: str) -> bool:
    # If-None-Match uses the weak comparison (§13.1.2): W/"x" matches "x".
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def not_modified(headers: Headers, etag: str, last_modified: datetime | None) -> bool:
    """True when the client's copy is current. If-None-Match, when sent, decides alone (§13.2.2);
    If-Modified-Since is compared at the one-second precision of HTTP dates."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        return _etag_matches(if_none_match, etag)
    since = headers.get("if-modified-since")
    if since is None or last_modified is None:
        return False
    try:
        client_time = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False  # an unparsable date is ignored (§13.1.3)
    if client_time.tzinfo is None:
        client_time = client_time.replace(tzinfo=UTC)
    return last_modified.replace(microsecond=0) <= client_time
