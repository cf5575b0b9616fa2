"""The extraction's parser builds trafilatura's tree, with plain element classes chosen in C."""

from __future__ import annotations

import importlib
from copy import deepcopy
from pathlib import Path

import pytest
from lxml import etree
from lxml.html import HtmlElement, InputElement
from trafilatura.utils import load_html

from shared.encoding import decode_html
from workers.stages.article_container import container_document
from workers.stages.html_tree import PARSER, new_document, parse_page

from .conftest import FIXTURES

PAGES = sorted([*(FIXTURES / "pages").glob("*.html"), *(FIXTURES / "extraction").glob("*.html")])
FORM_PAGE = "<html><body><form><input name=q value=x><textarea>t</textarea></form><p>text</p></body></html>"


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_the_tree_is_the_one_trafilatura_builds(path: Path) -> None:
    html = decode_html(path.read_bytes(), None).text
    ours, theirs = parse_page(html), load_html(html)
    assert ours is not None
    assert theirs is not None
    assert etree.tostring(ours, encoding="unicode") == etree.tostring(theirs, encoding="unicode")


def test_an_encoding_declaration_and_non_html_are_handled_as_trafilatura_does() -> None:
    declared = '<?xml version="1.0" encoding="utf-8"?><html><body><p>café</p></body></html>'
    ours, theirs = parse_page(declared), load_html(declared)
    assert ours is not None
    assert theirs is not None
    assert etree.tostring(ours) == etree.tostring(theirs)
    assert parse_page("just some words, no markup") is load_html("just some words, no markup") is None


def test_form_fields_are_plain_elements_and_copies_keep_the_parser() -> None:
    """lxml.html's own parser would make the input an InputElement (its lookup runs in Python)."""
    assert isinstance(load_html(FORM_PAGE).find(".//input"), InputElement)  # type: ignore[union-attr]
    tree = parse_page(FORM_PAGE)
    assert tree is not None
    for element in (tree.find(".//input"), deepcopy(tree).find(".//input")):
        assert type(element) is HtmlElement
    assert tree.getroottree().parser is PARSER


def test_trafilatura_keeps_its_own_parser_outside_the_call() -> None:
    utils = importlib.import_module("trafilatura.utils")
    before = utils.HTML_PARSER
    parse_page(FORM_PAGE)
    assert utils.HTML_PARSER is before
    assert before is not PARSER


def test_a_container_copy_lives_in_a_document_of_the_parser() -> None:
    tree = parse_page(FORM_PAGE)
    assert tree is not None
    form = tree.find(".//form")
    assert form is not None
    document = container_document(form)
    assert document.getroottree().parser is PARSER
    assert type(document.find(".//input")) is HtmlElement
    assert new_document().getroottree().parser is PARSER
