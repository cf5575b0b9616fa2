"""Page metadata, cheaply: title, author, site name, date, language hint and canonical URL of a parsed page.

trafilatura's own metadata pass costs about a third of an extraction (its byline search alone copies the tree
and runs regular-expression XPaths over it; categories and tags, which we do not use, cost as much again).
The article rows need four fields, and most pages state them in meta tags or JSON-LD, which are cheap to read:
we read those with trafilatura's own readers and take the feed entry's values where the page is silent.
trafilatura's byline search of the page body is not run: on the 200 evaluation pages it named the right
author on 17 and a wrong one on 15 (a photo credit, a commenter, a section name), for 7 ms a page; the
published view promises the author of the page metadata, else the feed entry (docs/performance.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time
from html import unescape
from typing import Literal
from urllib.parse import urljoin, urlsplit

from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura import metadata as trafilatura_metadata
from trafilatura.settings import Document
from trafilatura.utils import line_processing

from shared.languages import normalise_language

log = logging.getLogger(__name__)

# htmldate on metadata only: its extensive search turns a footer's "© 2024" into 2024-01-01, which would
# beat the feed's exact pubDate. The time format keeps the hour when the page states one, and a date in the
# URL (/2024/11/17/) only serves when the page's metadata has none: it is a bare day.
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
MAX_FIELD_CHARS = 10_000  # what trafilatura keeps of a metadata field

DateSource = Literal["page", "feed"]


@dataclass(frozen=True)
class EntryHints:
    """What the feed entry said about the article: fallbacks for what the page does not state."""

    title: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    language: str | None = None


@dataclass(frozen=True)
class PageMetadata:
    title: str | None
    author: str | None
    site_name: str | None
    published_at: datetime | None
    date_source: DateSource | None  # whose date published_at is
    language_hint: str | None


def _trim(value: str | None) -> str | None:
    if not value:
        return None
    return line_processing(unescape(value[:MAX_FIELD_CHARS])) or None


def _site_name(value: str | None) -> str | None:
    """As trafilatura presents it: no Twitter '@', a bare lower-case word capitalised."""
    if not value:
        return None
    value = value.lstrip("@")
    if value and "." not in value and not value[0].isupper():
        value = value.title()
    return value or None


def _meta_tags(tree: HtmlElement) -> Document:
    """Meta tags, then JSON-LD over them (trafilatura's readers and order)."""
    found = trafilatura_metadata.examine_meta(tree)
    if found.author and " " not in found.author:  # a handle or a single word is not a byline
        found.author = None
    try:
        found = trafilatura_metadata.extract_meta_json(tree, found)
    except Exception:
        log.debug("JSON-LD metadata unreadable", exc_info=True)
    return found


def page_metadata(tree: HtmlElement, url: str, hints: EntryHints) -> PageMetadata:
    """The article's metadata: the page's meta tags and JSON-LD first, then the feed entry, and trafilatura's
        searches of the page body only for what neither states (a byline). The page's title element still comes
    before the feed's title: it is cheap, and it is what the cleaning compares the text's first line with."""
    meta = _meta_tags(tree)
    title = _trim(meta.title) or _trim(trafilatura_metadata.extract_title(tree)) or hints.title
    author = _trim(meta.author) or hints.author
    site = _site_name(_trim(meta.sitename) or _trim(trafilatura_metadata.extract_sitename(tree)))
    page_date = find_date(tree, url=url, extensive_search=False, original_date=True, outputformat=DATE_FORMAT,
                          deferred_url_extractor=True)  # fmt: skip
    published_at, date_source = choose_date(page_date, hints.published_at)
    return PageMetadata(title, author, site, published_at, date_source, language_hint(tree))


def _first(tree: HtmlElement, xpath: str) -> str | None:
    for value in tree.xpath(xpath):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def language_hint(tree: HtmlElement) -> str | None:
    """The language the page declares (html lang, og:locale, Content-Language), normalised."""
    for xpath in (
        "/html/@lang",
        "/html/@xml:lang",
        "//meta[@property='og:locale']/@content",
        "//meta[translate(@http-equiv, 'CONTENT-LANGUAGE', 'content-language')='content-language']/@content",
    ):
        code = normalise_language(_first(tree, xpath))
        if code:
            return code
    return None


def canonical_url(tree: HtmlElement, url: str) -> str | None:
    """The page's own canonical link (rel=canonical, else og:url), absolute; shown by `newsmill extract`."""
    for xpath in (
        "//link[contains(concat(' ', @rel, ' '), ' canonical ')]/@href",
        "//meta[@property='og:url']/@content",
    ):
        href = _first(tree, xpath)
        if href:
            absolute = urljoin(url, href)
            if urlsplit(absolute).scheme in ("http", "https"):
                return absolute
    return None


def _page_date(value: str | None) -> tuple[datetime, bool] | None:
    """htmldate's string as an aware datetime, and whether the page gave only a day (no time, no zone)."""
    if not value:
        return None
    for fmt, date_only in ((DATE_FORMAT, False), ("%Y-%m-%dT%H:%M:%S", True)):
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC), date_only and parsed.time() == time(0)
        return parsed, False
    return None


def choose_date(page_value: str | None, feed: datetime | None) -> tuple[datetime | None, DateSource | None]:
    """The page's metadata date wins, but a bare day agreeing with the feed's pubDate keeps the feed's time."""
    if feed is not None and feed.tzinfo is None:
        feed = feed.replace(tzinfo=UTC)  # a feed date without zone is taken as UTC, as feedparser does
    page = _page_date(page_value)
    if page is None:
        return (feed, "feed") if feed is not None else (None, None)
    page_dt, date_only = page
    if date_only and feed is not None and page_dt.date() in (feed.date(), feed.astimezone(UTC).date()):
        return feed, "feed"
    return page_dt, "page"
