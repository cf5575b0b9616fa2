"""Extraction stage: an article page's HTML in, its cleaned text and honest metadata out.

The page is parsed once. When the page itself says where its article is (one schema.org ``articleBody``, else one
``<article>``, else one ``<main>``), trafilatura first runs on that container alone: its cost grows with the tree
it cleans and searches, and the rest of the page is the navigation, teasers and footer it would remove anyway.
Otherwise, or when that result looks like a miss, it runs in its fast mode on the whole page, less the elements it
deletes anyway (menus, footers, asides, scripts: they are most of such a page's elements, and it walks them several
times before deleting them), without the readability and jusText comparison that makes up a quarter of its time;
only a result that still looks like a miss (short, and a small share of the page's text) is extracted again with
the full cascade. docs/performance.md has the figures. Metadata comes from workers/stages/page_metadata.py, not
from trafilatura's metadata pass.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.settings import Document

from shared.errors import Outcome, PermanentError
from workers.stages.article_container import article_container, container_document
from workers.stages.clean import Cleaned, PageContext, Removal, clean_page
from workers.stages.html_tree import parse_page
from workers.stages.justext_stoplist import stoplist_kept
from workers.stages.page_metadata import EntryHints, PageMetadata, canonical_url, page_metadata
from workers.stages.page_signals import read_page_signals
from workers.stages.site_template import page_line_keys
from workers.stages.trafilatura_backup import without_unread_backup
from workers.stages.trafilatura_selectors import faster_selectors

# Measured on the 200 pages of the trafilatura evaluation set (bench/extraction.py), comments excluded:
# favor_precision lost more recall than it gained precision (F1 0.904 vs 0.919), and leaving tables out
# lost article tables (F1 0.914). Comments are never article text, so they are always left out.
FAVOR_PRECISION = False
INCLUDE_TABLES = True
# The fast result is trusted unless it is shorter than this and covers less than this share of the page's
# text: then the full cascade runs (13 of the 200 evaluation pages; F1 0.918 as the full mode, 0.912 fast).
SUSPECT_MAX_CHARS = 1_000
SUSPECT_PAGE_SHARE = 0.07
# With nothing else on a page trafilatura returns what it has (a menu's words); no article is this short.
MIN_TEXT_CHARS = 25

__all__ = ["EntryHints", "ExtractMode", "ExtractedPage", "extract_page", "extract_raw"]


# NEWSMILL_EXTRACT_MODE: fast, and the full cascade for a suspected miss; always the full cascade; never it.
ExtractMode = Literal["auto", "full", "fast"]


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
    extraction: Literal["fast", "full"]  # which trafilatura mode produced the text
    scope: Literal["container", "page"] = "page"  # on the page's article container alone, or the whole page
    removed: tuple[Removal, ...] = ()  # what cleaning dropped, and why (``newsmill extract --explain``)
    line_keys: tuple[int, ...] = ()  # keys of trafilatura's lines, recorded for the host's template


def _text(tree: HtmlElement, url: str, *, fast: bool) -> str:
    """trafilatura's main text of ``tree`` with our options ('' when it finds none), its pruning expressions
    evaluated by exact stand-ins (workers/stages/trafilatura_selectors.py), jusText's stop-word set found once
    (workers/stages/justext_stoplist.py) and no backup copy of the tree in fast mode, which never reads it
    (workers/stages/trafilatura_backup.py)."""
    with faster_selectors(), stoplist_kept(), without_unread_backup():
        document = bare_extraction(
            tree, url=url, fast=fast, include_comments=False, include_tables=INCLUDE_TABLES,
            favor_precision=FAVOR_PRECISION,
        )  # fmt: skip
    return (document.text or "") if isinstance(document, Document) else ""


def _page_text_chars(tree: HtmlElement) -> int:
    body = tree.find("body")
    return sum(len(chunk.strip()) for chunk in (body if body is not None else tree).itertext())


def suspect(text: str, page_chars: Callable[[], int]) -> bool:
    """Whether a fast extraction looks like a miss: short, and a small share of what the page says
    (``page_chars()``, the page's text length: only a short text needs it)."""
    return len(text) < SUSPECT_MAX_CHARS and len(text) < SUSPECT_PAGE_SHARE * page_chars()


@dataclass(frozen=True)
class MainText:
    """trafilatura's text of a page, which of its modes gave it, and from what."""

    text: str
    extraction: Literal["fast", "full"]
    source: HtmlElement  # what the text was extracted from: the page's tree, or its container in that tree
    scope: Literal["container", "page"] = "page"


# What trafilatura deletes anyway in its tree cleaning (``settings.MANUALLY_CLEANED``), set aside while its
# whole-page pass runs: it copies the page and runs its raw-tree expressions over every element before deleting
# these, and on a page without a container the menus, footers and asides are most of them. Kept: JSON-LD
# (trafilatura's forum detection and fallback read it), forms and their controls (a whole ASP.NET page sits in
# one form, and trafilatura treats forms apart).
_DELETED_TAGS = ("script", "style", "svg", "noscript", "link", "iframe", "nav", "footer", "aside")


def deleted_by_trafilatura(tree: HtmlElement) -> list[HtmlElement]:
    """The elements of ``tree``'s document with a tag of ``_DELETED_TAGS``, but JSON-LD scripts, in document
    order: what the XPath ``//script[not(@type="application/ld+json")] | //style | … | //aside`` selects (one
    walk in C instead of nine; tests/test_extract.py compares them), top-level siblings of the root included."""
    root = tree.getroottree().getroot()
    tops = [*reversed(list(root.itersiblings(preceding=True))), root, *root.itersiblings()]
    return [
        element
        for top in tops
        for element in top.iter(*_DELETED_TAGS)
        if element.tag != "script" or element.get("type") != "application/ld+json"
    ]


@contextlib.contextmanager
def _set_aside(tree: HtmlElement, found: Callable[[HtmlElement], list[HtmlElement]]) -> Iterator[None]:
    """The page without what ``found`` selects for the duration, then exactly as it was: the cleaning's page
    signals (a related-links heading before an ``<aside>`` list), a full cascade and metadata read later all
    see the page as published. A removed element's tail text stays in the page meanwhile, as lxml's
    ``drop_tree`` leaves it."""
    removed: list[tuple[HtmlElement, HtmlElement, int, str | None]] = []
    for element in found(tree):
        parent = element.getparent()
        if parent is None or element.getroottree().getroot() is not tree:
            continue  # the root itself, or inside an element set aside already
        index, tail = parent.index(element), element.tail
        element.tail = None
        parent.remove(element)
        if tail:
            _append_text(parent, index, tail)
        removed.append((element, parent, index, tail))
    try:
        yield
    finally:
        for element, parent, index, tail in reversed(removed):
            if tail:
                _cut_text(parent, index, len(tail))
            parent.insert(index, element)
            element.tail = tail


def _append_text(parent: HtmlElement, index: int, text: str) -> None:
    """Add ``text`` where the child at ``index`` was: the previous sibling's tail, or the parent's text."""
    if index > 0:
        before = parent[index - 1]
        before.tail = (before.tail or "") + text
    else:
        parent.text = (parent.text or "") + text


def _cut_text(parent: HtmlElement, index: int, length: int) -> None:
    """Undo ``_append_text`` of ``length`` characters."""
    if index > 0:
        before = parent[index - 1]
        before.tail = (before.tail or "")[:-length] or None
    else:
        parent.text = (parent.text or "")[:-length] or None


def main_text(tree: HtmlElement, url: str, mode: ExtractMode) -> MainText:
    """trafilatura's text of the page under ``mode``, which of its modes gave it and on what ('' when none).

    Every pass but the full cascade is kept only if it does not look like a miss against the whole page.
    The whole-page fast pass runs with what trafilatura deletes anyway set aside (``deleted_by_trafilatura``);
    the tree is left as it was given."""
    if mode != "full":
        page_chars = functools.cache(functools.partial(_page_text_chars, tree))  # walked once, if ever
        container = article_container(tree)
        if container is not None:
            text = _text(container_document(container), url, fast=True)
            if text and not suspect(text, page_chars):
                return MainText(text, "fast", container, "container")
        with _set_aside(tree, deleted_by_trafilatura):
            text = _text(tree, url, fast=True)
        if mode == "fast" or not suspect(text, page_chars):
            return MainText(text, "fast", tree)
    return MainText(_text(tree, url, fast=False), "full", tree)


def extract_raw(html: str, url: str, mode: ExtractMode = "auto") -> str:
    """trafilatura's text with our options and no cleaning (the benchmark's "before cleaning" row)."""
    tree = parse_page(html)
    return main_text(tree, url, mode).text if tree is not None else ""


def clean_document(
    raw_text: str, tree: HtmlElement, *, url: str, meta: PageMetadata, hints: EntryHints, template: frozenset[int]
) -> Cleaned:
    """trafilatura's text with boilerplate removed, on the evidence of the page's own (already parsed) tree,
    the host's template lines and the metadata; see workers/stages/clean.py. ``tree`` is what the text was
    extracted from: the page, or its article container (whose widgets are the only ones the text can hold)."""
    signals = read_page_signals(tree, raw_text.splitlines())
    context = PageContext(
        title=meta.title, site=urlsplit(url).hostname, signals=signals, template=template,
        published_at=meta.published_at, author=meta.author,
    )  # fmt: skip
    cleaned = clean_page(raw_text, context)
    if hints.title and hints.title != meta.title:
        again = clean_page(cleaned.text, PageContext(title=hints.title, site=context.site))
        cleaned = Cleaned(again.text, cleaned.removed + again.removed)
    return cleaned


def extract_page(
    html: str,
    url: str,
    hints: EntryHints | None = None,
    *,
    mode: ExtractMode = "auto",
    template: frozenset[int] = frozenset(),
) -> ExtractedPage:
    """Extract and clean one article page; PermanentError(NO_CONTENT) when it holds no article text.

    ``template`` holds the keys of lines the page's host printed on several earlier pages (a site template)."""
    hints = hints or EntryHints()
    tree = parse_page(html)
    if tree is None:
        raise PermanentError(Outcome.NO_CONTENT, "not parseable as HTML")
    meta = page_metadata(tree, url, hints)  # first: trafilatura prunes its own copy of the tree, not this one
    found = main_text(tree, url, mode)
    raw_text = found.text
    if not raw_text:
        raise PermanentError(Outcome.NO_CONTENT, "trafilatura found no main text")
    cleaned = clean_document(raw_text, found.source, url=url, meta=meta, hints=hints, template=template)
    text = cleaned.text
    if len(text) < MIN_TEXT_CHARS:
        raise PermanentError(Outcome.NO_CONTENT, f"{len(text)} characters of text after cleaning")
    return ExtractedPage(
        title=meta.title,
        author=meta.author,
        site_name=meta.site_name,
        published_at=meta.published_at,
        date_source=meta.date_source,
        text=text,
        language_hint=meta.language_hint,
        extraction=found.extraction,
        scope=found.scope,
        removed=cleaned.removed,
        line_keys=page_line_keys(raw_text.splitlines()),
    )


def page_canonical_url(html: str, url: str) -> str | None:
    """The canonical link a page declares (for `newsmill extract`'s display; the pipeline does not use it)."""
    tree = parse_page(html)
    return canonical_url(tree, url) if tree is not None else None
