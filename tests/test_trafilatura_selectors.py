"""The stand-ins for trafilatura's pruning expressions select exactly what the expressions select.

Compared against trafilatura's own compiled expressions (never against hand-written expectations): on crafted
edge cases, on saved real pages, and at every call trafilatura makes during whole extractions of those pages.
"""

from __future__ import annotations

import contextlib
import importlib
from collections import Counter

import pytest
import trafilatura
from lxml.etree import XPath
from lxml.html import HtmlElement
from trafilatura.utils import load_html

from shared.encoding import decode_html
from shared.errors import PermanentError
from workers.stages import trafilatura_selectors as selectors
from workers.stages.extract import extract_page
from workers.stages.scoped_swap import ScopedSwaps, Swap
from workers.stages.xpath_standins import Replacement, Selector

from .conftest import FIXTURES

SAVED_PAGES = [
    *sorted([*(FIXTURES / "pages").glob("*.html"), *(FIXTURES / "extraction").glob("*.html")]),
    FIXTURES / "seed" / "seed_page.html",
]

# Each line is a case the expressions' XPath semantics make easy to get wrong in Python.
EDGE_CASES = """
<html><body>
<div id="x" class="footer">id first: @class|@id reads the id</div>
<div class="footer-wrap" id="y">class first</div>
<div style="color: red" id="hidden-box">@id|@style reads the style</div>
<div id="hidden-box" style="color: red">@id|@style reads the id</div>
<span style="display:none">hidden</span><p style="display: none">hidden too</p>
<section aria-hidden="true">aria</section><section aria-hidden="TRUE">not exactly true</section>
<div role="Navigation">role, N translated</div><div role="NAV">upper case, not translated</div>
<div data-lp-replacement-content="">empty but present</div>
<div data-component="MostPopularStoriesList">popular</div>
<div class="comments-title">exact class</div><div class="comments-title x">not exact</div>
<div id="reply-1" class="c">reply id</div><div class="reply-form" id="q">reply class, id first</div>
<div class="Teaser">T translated</div><div class="TEASER">not translated</div><div id="teaserBox">id</div>
<div class="image-caption">caption</div><p id="captionText">caption id</p>
<ul class="comment-list"><li>comment list</li></ul><ol id="comments"><li>list</li></ol>
<ul class="commentary"><li>commentary is not a comment</li></ul><details class="comment-x">details</details>
<list class="comments-area"><item class="share-bar">converted tags</item></list>
<div class="infinite-scroll"><h1>holds the h1</h1></div><div class="infinite-scroll">no h1</div>
<aside class="mvp-post-add-box"><h1>theme-marked</h1></aside>
<div class="elementor-share-buttons elementor-widget">share</div>
<span id="q1" class="cookie-law">id first: the consent rule reads the id</span>
<div class="cookie-banner">consent</div><div id="CookieBot">case-insensitive</div>
<div class="coo\u212aie-banner">Kelvin sign folds to k</div><div class="onetrust-x">cmp</div>
<div class="ad-slot">ad</div><div class=" ad ">spaced ad</div><div id="ad-top">ad id</div>
<p class="byline">byline</p><span class="meta">meta</span><div class="sidebar">sidebar</div>
<footer>footer</footer><aside>aside</aside><script>1</script><style>p{}</style><svg></svg>
<template>t</template><fencedframe></fencedframe>
<!-- a comment is no element --><?pi a processing instruction?>
<div><div class="post-content"><p>body</p></div></div>
<div><div class="post">first under its parent</div><div class="entry">second under the same parent</div></div>
<section><article itemprop="articleBody">another parent</article></section>
<div class="FullText">fulltext, any case</div><div role="article">role</div><div class="text">exact</div>
<div id="Main-Content">CM translated</div><div class="MAIN-CONTENT">not translated</div>
<div class="Page-content">CP translated</div><section role="main-area">starts with main</section>
<main>the main element</main><article class="mainstory">after main</article>
</body></html>
"""


# BODY_XPATH[4] is a union of two firsts: here the <main> comes before the marked container.
MAIN_FIRST = "<html><body><main>m</main><div class='main-column'>marked, after main</div></body></html>"


def _swaps() -> list[Replacement]:
    return list(selectors.REPLACEMENTS)


def _saved_pages() -> list[str]:
    return [decode_html(path.read_bytes(), None).text for path in SAVED_PAGES]


def _trees() -> list[HtmlElement]:
    trees = [load_html(html) for html in [EDGE_CASES, MAIN_FIRST, *_saved_pages()]]
    return [t for t in trees if t is not None]


