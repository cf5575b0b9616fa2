"""Exact stand-ins for trafilatura's costliest XPath expressions, used while our extraction calls it.

trafilatura selects what it prunes, and where it looks for the article body, with XPath expressions whose
predicates test ``id``/``class``/``style`` attributes, many with EXSLT regular expressions: libxml2 walks the
whole tree once per expression and calls back into Python for every element and test. On the bench pages these
expressions, with the page-text measure behind trafilatura's recall-escalation gate (``html2txt``, whose
cleaning expression is one of them), were about a fifth of an extraction's CPU. Each stand-in (built with
workers/stages/xpath_standins.py) walks the elements once and returns the same elements in the same order
(tests/test_trafilatura_selectors.py compares them on saved pages, at every call of whole extractions).

``faster_selectors()`` swaps them in for the duration of our call only (workers/stages/scoped_swap.py): other
callers of trafilatura, such as the benchmarks' raw-library baseline, see it unchanged. ``replaced()`` lists the
expressions recognised in the installed trafilatura.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable

from lxml.html import HtmlElement

from workers.stages.scoped_swap import ScopedSwaps, Swap
from workers.stages.xpath_standins import (
    Expected,
    Predicate,
    Selector,
    exslt_regex,
    first_of,
    recognised,
    translate,
)

_PRUNE_TAGS = ("div", "item", "list", "p", "section", "span")  # self::div or self::item or ... self::span
_BODY_TAGS = ("article", "div", "main", "section")


def _overall_discard_marked(lit: list[str]) -> Selector:
    """OVERALL_DISCARD_XPATH[0]: menus, shares, ads, bylines… marked by role, data-component, id or class."""
    role = translate(lit[0], lit[1])
    consent, by_id, by_class = re.compile(lit[4]), re.compile(lit[5]), re.compile(lit[6])

    def predicate(e: HtmlElement) -> bool:
        get = e.get
        return (
            get("data-lp-replacement-content") is not None
            or lit[2] in role(get("role", ""))
            or lit[3] in get("data-component", "")
            or consent.search(first_of(e, ("id", "class"))) is not None
            or by_id.search(get("id", "")) is not None
            or by_class.search(get("class", "")) is not None
        )

    return Selector(_PRUNE_TAGS, predicate)


def _overall_discard_hidden(lit: list[str]) -> Selector:
    """OVERALL_DISCARD_XPATH[1]: hidden elements, comment titles and reply forms, any tag."""
    hidden, by_id, by_class = re.compile(lit[2]), re.compile(lit[5]), re.compile(lit[6])

    def predicate(e: HtmlElement) -> bool:
        get = e.get
        style = get("style", "")
        return (
            get("class") == lit[0]
            or first_of(e, ("id", "class")).startswith(lit[1])
            or hidden.search(first_of(e, ("id", "style"))) is not None
            or lit[3] in style
            or lit[4] in style
            or by_id.search(get("id", "")) is not None
            or by_class.search(get("class", "")) is not None
            or get("aria-hidden") == lit[7]
        )

    return Selector((), predicate)


def _marked_twice(tags: tuple[str, ...], kept_unless: Predicate) -> Callable[[list[str]], Selector]:
    """``.//*[tags][re:test(@id, A) or re:test(@class, B)][KEPT_UNLESS or re:test(@id, C) or re:test(@class, D)]``:
    an element marked by the first pair is selected if ``kept_unless`` holds for it or the second pair marks it
    too (the shape of two of trafilatura's expressions)."""

    def build(lit: list[str]) -> Selector:
        id_any, class_any, id_also, class_also = (re.compile(x) for x in lit[:4])

        def predicate(e: HtmlElement) -> bool:
            get = e.get
            element_id, element_class = get("id", ""), get("class", "")
            if id_any.search(element_id) is None and class_any.search(element_class) is None:
                return False
            return (
                kept_unless(e) or id_also.search(element_id) is not None or class_also.search(element_class) is not None
            )

        return Selector(tags, predicate)

    return build


# REMOVE_COMMENTS_AND_LISTS_XPATH[0]: comment sections; an ol/ul only when marked as a comment list.
_comments_and_lists = _marked_twice(
    ("div", "list", "section", "details", "ol", "ul"),
    lambda e: e.tag not in ("ol", "ul"),  # not(self::ol or self::ul)
)
# RAW_TREE_PRUNE_XPATH[0]: infinite-scroll containers; one holding the page's h1 only when theme-marked.
_appended_articles = _marked_twice(
    ("div", "section", "aside"),
    lambda e: next(e.iterdescendants("h1"), None) is None,  # not(.//h1)
)


def _share_buttons(lit: list[str]) -> Selector:
    """RAW_TREE_PRUNE_XPATH[1]: Elementor's share buttons, by class."""
    return Selector(("div", "section", "aside"), lambda e: lit[0] in e.get("class", ""))


def _captions(lit: list[str]) -> Selector:
    """DISCARD_IMAGE_ELEMENTS[0]: captions, by id or class."""
    return Selector(_PRUNE_TAGS, lambda e: lit[0] in e.get("id", "") or lit[1] in e.get("class", ""))


def _teasers(lit: list[str]) -> Selector:
    """TEASER_DISCARD_XPATH[0]: id or class containing "teaser", first letter in either case."""
    by_id, by_class = translate(lit[0], lit[1]), translate(lit[3], lit[4])

    def predicate(e: HtmlElement) -> bool:
        return lit[2] in by_id(e.get("id", "")) or lit[5] in by_class(e.get("class", ""))

    return Selector(_PRUNE_TAGS, predicate)


def _basic_clean(lit: list[str]) -> Selector:
    """settings.BASIC_CLEAN_XPATH (html2txt's cleaning): asides, footers, scripts… and consent banners."""
    tags = frozenset(("aside", "fencedframe", "footer", "script", "style", "svg", "template"))
    by_class, by_id = exslt_regex(lit[1], lit[2]), exslt_regex(lit[3], lit[4])

    def predicate(e: HtmlElement) -> bool:
        tag = e.tag
        if tag in tags:
            return True
        get = e.get
        element_class, element_id = get("class"), get("id")
        if element_class is None and element_id is None:
            return False
        return (
            (tag == "div" and lit[0] in first_of(e, ("class", "id")))
            or (element_class is not None and by_class.search(element_class) is not None)
            or (element_id is not None and by_id.search(element_id) is not None)
        )

    return Selector((), predicate)


def _body_marked(lit: list[str]) -> Selector:
    """BODY_XPATH[0]: article-body containers by exact class/itemprop/id or id/class pattern (first per parent)."""
    by_id, by_class = re.compile(lit[4]), re.compile(lit[5])

    def predicate(e: HtmlElement) -> bool:
        get = e.get
        element_class, element_id = get("class"), get("id")
        return (
            element_class == lit[0]
            or element_class == lit[1]
            or get("itemprop") == lit[2]
            or element_id == lit[3]
            or by_id.search(element_id or "") is not None
            or by_class.search(element_class or "") is not None
        )

    return Selector(_BODY_TAGS, predicate, pick="first_per_parent")


def _body_story(lit: list[str]) -> Selector:
    """BODY_XPATH[2]: the first story container by role, exact id/class, or id/class pattern."""
    by_id = re.compile(lit[8])
    fulltext = exslt_regex(lit[9], lit[10])
    by_class = re.compile(lit[11])
    classes = frozenset(lit[3:8])

    def predicate(e: HtmlElement) -> bool:
        get = e.get
        element_class, element_id = get("class"), get("id")
        return (
            get("role") == lit[0]
            or element_id == lit[1]
            or element_id == lit[2]
            or element_class in classes
            or by_id.search(element_id or "") is not None
            or fulltext.search(element_class or "") is not None
            or by_class.search(element_class or "") is not None
        )

    return Selector(_BODY_TAGS, predicate, pick="first")


def _body_content(lit: list[str]) -> Selector:
    """BODY_XPATH[3]: the first generic content container."""
    by_id, by_class = re.compile(lit[2]), re.compile(lit[3])
    id_cm, class_cm, class_cp = translate(lit[4], lit[5]), translate(lit[7], lit[8]), translate(lit[10], lit[11])

    def predicate(e: HtmlElement) -> bool:
        get = e.get
        element_class, element_id = get("class"), get("id")
        return (
            element_id == lit[0]
            or element_class == lit[1]
            or by_id.search(element_id or "") is not None
            or by_class.search(element_class or "") is not None
            or lit[6] in id_cm(element_id or "")
            or lit[9] in class_cm(element_class or "")
            or lit[12] in class_cp(element_class or "")
        )

    return Selector(_BODY_TAGS, predicate, pick="first")


class _FirstMainOrMarked:
    """BODY_XPATH[4]: ``(.//*[article|div|section][starts-with(@class|@id|@role, 'main')])[1] | (.//main)[1]``,
    the two in document order."""

    def __init__(self, lit: list[str]) -> None:
        self.lit = lit

    def __call__(self, tree: HtmlElement) -> list[HtmlElement]:
        marked: HtmlElement | None = None
        main: HtmlElement | None = None
        chosen = []
        for e in tree.iterdescendants("article", "div", "section", "main"):
            if e.tag == "main":
                if main is None:
                    main = e
                    chosen.append(e)
            elif marked is None and self._marked(e):
                marked = e
                chosen.append(e)
            if marked is not None and main is not None:
                break
        return chosen

    def _marked(self, e: HtmlElement) -> bool:
        get = e.get
        return (
            get("class", "").startswith(self.lit[0])
            or get("id", "").startswith(self.lit[1])
            or get("role", "").startswith(self.lit[2])
        )

    def __str__(self) -> str:  # trafilatura logs the body expression it used
        return "<newsmill stand-in>"


# Where each expression is, the skeleton it must have (workers/stages/xpath_standins.py) and its stand-in.
_EXPECTED: list[Expected] = [
    ("trafilatura.xpaths", "OVERALL_DISCARD_XPATH", 0,
     ".//*[self::div or self::item or self::list or self::p or self::section or self::span][ "
     "@data-lp-replacement-content or contains(translate(@role, '', ''), '') or contains(@data-component, '') "
     "or re:test(@id|@class, '') or re:test(@id, '') or re:test(@class, '')]", _overall_discard_marked),
    ("trafilatura.xpaths", "OVERALL_DISCARD_XPATH", 1,
     ".//*[@class='' or starts-with(@id|@class, '') or re:test(@id|@style, '') or contains(@style, '') or "
     "contains(@style, '') or re:test(@id, '') or re:test(@class, '') or @aria-hidden='']",
     _overall_discard_hidden),
    ("trafilatura.xpaths", "REMOVE_COMMENTS_AND_LISTS_XPATH", 0,
     ".//*[self::div or self::list or self::section or self::details or self::ol or self::ul][ "
     "re:test(@id, '') or re:test(@class, '')][ not(self::ol or self::ul) or re:test(@id, '') or "
     "re:test(@class, '')]", _comments_and_lists),
    ("trafilatura.xpaths", "RAW_TREE_PRUNE_XPATH", 0,
     ".//*[self::div or self::section or self::aside][ re:test(@id, '') or re:test(@class, '')][ "
     "not(.//h1) or re:test(@id, '') or re:test(@class, '')]", _appended_articles),
    ("trafilatura.xpaths", "RAW_TREE_PRUNE_XPATH", 1,
     ".//*[self::div or self::section or self::aside][contains(@class, '')]",
     _share_buttons),
    ("trafilatura.xpaths", "DISCARD_IMAGE_ELEMENTS", 0,
     ".//*[self::div or self::item or self::list or self::p or self::section or self::span][ "
     "contains(@id, '') or contains(@class, '')]", _captions),
    ("trafilatura.xpaths", "TEASER_DISCARD_XPATH", 0,
     ".//*[self::div or self::item or self::list or self::p or self::section or self::span][ "
     "contains(translate(@id, '', ''), '') or contains(translate(@class, '', ''), '')]", _teasers),
    ("trafilatura.baseline", "BASIC_CLEAN_XPATH", None,
     ".//aside|.//div[contains(@class|@id, '')]|.//fencedframe|.//footer|.//script|.//style|.//svg|"
     ".//template|.//*[re:test(@class, '', '') or re:test(@id, '', '')]", _basic_clean),
    ("trafilatura.xpaths", "BODY_XPATH", 0,
     ".//*[self::article or self::div or self::main or self::section][ @class='' or @class='' or @itemprop='' "
     "or @id='' or re:test(@id, '') or re:test(@class, '') ][1]", _body_marked),
    ("trafilatura.xpaths", "BODY_XPATH", 2,
     "(.//*[self::article or self::div or self::main or self::section][ @role='' or @id='' or @id='' or "
     "@class='' or @class='' or @class='' or @class='' or @class='' or re:test(@id, '') or "
     "re:test(@class, '', '') or re:test(@class, '') ])[1]", _body_story),
    ("trafilatura.xpaths", "BODY_XPATH", 3,
     "(.//*[self::article or self::div or self::main or self::section][ @id='' or @class='' or "
     "re:test(@id, '') or re:test(@class, '') or contains(translate(@id, '',''), '') or "
     "contains(translate(@class, '',''), '') or contains(translate(@class, '',''), '') ])[1]", _body_content),
    ("trafilatura.xpaths", "BODY_XPATH", 4,
     "(.//*[self::article or self::div or self::section][ starts-with(@class, '') or starts-with(@id, '') "
     "or starts-with(@role, '')])[1]|(.//main)[1]", _FirstMainOrMarked),
]  # fmt: skip


REPLACEMENTS = recognised(_EXPECTED)
_SCOPE = ScopedSwaps([Swap(r.put, r.original, r.stand_in) for r in REPLACEMENTS])


def replaced() -> list[str]:
    """Names of the expressions stood in for (those whose text was recognised in the installed trafilatura)."""
    return [r.name for r in REPLACEMENTS]


def faster_selectors() -> contextlib.AbstractContextManager[None]:
    """trafilatura with the stand-ins for the duration of the ``with`` block."""
    return _SCOPE.applied()
