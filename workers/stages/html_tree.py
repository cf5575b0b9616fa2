"""A page parsed for extraction: trafilatura's own loader, with each element's Python class chosen in C.

lxml.html chooses the class of every element proxy it creates in Python (``HtmlElementClassLookup.lookup``,
which exists to give form fields their own classes), and trafilatura, its copies of the tree and our stages
create a proxy per element visited, many times per page: a quarter of extract_page's CPU on the bench pages
(docs/performance.md). Nothing in trafilatura or in our stages uses the form-field classes' API, so here every
element is a plain ``HtmlElement``, comments and processing instructions lxml.html's own classes. Copies of the
tree (trafilatura makes several) keep its parser, hence this lookup. The parser has trafilatura's options
(tests/test_html_tree.py compares the trees); trafilatura's loader is swapped to it for the call only.
"""

from __future__ import annotations

from lxml.etree import ElementDefaultClassLookup, HTMLParser
from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HtmlProcessingInstruction
from trafilatura import utils as trafilatura_utils

from workers.stages.scoped_swap import ScopedSwaps, Swap

PARSER = HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True, remove_pis=True)
PARSER.set_element_class_lookup(
    ElementDefaultClassLookup(element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity)
)
_SCOPE = ScopedSwaps([Swap.attribute(trafilatura_utils, "HTML_PARSER", PARSER)])


def parse_page(html: str) -> HtmlElement | None:
    """The page's tree as trafilatura's ``load_html`` builds it (None when it is not HTML), on ``PARSER``."""
    with _SCOPE.applied():
        tree = trafilatura_utils.load_html(html)
    return tree if isinstance(tree, HtmlElement) else None


def new_document() -> HtmlElement:
    """An empty ``<html>`` element in a new document of ``PARSER`` (elements moved into it keep the C lookup)."""
    element = PARSER.makeelement("html")
    assert isinstance(element, HtmlElement)
    return element
