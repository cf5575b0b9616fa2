"""Page signals: what the page's markup says about a line of text, read once from the already-parsed tree.

trafilatura keeps some lines of widgets around and inside an article (a related-links heading whose list it
dropped, share-button labels, a newsletter prompt, a caption). The words of those lines differ in every
language and newsroom; their markup does not: share-intent URLs, forms and buttons, lists of links, figure
captions. This module maps the text of such elements to the signal that marks them, so
workers/stages/clean.py can drop a line on evidence rather than by phrase, and say which evidence.

Cost: one walk over the few tags that carry these signals (``tree.iter`` with tag names: libxml2 skips the
rest); Python touches only links, forms and captions. The tree is the one trafilatura was given:
bare_extraction works on a copy of it and leaves it intact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from lxml.html import HtmlElement

Signal = Literal["share", "form", "caption", "link-list", "link-list-heading"]
Row = tuple[HtmlElement, HtmlElement]  # a link and the row (list item, paragraph, card) it stands in

# Share intents: the URL says what a link is for, in any language.
_SHARE_HREF = re.compile(
    r"^(?:mailto:\?|whatsapp:|sms:|tg:|viber:|fb-messenger:)"
    r"|(?:facebook\.com/(?:sharer|share|dialog/(?:share|feed))|(?:twitter|x)\.com/(?:intent|share|home\?status)"
    r"|linkedin\.com/(?:share|sharing|cws/share)|wa\.me/|whatsapp\.com/send|t\.me/share|telegram\.me/share"
    r"|pinterest\.\w+/pin/create|reddit\.com/submit|tumblr\.com/(?:share|widgets)|getpocket\.com/(?:save|edit)"
    r"|flipboard\.com/bookmarklet|vk\.com/share|xing\.com/(?:spi/)?share|bsky\.app/intent|threads\.net/intent"
    r"|news\.ycombinator\.com/submitlink|addtoany\.com/share)",
    re.IGNORECASE,
)
# A cheap first test (substring checks, far cheaper than a regex search over every href of a page).
_SHARE_WORDS = ("shar", "intent", "status", "submit", "send", "pin/create", "bookmarklet", "save", "edit", "wa.me")
_SHARE_SCHEMES = ("mailto:?", "whatsapp:", "sms:", "tg:", "viber:", "fb-messenger:")
_FORM_TAGS = ("form", "button", "label", "select", "textarea")
_CAPTION_TAGS = ("figcaption",)
_ROW_TAGS = frozenset(("li", "p", "h2", "h3", "h4", "h5", "h6", "article", "dt", "dd", "td"))
_CONTENT_ROOTS = frozenset(("html", "body", "article", "main"))
MAX_WIDGET_CHARS = 400  # a box around a form or share links holds a prompt, not an article
MAX_HEADING_CHARS = 80
MAX_LABEL_CHARS = 40  # "Share this article": a label just before a box of share links
MIN_LIST_ROWS = 2  # links in at least this many rows of one container make a list of links
LINK_SHARE = 0.6  # share of a paragraph's letters inside links for it to be a list of links (<a><br><a>)


def line_key(text: str) -> str:
    """How a line of extracted text and an element's text are compared: list and table markers off, casefolded."""
    stripped = text.strip().lstrip("-*•·|> ").rstrip("| ")
    return " ".join(stripped.split()).casefold()


@dataclass
class PageSignals:
    """Line key -> the first signal that marked it; empty for a page without widgets (or without a tree)."""

    marks: dict[str, Signal] = field(default_factory=dict)

    def of(self, line: str) -> Signal | None:
        return self.marks.get(line_key(line)) if self.marks else None

    def mark(self, text: str | None, signal: Signal) -> None:
        key = line_key(text or "")
        if key and len(key) <= MAX_WIDGET_CHARS:
            self.marks.setdefault(key, signal)

    def mark_all(self, element: HtmlElement, signal: Signal) -> None:
        """The element's text, its children's and each piece of text in it: trafilatura may keep any of them."""
        self.mark(element.text_content(), signal)
        for child in element:
            if isinstance(child.tag, str):
                self.mark(child.text_content(), signal)
        for piece in element.itertext():
            self.mark(piece, signal)


def _maybe_share(href: str) -> bool:
    lowered = href.lower()
    return lowered.lstrip().startswith(_SHARE_SCHEMES) or any(word in lowered for word in _SHARE_WORDS)


def _holds_more_than(element: HtmlElement, limit: int) -> bool:
    """Whether the element's text exceeds ``limit`` characters; stops reading as soon as it does."""
    total = 0
    for chunk in element.itertext():
        total += len(chunk.strip())
        if total > limit:
            return True
    return False


