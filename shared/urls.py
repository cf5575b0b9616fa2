"""URL canonicalisation: one article is one canonical URL, whatever tracking a feed adds to its links."""

from __future__ import annotations

from urllib.parse import urldefrag, urlsplit

from courlan import normalize_url


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, default port dropped, query sorted, tracking parameters
    (utm_*, fbclid, gclid, ...) and the fragment removed. Idempotent."""
    try:
        normalised = normalize_url(url.strip())
    except ValueError:
        normalised = url.strip()
    return urldefrag(normalised).url


def host_of(url: str) -> str:
    """The host part, lower-cased, without port; empty when the URL has none."""
    return (urlsplit(url).hostname or "").lower()
