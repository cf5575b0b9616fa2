"""Exact stand-ins for trafilatura's costliest pruning expressions, used while our extraction calls it.

trafilatura selects what it prunes with XPath expressions whose predicates test ``id``/``class``/``style``
attributes with EXSLT regular expressions (``re:test``): libxml2 walks the whole tree once per expression and
calls back into Python for every element and every test. On the evaluation pages these expressions, and the
page-text measure behind its recall-escalation gate (``html2txt``, whose cleaning expression is one of them),
are about a quarter of an extraction's CPU. Each stand-in here is one pass over the elements in document order
with the same tests as Python code and the same regular expressions, and returns the same elements in the same
order (tests/test_trafilatura_selectors.py compares them on saved pages, at every call of whole extractions).

An expression is replaced only if its text, string literals aside, is the one this module was written
against; the literals (token lists, regular expressions) are read from trafilatura's own expression, so a
vocabulary change upstream is followed as is. A structural change leaves trafilatura's expression in place
(``replaced()`` says which are). ``faster_selectors()`` swaps them in for the duration of a call only
(workers/stages/scoped_swap.py): other callers of trafilatura, such as the benchmarks' raw baseline, see it as is.
"""

from __future__ import annotations

import contextlib
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from lxml.etree import Element, XPath
from lxml.html import HtmlElement

from workers.stages.scoped_swap import ScopedSwaps, Swap

_LITERAL = re.compile(r"'([^']*)'")
_PRUNE_TAGS = ("div", "item", "list", "p", "section", "span")  # self::div or self::item or ... self::span

Predicate = Callable[[HtmlElement], bool]


def _skeleton(path: str) -> str:
    return " ".join(_LITERAL.sub("''", path).split())


def _first(element: HtmlElement, names: tuple[str, ...]) -> str:
    """XPath's string value of ``@a|@b``: the first of these attributes in the element's source order."""
    for name, value in element.items():
        if name in names:
            return str(value)
    return ""


def _translate(source: str, target: str) -> Callable[[str], str]:
    """XPath's ``translate(., source, target)``: characters of ``source`` past ``target``'s length are deleted."""
    table = str.maketrans(source[: len(target)], target[: len(source)], source[len(target) :])
    return lambda text: text.translate(table)


@dataclass(frozen=True)
class Selector:
    """Callable like an lxml ``XPath`` on a context element: the descendants (of ``tags``, or all elements)
    that ``predicate`` accepts, in document order."""

    name: str
    tags: tuple[str, ...]
    predicate: Predicate

    def __call__(self, tree: HtmlElement) -> list[HtmlElement]:
        found = tree.iterdescendants(*self.tags) if self.tags else tree.iterdescendants(Element)
        return [element for element in found if self.predicate(element)]

    def __str__(self) -> str:
        return f"<{self.name} (newsmill stand-in)>"


def _overall_discard_marked(lit: list[str]) -> Selector:
    """OVERALL_DISCARD_XPATH[0]: menus, shares, ads, bylines… marked by role, data-component, id or class."""
    role = _translate(lit[0], lit[1])
    consent, by_id, by_class = re.compile(lit[4]), re.compile(lit[5]), re.compile(lit[6])

    def predicate(e: HtmlElement) -> bool:
        get = e.get
        return (
            get("data-lp-replacement-content") is not None
            or lit[2] in role(get("role", ""))
            or lit[3] in get("data-component", "")
            or consent.search(_first(e, ("id", "class"))) is not None
            or by_id.search(get("id", "")) is not None
            or by_class.search(get("class", "")) is not None
        )

    return Selector("OVERALL_DISCARD_XPATH[0]", _PRUNE_TAGS, predicate)


def _overall_discard_hidden(lit: list[str]) -> Selector:
    """OVERALL_DISCARD_XPATH[1]: hidden elements, comment titles and reply forms, any tag."""
    hidden, by_id, by_class = re.compile(lit[2]), re.compile(lit[5]), re.compile(lit[6])

    def predicate(e: HtmlElement) -> bool:
        get = e.get
        style = get("style", "")
        return (
            get("class") == lit[0]
            or _first(e, ("id", "class")).startswith(lit[1])
            or hidden.search(_first(e, ("id", "style"))) is not None
            or lit[3] in style
            or lit[4] in style
            or by_id.search(get("id", "")) is not None
            or by_class.search(get("class", "")) is not None
            or get("aria-hidden") == lit[7]
        )

    return Selector("OVERALL_DISCARD_XPATH[1]", (), predicate)


def _comments_and_lists(lit: list[str]) -> Selector:
    """REMOVE_COMMENTS_AND_LISTS_XPATH[0]: comment sections; an ol/ul only when marked as a comment list."""
    id_any, class_any, id_list, class_list = (re.compile(x) for x in lit[:4])

    def predicate(e: HtmlElement) -> bool:
        get = e.get
        element_id, element_class = get("id", ""), get("class", "")
        if id_any.search(element_id) is None and class_any.search(element_class) is None:
            return False
        return (
            e.tag not in ("ol", "ul")
            or id_list.search(element_id) is not None
            or class_list.search(element_class) is not None
        )

    return Selector("REMOVE_COMMENTS_AND_LISTS_XPATH[0]", ("div", "list", "section", "details", "ol", "ul"), predicate)


