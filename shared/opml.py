"""Reading OPML subscription lists (the format every feed reader exports)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from shared.urls import checked_feed_url


@dataclass(frozen=True)
class OpmlFeeds:
    urls: list[str]  # checked and normalised (shared.urls.checked_feed_url), in document order, no duplicates
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (what the outline said, why it was skipped)


def feeds_from_opml(data: bytes) -> OpmlFeeds:
    """Every usable ``xmlUrl`` of every outline, and every outline that names a feed but is not usable (a
    non-http scheme, a malformed URL, a feed outline without a URL), said rather than dropped in silence.
    Outlines without ``xmlUrl`` that do not claim to be feeds are folders, and are not reported.

    Parsed without entity resolution, DTD loading or network access: an OPML file is input too."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not a valid OPML document: {exc}") from exc
    seen: dict[str, None] = {}
    skipped: list[tuple[str, str]] = []
    for outline in root.iter("outline"):
        raw = outline.get("xmlUrl") or outline.get("xmlurl")
        if raw is None:
            if (outline.get("type") or "").lower() in ("rss", "atom"):
                skipped.append((outline.get("text") or outline.get("title") or "?", "a feed outline without xmlUrl"))
            continue
        try:
            seen.setdefault(checked_feed_url(raw), None)
        except ValueError as exc:
            skipped.append((raw, str(exc)))
    return OpmlFeeds(list(seen), skipped)


def feed_urls_from_opml(data: bytes) -> list[str]:
    """The usable feed URLs of an OPML document (see ``feeds_from_opml`` for what is skipped)."""
    return feeds_from_opml(data).urls
