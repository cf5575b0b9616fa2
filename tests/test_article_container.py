"""Which element a page marks as its article, and when that mark is not trusted (pure functions on lxml trees)."""

from __future__ import annotations

from lxml.etree import XPath
from lxml.html import HtmlElement, fromstring

from workers.stages.article_container import _article_body_marks, article_container, container_document

from .conftest import FIXTURES

STORY = "".join(f"<p>Le conseil municipal a voté le budget de la ville, paragraphe numéro {n}.</p>" for n in range(8))


def _marked(tree: HtmlElement) -> str | None:
    found = article_container(tree)
    return None if found is None else (found.get("id") or found.tag)


def test_the_most_specific_single_mark_wins() -> None:
    page = fromstring(f"<html><body><main><article><h1>Budget</h1><div id='body' itemprop='articleBody'>{STORY}"
                      "</div></article></main></body></html>")  # fmt: skip
    assert _marked(page) == "body"
    page = fromstring(f"<html><body><main><article id='story'>{STORY}</article></main></body></html>")
    assert _marked(page) == "story"
    page = fromstring(f"<html><body><main id='main'><div>{STORY}</div></main></body></html>")
    assert _marked(page) == "main"


def test_an_itemprop_is_a_list_of_tokens_and_a_meta_or_body_mark_narrows_nothing() -> None:
    tokens = fromstring(f"<html><body><div id='text' itemprop='text articleBody'>{STORY}</div></body></html>")
    assert _marked(tokens) == "text"
    meta = fromstring(f"<html><body><meta itemprop='articleBody' content='x'><article id='a'>{STORY}</article>"
                      "</body></html>")  # fmt: skip
    assert _marked(meta) == "a"
    assert _marked(fromstring(f"<html><body itemprop='articleBody'><div>{STORY}</div></body></html>")) is None


def test_several_marks_or_a_mark_holding_a_minority_of_the_paragraphs_are_not_trusted() -> None:
    cards = "<article><p>Un autre sujet, résumé en une phrase.</p></article>" * 3
    assert _marked(fromstring(f"<html><body><div>{STORY}</div>{cards}</body></html>")) is None
    # One "most read" card, long enough to pass for an article on its own, beside the real story.
    card = "<article><p>" + "Les plus lus de la semaine, en quelques mots. " * 25 + "</p></article>"
    story = STORY * 3
    assert _marked(fromstring(f"<html><body><div>{story}</div><aside>{card}</aside></body></html>")) is None
    # The card fails, and the next mark is tried: the lone <main> holding the story.
    assert _marked(fromstring(f"<html><body><main id='m'>{story}<aside>{card}</aside></main></body></html>")) == "m"
    # No paragraphs to judge by: a lone mark is not trusted.
    assert _marked(fromstring("<html><body><article>Un texte sans paragraphes.</article></body></html>")) is None


def test_the_container_document_holds_a_copy_without_the_text_after_the_element() -> None:
    page = fromstring(f"<html><body><article>{STORY}</article>Publicité<footer>©</footer></body></html>")
    container = article_container(page)
    assert container is not None
    document = container_document(container)
    assert "Publicité" not in document.text_content()
    assert "paragraphe numéro 7" in document.text_content()
    assert container.getparent() is page.find("body")  # the page keeps its own element


def test_the_article_body_mark_is_read_as_xpath_reads_the_token_list() -> None:
    """The Python reading of ``itemprop`` selects what the one-expression XPath selected (the definition)."""
    definition = XPath(
        "//*[contains(concat(' ', normalize-space(@itemprop), ' '), ' articleBody ')]"
        "[not(self::meta or self::body or self::html)]"
    )
    crafted = fromstring(
        "<html><body itemprop='articleBody'><meta itemprop='articleBody'><div itemprop=' text\tarticleBody\n'>a</div>"
        "<div itemprop='articleBodyX'>b</div><div itemprop='articleBody\u00a0x'>non-XML space</div>"
        "<span itemprop='name articleBody'>c</span><p itemprop=''>d</p></body></html>"
    )
    pages = [fromstring(p.read_bytes()) for p in sorted((FIXTURES / "pages").glob("*.html"))]
    for tree in [crafted, *pages]:
        assert _article_body_marks(tree) == definition(tree)
    assert [e.text for e in _article_body_marks(crafted)] == ["a", "c"]
