"""Render stories as Atom or RSS (built with feedgen) or JSON Feed 1.1 (a dict serialised with json).

Article text is untrusted: it goes in as escaped HTML paragraphs, and feedgen/lxml escape it once more as XML
text, never as CDATA (a ``]]>`` in an article would end a CDATA section). Characters XML 1.0 forbids are
dropped first, since lxml refuses them.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from feedgen.feed import FeedGenerator

from shared.db.topic_feed import OtherReport, Story

__all__ = ["CONTENT_TYPES", "OtherReport", "Story", "render_feed", "story_html", "summary_of", "web_link"]

FeedFormat = Literal["atom", "rss", "json"]
CONTENT_TYPES: dict[str, str] = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
SUMMARY_CHARS = 280
# XML 1.0 §2.2 Char: no C0 controls but tab/newline/return, no surrogates, no U+FFFE/U+FFFF.
_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str | None) -> str:
    return _NOT_XML_CHAR.sub("", text or "")


def summary_of(text: str, limit: int = SUMMARY_CHARS) -> str:
    """The first paragraph, cut at a word boundary: a snippet for summaries and topic pages."""
    first = next((p.strip() for p in text.splitlines() if p.strip()), "")
    if len(first) <= limit:
        return first
    return first[:limit].rsplit(" ", 1)[0] + "…"


def web_link(url: str | None) -> str:
    """``url`` when it is http(s), else "#": escaping does not make a "javascript:" URL harmless in an href."""
    return url if url and url.lower().startswith(("http://", "https://")) else "#"


def _site_label(site: str | None, url: str) -> str:
    return site or re.sub(r"^https?://([^/]+).*$", r"\1", url)


def also_reported_text(story: Story) -> str:
    """The line naming the other sites ("Also reported by: Site A, Site B"), or an empty string."""
    names = list(dict.fromkeys(_site_label(o.site, o.url) for o in story.also_reported))
    return f"Also reported by: {', '.join(names)}" if names else ""


def story_html(story: Story) -> str:
    """The entry body as HTML: escaped paragraphs, then the other sites with links."""
    a = story.article
    parts = [f"<p>{html.escape(p.strip())}</p>" for p in a.text.splitlines() if p.strip()]
    if story.also_reported:
        links = ", ".join(
            f'<a href="{html.escape(web_link(o.url))}">{html.escape(_site_label(o.site, o.url))}</a>'
            for o in story.also_reported
        )
        parts.append(f"<p>Also reported by: {links}</p>")
    return xml_safe("\n".join(parts))


def _feedgen_entry(fg: FeedGenerator, story: Story) -> None:
    a = story.article
    fe = fg.add_entry(order="append")
    fe.id(xml_safe(a.canonical_url))
    fe.guid(xml_safe(a.canonical_url), permalink=False)
    fe.title(xml_safe(a.title) or "(untitled)")
    fe.link(href=xml_safe(a.url), rel="alternate")
    if a.author:
        fe.author(name=xml_safe(a.author))
        fe.dc.dc_creator(xml_safe(a.author))
    if a.site:
        fe.dc.dc_publisher(xml_safe(a.site))
    if a.language:
        fe.dc.dc_language(a.language)
    # Without a date of its own, an entry is dated when it was fetched: readers sort by it, and an undated
    # entry is shown as new on every poll by some of them.
    fe.published(a.published_at or a.fetched_at)
    fe.updated(a.updated_at)
    for slug in a.topics:
        fe.category(term=slug)
    extra = also_reported_text(story)
    fe.summary(xml_safe(summary_of(a.text) + (f" ({extra})" if extra else "")))
    # type="html": escaped text in Atom <content> and RSS <content:encoded>, not CDATA.
    fe.content(story_html(story), type="html")


def _render_xml(fmt: FeedFormat, title: str, self_url: str, html_url: str, stories: Sequence[Story]) -> bytes:
    fg = FeedGenerator()
    fg.load_extension("dc", atom=True, rss=True)
    fg.id(self_url)
    fg.title(xml_safe(title))
    fg.author(name="newsmill")
    fg.link(href=self_url, rel="self")
    fg.link(href=html_url, rel="alternate")  # feedgen gives RSS's <link> the last link set
    fg.description(xml_safe(title))
    fg.generator("newsmill")
    fg.updated(max((s.article.updated_at for s in stories), default=datetime.now(UTC)))
    for story in stories:
        _feedgen_entry(fg, story)
    return fg.atom_str(pretty=True) if fmt == "atom" else fg.rss_str(pretty=True)


def _json_item(story: Story) -> dict[str, Any]:
    a = story.article
    item: dict[str, Any] = {
        "id": a.canonical_url,
        "url": a.url,
        "title": a.title or "(untitled)",
        "content_text": a.text,
        "content_html": story_html(story),
        "summary": summary_of(a.text),
        "date_modified": a.updated_at.isoformat(),
        "tags": list(a.topics),
        "_newsmill": {
            "article_id": a.id,
            "cursor": a.cursor,
            "site": a.site,
            "also_reported_by": [
                {"article_id": o.article_id, "site": o.site, "url": o.url} for o in story.also_reported
            ],
        },
    }
    item["date_published"] = (a.published_at or a.fetched_at).isoformat()
    if a.author:
        item["authors"] = [{"name": a.author}]
    if a.language and a.language != "und":
        item["language"] = a.language
    return item


def _render_json(title: str, self_url: str, html_url: str, stories: Sequence[Story]) -> bytes:
    doc = {
        "version": JSON_FEED_VERSION,
        "title": title,
        "home_page_url": html_url,
        "feed_url": self_url,
        "items": [_json_item(s) for s in stories],
    }
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def render_feed(
    fmt: FeedFormat, *, title: str, self_url: str, html_url: str, stories: Sequence[Story]
) -> tuple[bytes, str]:
    """The feed document and its Content-Type; ``stories`` in the order they should appear (newest first)."""
    if fmt == "json":
        return _render_json(title, self_url, html_url, stories), CONTENT_TYPES["json"]
    if fmt in ("atom", "rss"):
        return _render_xml(fmt, title, self_url, html_url, stories), CONTENT_TYPES[fmt]
    raise ValueError(f"unknown feed format {fmt!r}")
