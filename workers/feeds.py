"""Feed parsing stage: bytes we fetched ourselves in, a typed list of entries out.

feedparser is never allowed to fetch (it has no timeout and follows redirects anywhere), and it is only
given bytes whose DTD has been removed: its fallback parser expands a large internal entity referenced many
times without limit (the "quadratic blowup": a 130 KB feed became a 2.9 GiB field).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from shared.errors import Outcome, PermanentError
from shared.urls import canonical_url

MAX_TITLE = 1_000
MAX_URL = 4_096
# An internal DTD subset is the only way to declare entities; feeds have no legitimate use for one.
_DOCTYPE_RE = re.compile(rb"<!DOCTYPE[^>\[]*(\[.*?\]\s*)?>", re.IGNORECASE | re.DOTALL)
_ENTITY_DECL_RE = re.compile(rb"<!ENTITY", re.IGNORECASE)


@dataclass(frozen=True)
class FeedEntry:
    guid: str | None
    url: str
    canonical_url: str
    title: str | None
    author: str | None
    published_at: datetime | None
    language: str | None


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    site_url: str | None
    language: str | None
    ttl_seconds: int | None
    entries: list[FeedEntry]
    skipped_entries: int  # entries without a usable http(s) link, or beyond the per-poll cap


def strip_doctype(body: bytes) -> bytes:
    """Remove the DOCTYPE (and any entity declarations) before a parser sees the document."""
    body = _DOCTYPE_RE.sub(b"", body, count=1)
    if _ENTITY_DECL_RE.search(body):  # a declaration outside a well-formed DOCTYPE: refuse to guess
        raise PermanentError(Outcome.NOT_A_FEED, "feed declares XML entities outside a DOCTYPE")
    return body


def _text(value: Any, limit: int = MAX_TITLE) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value[:limit] or None


def _timestamp(entry: Any) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _entry(raw: Any, feed_url: str, feed_language: str | None) -> FeedEntry | None:
    link = raw.get("link") or next(
        (lk.get("href") for lk in raw.get("links", []) if lk.get("rel", "alternate") == "alternate"), None
    )
    if not isinstance(link, str) or not link.strip():
        return None
    url = urljoin(feed_url, link.strip())[:MAX_URL]
    if urlsplit(url).scheme not in ("http", "https"):
        return None
    guid = raw.get("id")
    return FeedEntry(
        guid=guid[:MAX_URL] if isinstance(guid, str) and guid.strip() else None,
        url=url,
        canonical_url=canonical_url(url),
        title=_text(raw.get("title")),
        author=_text(raw.get("author"), 300),
        published_at=_timestamp(raw),
        language=_text(raw.get("language"), 20) or feed_language,
    )


def parse_feed(body: bytes, feed_url: str, content_type: str | None, *, max_entries: int = 1_000) -> ParsedFeed:
    """Parse an RSS/Atom document; raises PermanentError for anything that is not a usable feed."""
    body = strip_doctype(body)
    headers = {"content-location": feed_url}
    if content_type:
        headers["content-type"] = content_type
    try:
        parsed = feedparser.parse(body, response_headers=headers, sanitize_html=False)
    except Exception as exc:  # feedparser raises arbitrary errors on hostile input
        raise PermanentError(Outcome.NOT_A_FEED, f"feed could not be parsed: {type(exc).__name__}") from exc
    if not parsed.entries and (parsed.get("bozo") or not parsed.get("version")):
        # An empty but well-formed feed is fine; an empty broken one is most likely not a feed at all.
        why = parsed.get("bozo_exception")
        detail = f" ({type(why).__name__}: {str(why)[:200]})" if why else ""
        raise PermanentError(Outcome.NOT_A_FEED, f"not an RSS or Atom feed{detail}")
    meta = parsed.feed
    language = _text(meta.get("language"), 20)
    entries: list[FeedEntry] = []
    skipped = max(0, len(parsed.entries) - max_entries)
    for raw in parsed.entries[:max_entries]:
        entry = _entry(raw, feed_url, language)
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    if parsed.entries and not entries:
        raise PermanentError(Outcome.NO_CONTENT, f"{len(parsed.entries)} entries and none has an http(s) link")
    ttl = meta.get("ttl")
    return ParsedFeed(
        title=_text(meta.get("title")),
        site_url=_text(meta.get("link"), MAX_URL),
        language=language,
        ttl_seconds=int(ttl) * 60 if isinstance(ttl, str) and ttl.strip().isdigit() else None,
        entries=entries,
        skipped_entries=skipped,
    )
