"""Render stories as Atom or RSS (built with feedgen) or JSON Feed 1.1 (a dict serialised with json).

Article text is untrusted. Every field is written so that a reader shows its characters and runs nothing,
whether it treats the field as text or as HTML: text fields carry inert text (shared/feed_text.py), Atom's are
declared ``type="html"``, and the bodies (Atom ``<content>``, RSS ``<content:encoded>``, JSON
``content_html``) are paragraphs of escaped text. lxml then escapes it all once more as XML text, never as
CDATA (a ``]]>`` in an article would end a CDATA section).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from shared.db.topic_feed import OtherReport, Story
from shared.feed_text import html_text, inert, safe_url, xml_safe

__all__ = ["CONTENT_TYPES", "FeedLinks", "OtherReport", "Story", "render_feed", "story_html", "summary_of",
           "web_link"]  # fmt: skip

FeedFormat = Literal["atom", "rss", "json"]
CONTENT_TYPES: dict[str, str] = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
SUMMARY_CHARS = 280
ATOM_NS = "http://www.w3.org/2005/Atom"


@dataclass(frozen=True)
class FeedLinks:
    """Where a feed is and what it links to: itself, its page, the next (older) page (RFC 5005 §3), the first
    page, and the WebSub hub that pushes it (W3C WebSub §4)."""

    self_url: str
    html_url: str
    next_url: str | None = None
    first_url: str | None = None
    hub_url: str | None = None

    def extra(self) -> list[tuple[str, str]]:
        """(rel, href) of the links beyond self and alternate."""
        pairs = (("hub", self.hub_url), ("first", self.first_url), ("next", self.next_url))
        return [(rel, href) for rel, href in pairs if href]


def summary_of(text: str, limit: int = SUMMARY_CHARS) -> str:
    """The first paragraph, cut at a word boundary: a snippet for summaries and topic pages."""
    first = next((p.strip() for p in text.splitlines() if p.strip()), "")
    if len(first) <= limit:
        return first
    return first[:limit].rsplit(" ", 1)[0] + "…"


def web_link(url: str | None) -> str:
    """``url`` when it is http(s), else "#": escaping does not make a "javascript:" URL harmless in an href."""
    return safe_url(url)


def _site_label(site: str | None, url: str) -> str:
    return site or re.sub(r"^https?://([^/]+).*$", r"\1", url)


def also_reported_text(story: Story) -> str:
    """The line naming the other sites ("Also reported by: Site A, Site B"), or an empty string."""
    names = list(dict.fromkeys(_site_label(o.site, o.url) for o in story.also_reported))
    return f"Also reported by: {', '.join(names)}" if names else ""


def story_html(story: Story) -> str:
    """The entry body as HTML: escaped paragraphs, then the other sites with links."""
    a = story.article
    parts = [f"<p>{html_text(p.strip())}</p>" for p in a.text.splitlines() if p.strip()]
    if story.also_reported:
        links = ", ".join(
            f'<a href="{html_text(safe_url(o.url))}">{html_text(_site_label(o.site, o.url))}</a>'
            for o in story.also_reported
        )
        parts.append(f"<p>Also reported by: {links}</p>")
    return "\n".join(parts)


def _summary_line(story: Story) -> str:
    extra = also_reported_text(story)
    return summary_of(story.article.text) + (f" ({extra})" if extra else "")


class _FeedLinksExtension(BaseExtension):
    """Feed level: Atom's title and subtitle are declared HTML; hub/first/next links in both formats (in RSS
    as atom:link, which feedgen writes only for rel="self")."""

    def __init__(self) -> None:
        self.links: list[tuple[str, str]] = []

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        # feedgen builds Atom elements without a namespace and writes xmlns as a plain attribute: do the same.
        for name in ("title", "subtitle"):
            element = feed.find(name)
            assert element is not None
            element.set("type", "html")
        for rel, href in self.links:
            etree.SubElement(feed, "link", rel=rel, href=href)
        return feed

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        channel = feed.find("channel")
        assert channel is not None
        for rel, href in self.links:
            etree.SubElement(channel, f"{{{ATOM_NS}}}link", rel=rel, href=href)
        return feed


class _HtmlTitleExtension(BaseEntryExtension):
    """Entry level: Atom's entry title is declared HTML (it was written escaped)."""

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        title = entry.find("title")  # no namespace: see _FeedLinksExtension.extend_atom
        assert title is not None
        title.set("type", "html")
        return entry


