"""Page signals: what the page's markup says about a line of text, read once from the already-parsed tree.

trafilatura keeps some lines of widgets around and inside an article (a related-links heading whose list it
dropped, share-button labels, a newsletter prompt, a caption). The words of those lines differ in every
language and newsroom; their markup does not: share-intent URLs, forms and buttons, lists of links, figure
captions. This module maps the text of such elements to the signal that marks them, so
workers/stages/clean.py can drop a line on evidence rather than by phrase, and say which evidence.

Cost: one walk over the few tags that carry these signals (``tree.iter`` with tag names: libxml2 skips the
rest; it beats XPath here), and only links and headings whose text is a line of the extracted text are looked
at further. The tree is the page as parsed and as published (extraction gives it back intact: what it sets
aside for trafilatura's whole-page pass is put back), or, when the text came from the page's article
container, that element within it: the text's lines can only be there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from lxml.html import HtmlElement

from workers.stages.dom_blocks import (
    CONTENT_ROOTS,
    MAX_BOX_CHARS,
    MAX_HEADING_CHARS,
    SENTENCE_ENDS,
    holds_more_than,
    holds_prose,
    letters,
    parents,
    previous_element,
    short_label,
)  # fmt: skip
from workers.stages.link_lists import MIN_LIST_ROWS, Row, heading_of, heads_dropped_list, lists_of_links, row_of

Signal = Literal["share", "form", "caption", "link-list", "link-list-heading"]

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
_SHARE_SCHEMES = ("mailto:?", "whatsapp:", "sms:", "tg:", "viber:", "fb-messenger:")
_FORM_TAGS = ("form", "button")  # a form's labels and fields are inside its box
_CAPTION_TAGS = ("figcaption",)
_HEADING_TAGS = ("h2", "h3", "h4", "h5", "h6", "strong", "b")
MAX_WIDGET_CHARS = 400  # a box around a form or share links holds a prompt, not an article
MAX_BOX_EXTRA_CHARS = 100  # what a widget's box may hold besides the widget: a prompt, a label
MAX_WIDGET_PIECES = 60  # text nodes marked of one box (a <select> of 200 countries is one widget)
EDGE_LINES, TRAILER_LINES = 5, 25  # lines at the start and at the end where a list of links is looked for
MAX_LINK_LINE_CHARS = 160  # a link's title, not a paragraph
MAX_LABEL_CHARS = 40  # "Share this article": a label just before a box of share links


def line_key(text: str | None) -> str:
    """How a line of extracted text and an element's text are compared: list and table markers off, casefolded."""
    stripped = (text or "").strip().lstrip("-*•·|> ").rstrip("| ")
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
        for pieces, piece in enumerate(element.itertext()):
            if pieces > MAX_WIDGET_PIECES:
                break
            self.mark(piece, signal)


def _maybe_share(href: str) -> bool:
    # Unrolled on purpose: a page has a few hundred links, and this runs for each of them.
    return (
        "shar" in href or "intent" in href or "send" in href or "submit" in href or "status" in href
        or "wa.me" in href or "pin/create" in href or "bookmarklet" in href or "save" in href or "edit" in href
        or href.startswith(_SHARE_SCHEMES)
    )  # fmt: skip


def _widget_box(element: HtmlElement) -> HtmlElement:
    """The element with the short labels around it: ancestors up to three levels up, as long as each adds at
    most a label's worth of text (a prompt, "Share:"), never a paragraph of the article around the widget."""
    box, box_chars = element, letters(element)
    for level, parent in enumerate(element.iterancestors()):
        if level == 3 or parent.tag in CONTENT_ROOTS:
            break
        parent_chars = letters(parent)
        if parent_chars - box_chars > MAX_BOX_EXTRA_CHARS or any(
            child is not box and isinstance(child.tag, str) and holds_prose(child) for child in parent
        ):
            break  # the parent holds more than labels: a sentence beside the widget is the article's
        box, box_chars = parent, parent_chars
    return box