def _appended_articles(lit: list[str]) -> Selector:
    """RAW_TREE_PRUNE_XPATH[0]: infinite-scroll containers (those holding the page's h1 only when theme-marked)."""
    id_any, class_any, id_theme, class_theme = (re.compile(x) for x in lit[:4])

    def predicate(e: HtmlElement) -> bool:
        get = e.get
        element_id, element_class = get("id", ""), get("class", "")
        if id_any.search(element_id) is None and class_any.search(element_class) is None:
            return False
        return (
            next(e.iterdescendants("h1"), None) is None
            or id_theme.search(element_id) is not None
            or class_theme.search(element_class) is not None
        )

    return Selector("RAW_TREE_PRUNE_XPATH[0]", ("div", "section", "aside"), predicate)


def _class_contains(name: str, tags: tuple[str, ...]) -> Callable[[list[str]], Selector]:
    def build(lit: list[str]) -> Selector:
        return Selector(name, tags, lambda e: lit[0] in e.get("class", ""))

    return build


def _id_or_class_contains(name: str) -> Callable[[list[str]], Selector]:
    def build(lit: list[str]) -> Selector:
        return Selector(name, _PRUNE_TAGS, lambda e: lit[0] in e.get("id", "") or lit[1] in e.get("class", ""))

    return build


def _teasers(lit: list[str]) -> Selector:
    """TEASER_DISCARD_XPATH[0]: id or class containing "teaser", first letter in either case."""
    by_id, by_class = _translate(lit[0], lit[1]), _translate(lit[3], lit[4])

    def predicate(e: HtmlElement) -> bool:
        return lit[2] in by_id(e.get("id", "")) or lit[5] in by_class(e.get("class", ""))

    return Selector("TEASER_DISCARD_XPATH[0]", _PRUNE_TAGS, predicate)


def _basic_clean(lit: list[str]) -> Selector:
    """settings.BASIC_CLEAN_XPATH (html2txt's cleaning): asides, footers, scripts… and consent banners."""
    tags = frozenset(("aside", "fencedframe", "footer", "script", "style", "svg", "template"))
    by_class = re.compile(lit[1], re.IGNORECASE if "i" in lit[2] else 0)
    by_id = re.compile(lit[3], re.IGNORECASE if "i" in lit[4] else 0)

    def predicate(e: HtmlElement) -> bool:
        tag = e.tag
        if tag in tags:
            return True
        get = e.get
        element_class, element_id = get("class"), get("id")
        if element_class is None and element_id is None:
            return False
        return (
            (tag == "div" and lit[0] in _first(e, ("class", "id")))
            or (element_class is not None and by_class.search(element_class) is not None)
            or (element_id is not None and by_id.search(element_id) is not None)
        )

    return Selector("BASIC_CLEAN_XPATH", (), predicate)


# (module, attribute, index in the list or None for a lone expression): the skeleton of the expression this
# module reproduces (its text with every string literal emptied, whitespace collapsed), and the stand-in.
_EXPECTED: list[tuple[str, str, int | None, str, Callable[[list[str]], Selector]]] = [
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
     _class_contains("RAW_TREE_PRUNE_XPATH[1]", ("div", "section", "aside"))),
    ("trafilatura.xpaths", "DISCARD_IMAGE_ELEMENTS", 0,
     ".//*[self::div or self::item or self::list or self::p or self::section or self::span][ "
     "contains(@id, '') or contains(@class, '')]", _id_or_class_contains("DISCARD_IMAGE_ELEMENTS[0]")),
    ("trafilatura.xpaths", "TEASER_DISCARD_XPATH", 0,
     ".//*[self::div or self::item or self::list or self::p or self::section or self::span][ "
     "contains(translate(@id, '', ''), '') or contains(translate(@class, '', ''), '')]", _teasers),
    ("trafilatura.baseline", "BASIC_CLEAN_XPATH", None,
     ".//aside|.//div[contains(@class|@id, '')]|.//fencedframe|.//footer|.//script|.//style|.//svg|"
     ".//template|.//*[re:test(@class, '', '') or re:test(@id, '', '')]", _basic_clean),
]  # fmt: skip


@dataclass(frozen=True)
class Replacement:
    """One of trafilatura's expressions (a list item, or a lone module attribute) and its stand-in."""

    module: ModuleType
    attribute: str
    index: int | None
    original: XPath
    stand_in: Selector

    def put(self, value: object) -> None:
        if self.index is None:
            setattr(self.module, self.attribute, value)
        else:
            getattr(self.module, self.attribute)[self.index] = value


def _recognised() -> list[Replacement]:
    found = []
    for module_name, attribute, index, skeleton, build in _EXPECTED:
        module = importlib.import_module(module_name)
        value = getattr(module, attribute, None)
        original = value[index] if index is not None and isinstance(value, list) else value
        if not isinstance(original, XPath) or _skeleton(original.path) != skeleton:
            continue  # trafilatura changed this expression: keep its own
        found.append(Replacement(module, attribute, index, original, build(_LITERAL.findall(original.path))))
    return found


REPLACEMENTS = _recognised()
_SCOPE = ScopedSwaps([Swap(r.put, r.original, r.stand_in) for r in REPLACEMENTS])


def replaced() -> list[str]:
    """Names of the expressions this module stands in for (those whose text it recognised)."""
    return [r.stand_in.name for r in REPLACEMENTS]


def faster_selectors() -> contextlib.AbstractContextManager[None]:
    """trafilatura with the stand-ins for the duration of the ``with`` block (workers/stages/scoped_swap.py)."""
    return _SCOPE.applied()
