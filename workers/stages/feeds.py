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
from shared.feed_entry import FeedEntry
from shared.languages import normalise_language
from shared.server_hints import ttl_minutes
from shared.urls import canonical_url

MAX_TITLE = 1_000
MAX_URL = 4_096
# An internal DTD subset is the only way to declare entities; feeds have no legitimate use for one.
_DOCTYPE_RE = re.compile(rb"<!DOCTYPE[^>\[]*(\[.*?\]\s*)?>", re.IGNORECASE | re.DOTALL)
_ENTITY_DECL_RE = re.compile(rb"<!ENTITY", re.IGNORECASE)
# XML 1.0 §2.2 forbids NUL and lone surrogates even as references, but feedparser raises on the whole
# document for one `&#xD800;`; such references become U+FFFD so the feed's other entries survive.
_CHAR_REF_RE = re.compile(rb"&#(x[0-9a-f]{1,8}|[0-9]{1,10});", re.IGNORECASE)
# What PostgreSQL text refuses (NUL) or cannot encode (a lone surrogate) in a parsed field.
_UNSTORABLE_RE = re.compile("\x00|[\ud800-\udfff]")


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    site_url: str | None
    language: str | None
    ttl_seconds: float | None  # RSS <ttl>, at most shared.server_hints.CEILING
    entries: list[FeedEntry]
    skipped_entries: int  # entries without a usable http(s) link, or beyond the per-poll cap


def strip_doctype(body: bytes) -> bytes:
    """Remove the DOCTYPE (and any entity declarations) before a parser sees the document."""
    body = _DOCTYPE_RE.sub(b"", body, count=1)
    if _ENTITY_DECL_RE.search(body):  # a declaration outside a well-formed DOCTYPE: refuse to guess
        raise PermanentError(Outcome.NOT_A_FEED, "feed declares XML entities outside a DOCTYPE")
    return body


def _without_nul(body: bytes) -> bytes:
    """Drop NUL bytes from a single-byte or UTF-8 document: never legal in XML, one sends feedparser to its
    loose parser, which leaves some fields entity-escaped. UTF-16/32 documents (NULs in their first bytes or a
    BOM) are left alone: their NULs are half of every ASCII character."""
    head = body[:4]
    if b"\x00" not in body or b"\x00" in head or head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return body
    return body.replace(b"\x00", b"")


def _char_ref(match: re.Match[bytes]) -> bytes:
    digits = match.group(1).decode("ascii")
    code = int(digits[1:], 16) if digits[0] in "xX" else int(digits)
    return b"&#xFFFD;" if code == 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF else match.group(0)


def storable(value: str) -> str:
    """``value`` without NULs, lone surrogates as U+FFFD: what PostgreSQL text can hold."""
    return _UNSTORABLE_RE.sub(lambda m: "" if m.group(0) == "\x00" else "\ufffd", value)


def _text(value: Any, limit: int = MAX_TITLE) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(storable(value).split())
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
    url = urljoin(feed_url, storable(link).strip())[:MAX_URL]
    if urlsplit(url).scheme not in ("http", "https"):
        return None
    guid = storable(raw.get("id")) if isinstance(raw.get("id"), str) else None
    return FeedEntry(
        guid=guid[:MAX_URL] if guid and guid.strip() else None,
        url=url,
        canonical_url=canonical_url(url),
        title=_text(raw.get("title")),
        author=_text(raw.get("author"), 300),
        published_at=_timestamp(raw),
        language=normalise_language(_text(raw.get("language"), 20)) or feed_language,
    )


def parse_feed(body: bytes, feed_url: str, content_type: str | None, *, max_entries: int = 1_000) -> ParsedFeed:
    """Parse an RSS/Atom document; raises PermanentError for anything that is not a usable feed."""
    body = _CHAR_REF_RE.sub(_char_ref, _without_nul(strip_doctype(body)))
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
    language = normalise_language(_text(meta.get("language"), 20))
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
        ttl_seconds=ttl_minutes(ttl) if isinstance(ttl, str) else None,
        entries=entries,
        skipped_entries=skipped,
    )