def test_every_expression_this_trafilatura_has_is_recognised() -> None:
    """A trafilatura upgrade that changes one of these expressions switches its stand-in off: this says so."""
    assert selectors.replaced() == [
        "OVERALL_DISCARD_XPATH[0]", "OVERALL_DISCARD_XPATH[1]", "REMOVE_COMMENTS_AND_LISTS_XPATH[0]",
        "RAW_TREE_PRUNE_XPATH[0]", "RAW_TREE_PRUNE_XPATH[1]", "DISCARD_IMAGE_ELEMENTS[0]",
        "TEASER_DISCARD_XPATH[0]", "BASIC_CLEAN_XPATH", "BODY_XPATH[0]", "BODY_XPATH[2]", "BODY_XPATH[3]",
        "BODY_XPATH[4]",
    ]  # fmt: skip


@pytest.mark.parametrize("swap", _swaps(), ids=lambda s: s.name)
def test_each_stand_in_selects_what_its_expression_selects(swap: Replacement) -> None:
    selected = 0
    for tree in _trees():
        for context in (tree, tree.find("body")):
            assert context is not None
            expected = swap.original(context)
            assert swap.stand_in(context) == expected
            selected += len(expected)
    assert selected > 0, "the cases never exercise this expression"


def test_the_edge_cases_exercise_the_attribute_order_and_case_rules() -> None:
    """The crafted page really distinguishes the rules (a stand-in ignoring them would select otherwise)."""
    tree = load_html(EDGE_CASES)
    assert tree is not None
    by_name = {s.name: s.original for s in _swaps()}
    texts = {e.text for e in by_name["BASIC_CLEAN_XPATH"](tree)}
    assert "class first" in texts
    assert "id first: @class|@id reads the id" not in texts
    assert "Kelvin sign folds to k" in texts
    hidden = {e.text for e in by_name["OVERALL_DISCARD_XPATH[1]"](tree)}
    assert "@id|@style reads the id" in hidden
    assert "@id|@style reads the style" not in hidden
    assert "aria" in hidden
    assert "not exactly true" not in hidden
    teasers = {e.text for e in by_name["TEASER_DISCARD_XPATH[0]"](tree)}
    assert "T translated" in teasers
    assert "not translated" not in teasers


class _Compared:
    """Runs both and records whether they agree; trafilatura goes on with the original's answer."""

    def __init__(self, swap: Replacement, calls: Counter[str], mismatches: list[str]) -> None:
        self.swap, self.calls, self.mismatches = swap, calls, mismatches
        self.name = swap.name

    def __call__(self, tree: HtmlElement) -> list[HtmlElement]:
        expected: list[HtmlElement] = self.swap.original(tree)
        name = self.swap.name
        self.calls[name] += 1
        if self.swap.stand_in(tree) != expected:
            self.mismatches.append(name)
        return expected


def test_whole_extractions_see_the_same_selections_at_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: Counter[str] = Counter()
    mismatches: list[str] = []
    names = selectors.replaced()
    compared = ScopedSwaps([Swap(r.put, r.original, _Compared(r, calls, mismatches)) for r in _swaps()])
    monkeypatch.setattr(selectors, "_SCOPE", compared)
    for html in _saved_pages():
        for mode in ("auto", "full"):
            with contextlib.suppress(PermanentError):  # a page with no article text still prunes
                extract_page(html, "https://news.example/story", mode=mode)
    assert mismatches == []
    assert set(calls) >= set(names) - {"BASIC_CLEAN_XPATH"}  # html2txt runs only on short extractions


def test_the_swap_lasts_for_the_call_only_and_nests() -> None:
    xpaths = importlib.import_module("trafilatura.xpaths")
    baseline = importlib.import_module("trafilatura.baseline")
    assert isinstance(xpaths.OVERALL_DISCARD_XPATH[0], XPath)
    with selectors.faster_selectors():
        with selectors.faster_selectors():
            assert isinstance(xpaths.OVERALL_DISCARD_XPATH[0], Selector)
        assert isinstance(baseline.BASIC_CLEAN_XPATH, Selector)
    assert isinstance(xpaths.OVERALL_DISCARD_XPATH[0], XPath)
    assert isinstance(baseline.BASIC_CLEAN_XPATH, XPath)


def test_extraction_text_is_unchanged_by_the_stand_ins() -> None:
    """The same pages through trafilatura with and without them: identical text (raw library, whole cascade)."""
    for html in _saved_pages():
        plain = trafilatura.extract(html, include_comments=False)
        with selectors.faster_selectors():
            assert trafilatura.extract(html, include_comments=False) == plain
