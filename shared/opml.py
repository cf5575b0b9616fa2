"""Reading and writing OPML subscription lists (OPML 2.0, the format every feed reader imports and exports)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from lxml import etree

from shared.db.feeds import Feed

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


def feed_urls_from_opml(data: bytes) -> list[str]:
    """Every ``xmlUrl`` of every outline, in document order, without duplicates.

    Parsed without entity resolution, DTD loading or network access: an OPML file is input too."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not a valid OPML document: {exc}") from exc
    seen: dict[str, None] = {}
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if url.startswith(("http://", "https://")):
            seen.setdefault(url, None)
    return list(seen)


def source_feeds_opml(source_feeds: Iterable[Feed], created: datetime) -> bytes:
    """The source feeds newsmill polls, as OPML: `newsmill feeds import` (or any reader) reads it back."""
    outlines = [Outline(f.url, f.title or f.url, f.site_url) for f in source_feeds]
    return write_opml("newsmill source feeds", outlines, created)