def read_page_signals(tree: HtmlElement | None, lines: Iterable[str] = ()) -> PageSignals:
    """The widget lines of a parsed page, by signal; see the module docstring.

    ``lines`` are the extracted text's lines: a link or a heading is looked at only when its text is one of
    them (most of a page's links are menus trafilatura already dropped), which keeps the walk cheap."""
    signals = PageSignals()
    lines = list(lines)
    if tree is None or not any(len(line) <= MAX_WIDGET_CHARS for line in lines):
        return signals  # nothing short enough to be a widget's line
    # A heading whose list trafilatura dropped only matters at the end of the text (clean.py's trailer), and
    # only a short line without a full stop can be one: most texts end with prose, and skip this part.
    tail = [line for line in lines[-6:] if len(line) <= MAX_HEADING_CHARS and not line.rstrip().endswith(SENTENCE_ENDS)]
    edge_headings = {line_key(line) for line in tail} - {""}
    edge_plain = {_plain(line) for line in tail}
    forms: list[HtmlElement] = []
    headings: list[tuple[HtmlElement | None, bool]] = []  # (heading, whether a list element follows it)
    boxes: dict[HtmlElement, Signal] = {}  # one widget's buttons share a box: each box is read once
    links: list[HtmlElement] = []
    tags = ("a", *_FORM_TAGS, *_CAPTION_TAGS, *(("ul", "ol", *_HEADING_TAGS) if edge_headings else ()))
    for element in tree.iter(*tags):
        tag = element.tag
        if tag == "a":
            links.append(element)
        elif tag in _CAPTION_TAGS:
            boxes.setdefault(element, "caption")
        elif tag in _FORM_TAGS:
            forms.append(element)
        elif (candidate := _edge_heading(element, edge_plain)) is not None:
            headings.append(candidate)
    # Lists of links only matter at the ends of the text (clean.py removes them there, line after line).
    ends = [line for line in lines[:EDGE_LINES] + lines[-TRAILER_LINES:] if len(line) <= MAX_LINK_LINE_CHARS]
    rows_by_container = _sort_links(links, ends, boxes)
    _box_forms(forms, boxes)
    for box, signal in boxes.items():
        signals.mark_all(box, signal)
        if signal == "share" and (label := short_label(previous_element(box), MAX_LABEL_CHARS)) is not None:
            signals.mark(label.text_content(), "share")
    for heading_element, before_list in headings:  # after the boxes: a share box's label is a share label
        _mark_heading(heading_element, before_list, edge_headings, signals)
    for links in lists_of_links(rows_by_container):
        for link, _ in links:
            signals.mark(link.text if len(link) == 0 else link.text_content(), "link-list")
        if (heading := heading_of(links)) is not None:
            signals.mark(heading.text_content(), "link-list-heading")
    return signals


def _box_forms(forms: list[HtmlElement], boxes: dict[HtmlElement, Signal]) -> None:
    for element in forms:  # forms come before their buttons in document order: a form's box takes them
        if holds_more_than(element, MAX_BOX_CHARS) or holds_prose(element):
            continue  # a page wrapped whole in a <form> (ASP.NET) is not a widget
        if not any(parent in boxes for parent in parents(element, 4)):
            boxes.setdefault(_widget_box(element), "form")


def _sort_links(
    links: list[HtmlElement], lines: list[str], boxes: dict[HtmlElement, Signal]
) -> dict[HtmlElement, list[Row]]:
    """Share links' boxes are widgets; links whose text is a line of the text are rows, by container.

    The comparison is on whitespace-collapsed text with its case (trafilatura keeps both): a page has hundreds
    of links, and this loop is most of the cost of reading the signals."""
    plain = {_plain(line) for line in lines}
    rows: dict[HtmlElement, list[Row]] = {}
    for link in links:  # the href tests come first: they need no text
        href = link.get("href")
        if not href:
            continue
        if _maybe_share(href) and _SHARE_HREF.search(href.strip()):
            boxes.setdefault(_widget_box(link), "share")
            continue
        if not plain:
            continue
        text = link.text if len(link) == 0 else link.text_content()
        if text and _plain(text) in plain and (row := row_of(link)) is not None:
            container = row.getparent()
            if container is not None:
                rows.setdefault(container, []).append((link, row))
    return rows


def _plain(text: str | None) -> str:
    """Whitespace collapsed, list and table markers off, case kept: a cheap first comparison of texts."""
    return " ".join((text or "").split()).lstrip("-*•·|> ").rstrip("| ")


def _edge_heading(element: HtmlElement, edge_plain: set[str]) -> tuple[HtmlElement, bool] | None:
    """(heading, whether a list of links follows it) when a heading's own text, or the text just before a list,
    is one of the lines at the ends of the text; cheap tests first: most headings and lists are not."""
    if element.tag not in ("ul", "ol"):
        own = element.text if len(element) == 0 else element.text_content()
        return (element, False) if _plain(own) in edge_plain else None
    previous = previous_element(element)
    if previous is None:
        return None
    # <p>Related :</p> or <p><strong>Related :</strong></p>: the heading's text is its own or its first child's.
    texts = [previous.text] + [child.text for child in previous[:1]]
    if not any(_plain(t) in edge_plain for t in texts if t):
        return None
    return previous, len(element.findall(".//a[@href]")) >= MIN_LIST_ROWS


def _mark_heading(heading: HtmlElement | None, before_list: bool, wanted: set[str], signals: PageSignals) -> None:
    """A heading kept at an edge of the text whose list of links trafilatura dropped."""
    if heading is None or holds_more_than(heading, MAX_BOX_CHARS) or line_key(heading.text_content()) not in wanted:
        return
    if (before_list and short_label(heading) is not None) or heads_dropped_list(heading):
        signals.mark(heading.text_content(), "link-list-heading")