def _feedgen_entry(fg: FeedGenerator, story: Story) -> None:
    a = story.article
    fe = fg.add_entry(order="append")
    fe.id(safe_url(a.canonical_url))
    fe.guid(safe_url(a.canonical_url), permalink=False)
    # Inert text reads the same as text and as HTML; Atom's title is also declared HTML (_HtmlTitleExtension),
    # so conforming Atom readers decode it exactly. RSS has no way to say which it is.
    fe.title(inert(a.title or "(untitled)"))
    fe.link(href=safe_url(a.url), rel="alternate")
    if a.author:
        fe.author(name=inert(a.author))
        fe.dc.dc_creator(inert(a.author))
    if a.site:
        fe.dc.dc_publisher(inert(a.site))
    if a.language:
        fe.dc.dc_language(inert(a.language))
    # Without a date of its own, an entry is dated when it was fetched: readers sort by it, and an undated
    # entry is shown as new on every poll by some of them.
    fe.published(a.published_at or a.fetched_at)
    # The last change of what a reader sees, not of the row: a retag moves the cursor but must not make
    # readers show the entry again (issue 18).
    fe.updated(story.changed_at)
    for slug in a.topics:
        fe.category(term=inert(slug))
    # Atom <summary type="html"> and RSS <description> (HTML by the RSS spec).
    fe.summary(inert(_summary_line(story)), type="html")
    # type="html": escaped text in Atom <content> and RSS <content:encoded>, not CDATA.
    fe.content(story_html(story), type="html")


def _render_xml(fmt: FeedFormat, title: str, links: FeedLinks, stories: Sequence[Story]) -> bytes:
    fg = FeedGenerator()
    fg.load_extension("dc", atom=True, rss=True)
    fg.register_extension("newsmill", _FeedLinksExtension, _HtmlTitleExtension, atom=True, rss=True)
    fg.newsmill.links = links.extra()  # feedgen exposes an extension as an attribute named after it
    fg.id(links.self_url)
    fg.title(inert(title))
    fg.author(name="newsmill")
    fg.link(href=links.self_url, rel="self")
    fg.link(href=links.html_url, rel="alternate")  # feedgen gives RSS's <link> the last link set
    fg.description(inert(title))  # Atom <subtitle type="html">; RSS <description> is HTML
    fg.generator("newsmill")
    fg.updated(max((s.changed_at for s in stories), default=datetime.now(UTC)))
    for story in stories:
        _feedgen_entry(fg, story)
    return fg.atom_str(pretty=True) if fmt == "atom" else fg.rss_str(pretty=True)


def _json_item(story: Story) -> dict[str, Any]:
    a = story.article
    item: dict[str, Any] = {
        "id": safe_url(a.canonical_url),
        "url": safe_url(a.url),
        "title": inert(a.title or "(untitled)"),
        "content_text": inert(a.text),
        "content_html": story_html(story),
        "summary": inert(summary_of(a.text)),
        "date_modified": story.changed_at.isoformat(),
        "tags": [inert(slug) for slug in a.topics],
        "_newsmill": {
            "article_id": a.id,
            "cursor": a.cursor,
            "site": inert(a.site) if a.site else None,
            "also_reported_by": [
                {"article_id": o.article_id, "site": inert(o.site) if o.site else None, "url": safe_url(o.url)}
                for o in story.also_reported
            ],
        },
    }
    item["date_published"] = (a.published_at or a.fetched_at).isoformat()
    if a.author:
        item["authors"] = [{"name": inert(a.author)}]
    if a.language and a.language != "und":
        item["language"] = inert(a.language)
    return item


def _render_json(title: str, links: FeedLinks, stories: Sequence[Story]) -> bytes:
    doc: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": inert(title),
        "home_page_url": links.html_url,
        "feed_url": links.self_url,
    }
    if links.next_url:
        doc["next_url"] = links.next_url  # JSON Feed 1.1: the next (older) page
    if links.hub_url:
        doc["hubs"] = [{"type": "WebSub", "url": links.hub_url}]
    doc["items"] = [_json_item(s) for s in stories]
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def render_feed(
    fmt: FeedFormat,
    *,
    title: str,
    self_url: str,
    html_url: str,
    stories: Sequence[Story],
    next_url: str | None = None,
    first_url: str | None = None,
    hub_url: str | None = None,
) -> tuple[bytes, str]:
    """The feed document and its Content-Type; ``stories`` in the order they should appear (newest first)."""
    links = FeedLinks(self_url, html_url, next_url, first_url, hub_url)
    if fmt == "json":
        return _render_json(title, links, stories), CONTENT_TYPES["json"]
    if fmt in ("atom", "rss"):
        return _render_xml(fmt, xml_safe(title), links, stories), CONTENT_TYPES[fmt]
    raise ValueError(f"unknown feed format {fmt!r}")
