"""Inert text: read as HTML it shows exactly the original characters and opens no element; read as text it
is the original wherever the original was not markup-like."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from shared.feed_text import html_text, inert, safe_url, xml_safe


class _Rendered(HTMLParser):
    """What an HTML parser makes of a fragment: its text, and any element or comment it opened."""

    def __init__(self, fragment: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.markup: list[str] = []
        self.feed(fragment)
        self.close()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.markup.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self.markup.append("/" + tag)

    def handle_comment(self, data: str) -> None:
        self.markup.append("!--")

    def handle_decl(self, decl: str) -> None:
        self.markup.append("!")

    def unknown_decl(self, data: str) -> None:
        self.markup.append("![")

    def handle_pi(self, data: str) -> None:
        self.markup.append("?")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AT&T, Q&A & more", "AT&T, Q&A & more"),  # ampersands no browser decodes stay as they are
        ('He said "no" – 5 < 6 > 4, <3', 'He said "no" – 5 < 6 > 4, <3'),
        ("<script>alert(1)</script>", "&lt;script>alert(1)&lt;/script>"),
        ('"><img src=x onerror=alert(1)>', '">&lt;img src=x onerror=alert(1)>'),
        ("&copy 2024 &amp; &#60;b&#62; &lt", "&amp;copy 2024 &amp;amp; &amp;#60;b&amp;#62; &amp;lt"),
        ("a <!-- b --> c <? d ?> e </ f", "a &lt;!-- b --> c &lt;? d ?> e &lt;/ f"),
        ("bell\x07 and nul\x00 gone", "bell and nul gone"),
        (None, ""),
    ],
)
def test_inert_escapes_only_what_a_browser_would_interpret(text: str | None, expected: str) -> None:
    assert inert(text) == expected


@given(st.text())
@example("&notin; &not &amp &ampx &#x41 &#65; <a href=x> </p> <!x> <?y>")
def test_inert_text_renders_as_itself_and_opens_nothing(text: str) -> None:
    original = xml_safe(text)
    rendered = _Rendered(inert(text))
    assert rendered.markup == []
    assert "".join(rendered.text) == original
    assert html.unescape(inert(text)) == original
    assert re.search(r"<[A-Za-z/!?]", inert(text)) is None


@given(st.text())
def test_html_text_renders_as_itself(text: str) -> None:
    rendered = _Rendered(html_text(text))
    assert rendered.markup == []
    assert "".join(rendered.text) == xml_safe(text)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://news.example/a?b=1&c=2#x", "https://news.example/a?b=1&c=2#x"),
        (
            'https://x.example/"><img src=x onerror=alert(1)>',
            "https://x.example/%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E",
        ),
        ("https://ex.example/ü/ë", "https://ex.example/ü/ë"),  # an IRI's id stays byte for byte the same
        ("javascript:alert(1)", "#"),
        ("data:text/html,<script>", "#"),
        ("", "#"),
        (None, "#"),
    ],
)
def test_safe_url(url: str | None, expected: str) -> None:
    assert safe_url(url) == expected
