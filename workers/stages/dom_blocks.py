"""Small questions about an element of a parsed page, asked cheaply: its letters, its neighbours, a label.

Used by workers/stages/page_signals.py and workers/stages/link_lists.py. Every function here touches only
the element and its siblings or parents: none walks a large subtree more than once.
"""

from __future__ import annotations

from lxml.html import HtmlElement

CONTENT_ROOTS = frozenset(("html", "body", "article", "main"))  # never a widget's box nor a list's row
MAX_BOX_CHARS = 1000  # a widget's box, counting the blanks of indented markup
MAX_HEADING_CHARS = 80
PROSE_MIN_WORDS = 5
SENTENCE_ENDS = (".", "!", "?", "…", "。", "！", "？", "।", "؟")


def holds_more_than(element: HtmlElement, limit: int) -> bool:
    """Whether the element's text exceeds ``limit`` characters (blanks included: the test must stay cheap)."""
    return len(element.text_content()) > limit


def letters(element: HtmlElement) -> int:
    """Characters of text without blanks, or a large number for a large element (counting them costs)."""
    text = element.text_content()
    return len("".join(text.split())) if len(text) <= 4 * MAX_BOX_CHARS else 4 * MAX_BOX_CHARS


def is_prose(element: HtmlElement) -> bool:
    """A sentence or more: several words ending with a full stop (an article's line, never a widget's label)."""
    text = element.text_content().strip()
    return text.endswith(SENTENCE_ENDS) and len(text.split()) >= PROSE_MIN_WORDS


def holds_prose(element: HtmlElement) -> bool:
    return any(is_prose(p) for p in element.iter("p", "li")) or (len(element) == 0 and is_prose(element))


def previous_element(element: HtmlElement) -> HtmlElement | None:
    previous = element.getprevious()
    while previous is not None and not isinstance(previous.tag, str):
        previous = previous.getprevious()
    return previous


def next_element(element: HtmlElement) -> HtmlElement | None:
    following = element.getnext()
    while following is not None and not isinstance(following.tag, str):
        following = following.getnext()
    return following


def parents(element: HtmlElement, levels: int) -> list[HtmlElement]:
    found: list[HtmlElement] = []
    parent = element.getparent()
    while parent is not None and len(found) < levels:
        found.append(parent)
        parent = parent.getparent()
    return found


def short_label(element: HtmlElement | None, limit: int = MAX_HEADING_CHARS) -> HtmlElement | None:
    """The element if it is a short text without links (a heading or a label), else None."""
    if element is None or element.tag in ("li", "a", "ul", "ol") or element.find(".//a") is not None:
        return None
    return element if 0 < len(" ".join(element.text_content().split())) <= limit else None
