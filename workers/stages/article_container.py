"""Where a page says its article is: the one element it marks as such, if that element holds the story.

trafilatura's cost grows with the tree it cleans and searches (its pruning expressions walk every element),
and on a news page most elements are navigation, teasers and footer that it removes anyway. A page that
marks its article once (schema.org's ``articleBody``, a lone ``<article>``, a lone ``<main>``) can be
extracted from that element alone: about half of trafilatura's CPU on such pages (docs/performance.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from copy import deepcopy

from lxml.etree import SubElement, XPath
from lxml.html import HtmlElement

from workers.stages.html_tree import new_document

_WITH_ITEMPROP = XPath("//*[@itemprop]")
_XML_SPACE = re.compile(r"[ \t\r\n]+")  # what XPath's normalize-space() collapses


def _article_body_marks(tree: HtmlElement) -> list[HtmlElement]:
    """Elements whose ``itemprop`` token list holds ``articleBody`` (not a <meta> carrying the body as an
    attribute, nor <body>/<html>, which narrow nothing). The tokens are read in Python from the few elements
    with an ``itemprop``: as one XPath testing every element's attribute it was most of this module's cost."""
    return [
        e
        for e in _WITH_ITEMPROP(tree)
        if e.tag not in ("meta", "body", "html") and "articleBody" in _XML_SPACE.split(e.get("itemprop", ""))
    ]


# Most specific first. A mark counts only when the page has exactly one: a page of several <article>
# teasers says nothing about which is the story.
MARKS: tuple[Callable[[HtmlElement], list[HtmlElement]], ...] = (
    _article_body_marks,
    XPath("//article"),
    XPath("//main"),
)
# The marked element must hold at least this share of the page's paragraph text: a lone <article> that is
# a "most read" card, or an articleBody wrapping a teaser, is not the story.
MIN_PARAGRAPH_SHARE = 0.5


def _paragraph_chars(root: HtmlElement) -> int:
    return sum(len(p.text_content().strip()) for p in root.iter("p"))


def article_container(tree: HtmlElement) -> HtmlElement | None:
    """The most specific element the page marks once as its article and that holds most of its paragraphs;
    None when there is none, or the page has no paragraphs to judge by."""
    page: int | None = None
    for xpath in MARKS:
        found = xpath(tree)
        if len(found) != 1:
            continue
        page = _paragraph_chars(tree) if page is None else page
        if page == 0:
            return None
        if _paragraph_chars(found[0]) >= MIN_PARAGRAPH_SHARE * page:
            return found[0]
    return None


def container_document(container: HtmlElement) -> HtmlElement:
    """A document holding a copy of ``container`` alone: appending the element itself would take it out of
    the page, whose signals cleaning still reads. The copy leaves behind the text that follows the element
    (its tail), which is the page's, not the article's."""
    copy = deepcopy(container)
    copy.tail = None
    document = new_document()
    SubElement(document, "body").append(copy)
    return document
