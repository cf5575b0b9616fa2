"""Python stand-ins for a library's XPath expressions: the same elements in the same order, found in one pass.

An lxml ``XPath`` whose predicates call EXSLT regular expressions (``re:test``) calls back into Python for every
element and every test, and libxml2 walks the tree once per expression; a stand-in walks the elements once with
the same tests written in Python. A stand-in is built only for an expression whose text, string literals aside
(its "skeleton"), is the one it was written against; the literals themselves are read from the expression, so a
changed token list upstream is followed as is, and a changed structure keeps the library's own expression.
workers/stages/trafilatura_selectors.py holds trafilatura's.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

from lxml.etree import Element, XPath
from lxml.html import HtmlElement

LITERAL = re.compile(r"'([^']*)'")

Predicate = Callable[[HtmlElement], bool]


def skeleton(path: str) -> str:
    """The expression with every string literal emptied and whitespace collapsed."""
    return " ".join(LITERAL.sub("''", path).split())


def first_of(element: HtmlElement, names: tuple[str, ...]) -> str:
    """XPath's string value of ``@a|@b``: the first of these attributes in the element's source order."""
    for name, value in element.items():
        if name in names:
            return str(value)
    return ""


def translate(source: str, target: str) -> Callable[[str], str]:
    """XPath's ``translate(., source, target)``: characters of ``source`` past ``target``'s length are deleted."""
    table = str.maketrans(source[: len(target)], target[: len(source)], source[len(target) :])
    return lambda text: text.translate(table)


def exslt_regex(pattern: str, flags: str = "") -> re.Pattern[str]:
    """The pattern as EXSLT's ``re:test(., pattern, flags)`` compiles it in lxml (``i``: ignore case)."""
    return re.compile(pattern, re.IGNORECASE if "i" in flags else 0)


@dataclass(frozen=True)
class Selector:
    """Callable like an lxml ``XPath`` on a context element: the descendants (of ``tags``, or all elements) that
    ``predicate`` accepts, in document order; with ``pick``, only the first (``(.//*[…])[1]``), or the first
    among each parent's children (``.//*[…][1]``)."""

    tags: tuple[str, ...]
    predicate: Predicate
    pick: Literal["all", "first", "first_per_parent"] = "all"

    def __call__(self, tree: HtmlElement) -> list[HtmlElement]:
        found = tree.iterdescendants(*self.tags) if self.tags else tree.iterdescendants(Element)
        predicate = self.predicate
        if self.pick == "all":
            return [e for e in found if predicate(e)]
        accepted = (e for e in found if predicate(e))
        if self.pick == "first":
            first = next(accepted, None)
            return [] if first is None else [first]
        parents: set[HtmlElement] = set()  # first_per_parent; holding the proxies keeps getparent() returning them
        chosen = []
        for e in accepted:
            parent = e.getparent()
            if parent not in parents:
                parents.add(parent)
                chosen.append(e)
        return chosen

    def __str__(self) -> str:  # trafilatura logs the body expression it used (Replacement.name says which)
        return "<newsmill stand-in>"


# Where an expression is (module, attribute, index in its list or None), the skeleton it must have, and the
# builder of its stand-in from the expression's literals.
Expected = tuple[str, str, int | None, str, Callable[[list[str]], Callable[[HtmlElement], list[HtmlElement]]]]


@dataclass(frozen=True)
class Replacement:
    """One of the library's expressions (a list item, or a lone module attribute) and its stand-in."""

    name: str
    module: ModuleType
    attribute: str
    index: int | None
    original: XPath
    stand_in: Callable[[HtmlElement], list[HtmlElement]]

    def put(self, value: object) -> None:
        if self.index is None:
            setattr(self.module, self.attribute, value)
        else:
            getattr(self.module, self.attribute)[self.index] = value


def recognised(expected: Sequence[Expected]) -> list[Replacement]:
    """Stand-ins for the expected expressions the library still has, skeleton for skeleton."""
    found = []
    for module_name, attribute, index, shape, build in expected:
        module = importlib.import_module(module_name)
        value = getattr(module, attribute, None)
        original = value[index] if index is not None and isinstance(value, list) else value
        if not isinstance(original, XPath) or skeleton(original.path) != shape:
            continue  # the library changed this expression: keep its own
        name = attribute if index is None else f"{attribute}[{index}]"
        found.append(Replacement(name, module, attribute, index, original, build(LITERAL.findall(original.path))))
    return found