def _widget_box(element: HtmlElement) -> HtmlElement:
    """The largest ancestor, up to three levels up, that still holds only a widget's worth of text."""
    box = element
    for level, parent in enumerate(element.iterancestors()):
        if level == 3 or parent.tag in _CONTENT_ROOTS or _holds_more_than(parent, MAX_WIDGET_CHARS):
            break
        box = parent
    return box


def _row_of(link: HtmlElement) -> HtmlElement | None:
    """The list item, paragraph or heading a link stands in (its row in a list of links)."""
    parent = link.getparent()
    for _ in range(3):
        if parent is None or parent.tag in _ROW_TAGS:
            return parent
        parent = parent.getparent()
    return None


def _previous_element(element: HtmlElement) -> HtmlElement | None:
    previous = element.getprevious()
    while previous is not None and not isinstance(previous.tag, str):
        previous = previous.getprevious()
    return previous


def _short_label(element: HtmlElement | None, limit: int = MAX_HEADING_CHARS) -> HtmlElement | None:
    """The element if it is a short text without links (a heading or a label), else None."""
    if element is None or element.tag in ("li", "a", "ul", "ol") or element.find(".//a") is not None:
        return None
    return element if 0 < len(" ".join(element.text_content().split())) <= limit else None


def _heading_of(links: list[Row]) -> HtmlElement | None:
    """The short, link-free element just before the first row of a list of links (the list's heading)."""
    first_link, first_row = links[0]
    if first_row is first_link.getparent() and first_row.index(first_link) > 0:
        return _short_label(first_row[0])  # <p><b>More</b><br><a>…</a><br><a>…</a></p>
    row: HtmlElement | None = first_row
    for _ in range(3):  # <h3>Heading</h3><ul><li><a>: the heading stands before the list, not the row
        if row is None or row.tag in _CONTENT_ROOTS:
            return None
        previous = _previous_element(row)
        if previous is not None:
            return _short_label(previous)
        row = row.getparent()
    return None


def _mostly_links(element: HtmlElement, links: list[Row]) -> bool:
    linked = sum(len("".join(link.text_content().split())) for link, _ in links)
    return linked >= LINK_SHARE * len("".join(element.text_content().split()))


def _lists_of_links(rows_by_container: dict[HtmlElement, list[Row]]) -> list[list[Row]]:
    """Groups of links that form lists: rows of one container, or one paragraph that is nothing but links.

    A container with a single row (a card: <div><h3><a>) is regrouped one level up, the card being the row."""
    lists = []
    regrouped: dict[HtmlElement, list[Row]] = {}
    for container, links in rows_by_container.items():
        if len({row for _, row in links}) >= MIN_LIST_ROWS:
            lists.append(links)
        elif len(links) >= MIN_LIST_ROWS and _mostly_links(links[0][1], links):
            lists.append(links)
        elif (parent := container.getparent()) is not None and container.tag not in _CONTENT_ROOTS:
            regrouped.setdefault(parent, []).extend((link, container) for link, _ in links)
    lists += [links for links in regrouped.values() if len({row for _, row in links}) >= MIN_LIST_ROWS]
    return lists


def read_page_signals(tree: HtmlElement | None) -> PageSignals:
    """The widget lines of a parsed page, by signal; see the module docstring."""
    signals = PageSignals()
    if tree is None:
        return signals
    boxes: dict[HtmlElement, Signal] = {}  # one widget's buttons share a box: each box is read once
    rows_by_container: dict[HtmlElement, list[Row]] = {}
    for element in tree.iter("a", *_FORM_TAGS, *_CAPTION_TAGS):
        tag = element.tag
        if tag == "a":
            href = element.get("href")
            if not href:
                continue
            if _maybe_share(href) and _SHARE_HREF.search(href.strip()):
                boxes.setdefault(_widget_box(element), "share")
            elif (row := _row_of(element)) is not None and (container := row.getparent()) is not None:
                rows_by_container.setdefault(container, []).append((element, row))
        elif tag in _CAPTION_TAGS:
            boxes.setdefault(element, "caption")
        elif not any(parent in boxes for parent in _parents(element, 4)):
            boxes.setdefault(_widget_box(element), "form")
    for box, signal in boxes.items():
        signals.mark_all(box, signal)
        if signal == "share" and (label := _short_label(_previous_element(box), MAX_LABEL_CHARS)) is not None:
            signals.mark(label.text_content(), "share")
    for links in _lists_of_links(rows_by_container):
        for link, _ in links:
            signals.mark(link.text if len(link) == 0 else link.text_content(), "link-list")
        if (heading := _heading_of(links)) is not None:
            signals.mark(heading.text_content(), "link-list-heading")
    return signals


def _parents(element: HtmlElement, levels: int) -> list[HtmlElement]:
    found = []
    parent = element.getparent()
    while parent is not None and len(found) < levels:
        found.append(parent)
        parent = parent.getparent()
    return found
