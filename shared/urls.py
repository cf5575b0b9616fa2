"""URL canonicalisation: one article is one canonical URL, whatever tracking a feed adds to its links."""

from __future__ import annotations

import unicodedata
from urllib.parse import urldefrag, urlsplit, urlunsplit

# Longest feed URL accepted from a user (CLI, API, OPML): what servers and browsers reliably handle.
MAX_FEED_URL = 2_048


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, default port dropped, query sorted, tracking parameters
    (utm_*, fbclid, gclid, ...) and the fragment removed. Idempotent."""
    from courlan import normalize_url  # noqa: PLC0415 - ~70 ms to import; most commands never canonicalise

    try:
        normalised = normalize_url(url.strip())
    except ValueError:
        normalised = url.strip()
    return urldefrag(normalised).url


def host_of(url: str) -> str:
    """The host part, lower-cased, without port; empty when the URL has none."""
    return (urlsplit(url).hostname or "").lower()


def _forbidden_character(url: str) -> str | None:
    """A readable name of the first whitespace, control or invisible format character in ``url``."""
    for char in url:
        if char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Cs"):
            return "a space" if char == " " else f"the character U+{ord(char):04X}"
    return None


def checked_feed_url(text: str) -> str:
    """``text`` as a feed URL to store, its scheme and host lower-cased (``HTTP://Example.COM/Feed`` is
    ``http://example.com/Feed``); ValueError says in one line what is wrong: not http(s), no host, a port
    outside 1-65535, whitespace or control characters, more than MAX_FEED_URL characters."""
    url = text.strip()
    if not url:
        raise ValueError("empty URL")
    if len(url) > MAX_FEED_URL:
        raise ValueError(f"a URL of {len(url)} characters; at most {MAX_FEED_URL}")
    if (bad := _forbidden_character(url)) is not None:
        raise ValueError(f"the URL contains {bad}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # a port out of range or not a number, unbalanced IPv6 brackets
        raise ValueError(f"malformed URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        scheme = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
        raise ValueError(f"not an http(s) URL ({scheme})")
    if not parts.hostname:
        raise ValueError("no host in the URL")
    if port == 0:
        raise ValueError("port 0: a port is 1-65535")
    try:
        parts.hostname.encode("idna")  # empty labels, labels over 63 characters
    except UnicodeError:
        raise ValueError(f"{parts.hostname!r} is not a valid host name") from None
    userinfo, at, hostport = parts.netloc.rpartition("@")
    return urlunsplit((parts.scheme.lower(), userinfo + at + hostport.lower(), parts.path, parts.query, parts.fragment))
