"""Extraction stage: an article page's HTML in, its cleaned text and honest metadata out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Literal
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.settings import Document
from trafilatura.utils import load_html

from shared.errors import Outcome, PermanentError
from shared.languages import normalise_language
from workers.stages.clean import Cleaned, PageContext, Removal, clean_page
from workers.stages.page_signals import read_page_signals
from workers.stages.site_template import page_line_keys

# Measured on the 200 pages of the trafilatura evaluation set (bench/extraction.py), comments excluded:
# favor_precision lost more recall than it gained precision (F1 0.904 vs 0.919), and leaving tables out
# lost article tables (F1 0.914). Comments are never article text, so they are always left out.
FAVOR_PRECISION = False
INCLUDE_TABLES = True
# htmldate on metadata only: its extensive search turns a footer's "© 2024" into 2024-01-01, which would
# beat the feed's exact pubDate. The time format keeps the hour when the page states one, and a date in the
# URL (/2024/11/17/) only serves when the page's metadata has none: it is a bare day.
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
DATE_PARAMS = {
    "extensive_search": False,
    "original_date": True,
    "outputformat": _DATE_FORMAT,
    "deferred_url_extractor": True,
}
# With nothing else on a page trafilatura returns what it has (a menu's words); no article is this short.
MIN_TEXT_CHARS = 25


@dataclass(frozen=True)
class EntryHints:
    """What the feed entry said about the article: fallbacks for what the page does not state."""

    title: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    language: str | None = None


@dataclass(frozen=True)
class ExtractedPage:
    """An article's cleaned text and metadata; ``date_source`` tells whose date ``published_at`` is."""

    title: str | None
    author: str | None
    site_name: str | None
    published_at: datetime | None
    date_source: Literal["page", "feed"] | None
    text: str
    language_hint: str | None
    canonical_url: str | None
    removed: tuple[Removal, ...] = ()  # what cleaning dropped, and why (``newsmill extract --explain``)
    line_keys: tuple[int, ...] = ()  # keys of trafilatura's lines, recorded for the host's template


def _first(tree: HtmlElement, xpath: str) -> str | None:
    for value in tree.xpath(xpath):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _language_hint(tree: HtmlElement) -> str | None:
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


def _canonical_url(tree: HtmlElement, url: str) -> str | None:
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
    for fmt, date_only in ((_DATE_FORMAT, False), ("%Y-%m-%dT%H:%M:%S", True)):
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC), date_only and parsed.time() == time(0)
        return parsed, False
    return None


def choose_date(
    page_value: str | None, feed: datetime | None
) -> tuple[datetime | None, Literal["page", "feed"] | None]:
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


def _bare_extraction(tree: HtmlElement, url: str, fast: bool = False) -> Document | None:
    result = bare_extraction(
        tree,
        url=url,
        fast=fast,
        with_metadata=True,
        include_comments=False,
        include_tables=INCLUDE_TABLES,
        favor_precision=FAVOR_PRECISION,
        date_extraction_params=DATE_PARAMS,
    )
    return result if isinstance(result, Document) else None


def extract_raw(html: str, url: str) -> str:
    """trafilatura's text with our options and no cleaning (the benchmark's "before cleaning" row)."""
    tree = load_html(html)
    document = _bare_extraction(tree, url) if tree is not None else None
    return (document.text or "") if document is not None else ""


def clean_document(
    document: Document, tree: HtmlElement, url: str, hints: EntryHints, template: frozenset[int] = frozenset()
) -> Cleaned:
    """trafilatura's text with boilerplate removed, on the evidence of the page's own (already parsed) tree,
    the host's template lines and the metadata; see workers/stages/clean.py."""
    title = document.title or hints.title
    published_at, _ = choose_date(document.date, hints.published_at)
    signals = read_page_signals(tree, (document.text or "").splitlines())
    context = PageContext(
        title=title, site=urlsplit(url).hostname, signals=signals, template=template, published_at=published_at,
        author=document.author or hints.author,
    )  # fmt: skip
    cleaned = clean_page(document.text or "", context)
    if hints.title and hints.title != title:
        again = clean_page(cleaned.text, PageContext(title=hints.title, site=context.site))
        cleaned = Cleaned(again.text, cleaned.removed + again.removed)
    return cleaned


def extract_page(
    html: str, url: str, hints: EntryHints | None = None, *, fast: bool = False, template: frozenset[int] = frozenset()
) -> ExtractedPage:
    """Extract and clean one article page; PermanentError(NO_CONTENT) when it holds no article text.

    ``fast`` (NEWSMILL_EXTRACT_FAST) is trafilatura's fast mode: its fallback extractors (readability,
    jusText) are skipped, about a fifth less CPU per page for a little recall (docs/performance.md).
    ``template`` holds the keys of lines the page's host printed on several earlier pages (a site template)."""
    hints = hints or EntryHints()
    tree = load_html(html)
    if tree is None:
        raise PermanentError(Outcome.NO_CONTENT, "not parseable as HTML")
    document = _bare_extraction(tree, url, fast)
    if document is None or not document.text:
        raise PermanentError(Outcome.NO_CONTENT, "trafilatura found no main text")
    cleaned = clean_document(document, tree, url, hints, template)
    text = cleaned.text
    if len(text) < MIN_TEXT_CHARS:
        raise PermanentError(Outcome.NO_CONTENT, f"{len(text)} characters of text after cleaning")
    published_at, date_source = choose_date(document.date, hints.published_at)
    return ExtractedPage(
        title=document.title or hints.title,
        author=document.author or hints.author,
        site_name=document.sitename,
        published_at=published_at,
        date_source=date_source,
        text=text,
        language_hint=_language_hint(tree),
        canonical_url=_canonical_url(tree, url),
        removed=cleaned.removed,
        line_keys=page_line_keys(document.text.splitlines()),
    )
