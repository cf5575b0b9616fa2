"""Lists of links in a page: related articles, "more news", tags. Their links and headings are not the article.

A list is recognised by its shape, whatever its words: several rows (list items, paragraphs, cards) of one
container each holding a link, or one paragraph that is nothing but links. Its heading is the short, link-free
element just before its first row. trafilatura often drops the links and keeps the heading ("Lees ook:"), so a
heading is also recognised from its side: a short heading followed by a list element or by link blocks.
"""

from __future__ import annotations

from lxml.html import HtmlElement

from workers.stages.dom_blocks import (
    CONTENT_ROOTS,
    MAX_BOX_CHARS,
    holds_more_than,
    letters,
    next_element,
    previous_element,
    short_label,
)  # fmt: skip

Row = tuple[HtmlElement, HtmlElement]  # a link and the row (list item, paragraph, card) it stands in
ROW_TAGS = frozenset(("li", "p", "h2", "h3", "h4", "h5", "h6", "article", "dt", "dd", "td"))
MIN_LIST_ROWS = 2  # links in at least this many rows of one container make a list of links
LINK_SHARE = 0.6  # share of a block's letters inside links for it to be a link block (<a><br><a>, a card)


def row_of(link: HtmlElement) -> HtmlElement | None:
    """The list item, paragraph or heading a link stands in (its row in a list of links)."""
    parent = link.getparent()
    for _ in range(3):
        if parent is None or parent.tag in ROW_TAGS:
            return parent
        parent = parent.getparent()
    return None


def lists_of_links(rows_by_container: dict[HtmlElement, list[Row]]) -> list[list[Row]]:
    """Groups of kept links that stand in lists: the container holds links in several rows (trafilatura may
    have kept only one of them), or one paragraph is nothing but links (<a><br><a>).

    A container with a single row (a card: <div><h3><a>) is regrouped one level up, the card being the row."""
    lists = []
    regrouped: dict[HtmlElement, list[Row]] = {}
    for container, links in rows_by_container.items():
        if _rows_with_links(container) >= MIN_LIST_ROWS or _is_link_block(links[0][1], MIN_LIST_ROWS):
            lists.append(links)
        elif (parent := container.getparent()) is not None and container.tag not in CONTENT_ROOTS:
            regrouped.setdefault(parent, []).extend((link, container) for link, _ in links)
    lists += [links for parent, links in regrouped.items() if _rows_with_links(parent) >= MIN_LIST_ROWS]
    return lists


def heading_of(links: list[Row]) -> HtmlElement | None:
    """The short, link-free element just before the first row of a list of links (the list's heading)."""
    first_link, first_row = links[0]
    if first_row is first_link.getparent() and first_row.index(first_link) > 0:
        return short_label(first_row[0])  # <p><b>More</b><br><a>…</a><br><a>…</a></p>
    row: HtmlElement | None = first_row
    for _ in range(3):  # <h3>Heading</h3><ul><li><a>: the heading stands before the list, not the row
        if row is None or row.tag in CONTENT_ROOTS:
            return None
        previous = previous_element(row)
        while previous is not None and (previous.tag == "a" or previous.find(".//a[@href]") is not None):
            previous = previous_element(previous)  # earlier rows of the same list (trafilatura dropped them)
        if previous is not None:
            return short_label(previous)
        row = row.getparent()
    return None


def heads_dropped_list(element: HtmlElement) -> bool:
    """<h3>More</h3><p><a>…</a></p><p><a>…</a></p>, or <p><b>More</b></p><ul>…: a short heading followed by
    a list of links (a list element, or two blocks in a row that are mostly one link each)."""
    if short_label(element) is None:
        return False
    block = element
    parent = element.getparent()
    if parent is not None and parent.tag not in CONTENT_ROOTS and letters(parent) == letters(element):
        block = parent  # <p><strong>Heading</strong></p>: the paragraph is the heading's block
    following = next_element(block)
    if following is None or holds_more_than(following, MAX_BOX_CHARS):
        return False
    if following.tag in ("ul", "ol"):
        return len(following.findall(".//a[@href]")) >= MIN_LIST_ROWS
    second = next_element(following)
    return _is_link_block(following) and second is not None and _is_link_block(second)


def _rows_with_links(container: HtmlElement) -> int:
    """How many children of the container hold a link."""
    return sum(
        1 for child in container
        if isinstance(child.tag, str) and (child.tag == "a" or child.find(".//a[@href]") is not None)
    )  # fmt: skip


def _is_link_block(element: HtmlElement, min_links: int = 1) -> bool:
    """A short block that is mostly the text of its links (a related-article card, or links parted by <br>)."""
    if holds_more_than(element, MAX_BOX_CHARS):
        return False
    links = element.findall(".//a[@href]") if element.tag != "a" else [element]
    return len(links) >= min_links and sum(letters(a) for a in links) >= LINK_SHARE * letters(element)
