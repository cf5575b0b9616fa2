"""Reading and writing OPML subscription lists (OPML 2.0, the format every feed reader imports and exports)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime

from lxml import etree

from shared.db.feeds import Feed
from shared.urls import checked_feed_url

# XML 1.0 §2.2 Char: titles come from feeds and editors; what XML cannot carry is dropped, not refused.
_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


OPML_TYPE = "text/x-opml; charset=utf-8"


@dataclass(frozen=True)
class Outline:
    """One subscription: a feed's URL, its title, and the page it belongs to (if any)."""

    xml_url: str
    title: str
    html_url: str | None = None
    feed_type: str = "rss"  # OPML 2.0 ``type`` is "rss" for any feed format, Atom and JSON Feed included


def _clean(text: str) -> str:
    return _NOT_XML_CHAR.sub("", text)


def write_opml(title: str, outlines: Sequence[Outline], created: datetime) -> bytes:
    """An OPML 2.0 document listing ``outlines``: what a reader imports in one step. Built with lxml, so
    every title and URL is escaped as XML, never concatenated."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = _clean(title)
    etree.SubElement(head, "dateCreated").text = format_datetime(created, usegmt=True)
    body = etree.SubElement(root, "body")
    for o in outlines:
        outline = etree.SubElement(body, "outline", type=o.feed_type, text=_clean(o.title), title=_clean(o.title))
        outline.set("xmlUrl", _clean(o.xml_url))
        if o.html_url:
            outline.set("htmlUrl", _clean(o.html_url))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


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


def source_feeds_opml(source_feeds: Iterable[Feed], created: datetime) -> bytes:
    """The source feeds newsmill polls, as OPML: `newsmill feeds import` (or any reader) reads it back."""
    outlines = [Outline(f.url, f.title or f.url, f.site_url) for f in source_feeds]
    return write_opml("newsmill source feeds", outlines, created)
