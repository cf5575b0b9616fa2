"""Page evidence for cleaning: widgets found by markup, metadata lines, site template lines, explained removals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import lxml.html
import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.stages.clean import PageContext, clean_page
from workers.stages.metadata_lines import is_byline, is_date_line
from workers.stages.page_signals import PageSignals, line_key, read_page_signals
from workers.stages.site_template import host_key, line_hash, page_line_keys

PARIS = timezone(timedelta(hours=1))
PUBLISHED = datetime(2024, 11, 17, 21, 5, tzinfo=PARIS)
# Dutch: no rule of boilerplate.yaml knows a word of it, so only markup can tell.
PARAS = [
    "Alle mensen worden vrij en gelijk in waardigheid en rechten geboren. Zij zijn begiftigd met verstand en "
    "geweten, en behoren zich jegens elkander in een geest van broederschap te gedragen.",
    "Een ieder heeft recht op leven, vrijheid en onschendbaarheid van zijn persoon, zonder enig onderscheid van "
    "welke aard ook, zoals ras, kleur, geslacht, taal, godsdienst of politieke overtuiging.",
]


def _signals(body: str, lines: list[str]) -> PageSignals:
    tree = lxml.html.fromstring(f"<html><body><article><div class='c'>{body}</div></article></body></html>")
    return read_page_signals(tree, lines)


def _paragraphs() -> str:
    return "".join(f"<p>{p}</p>" for p in PARAS)


@pytest.mark.parametrize(
    ("widget", "line", "signal"),
    [
        ("<div><span>Deel dit artikel</span> <a href='https://www.facebook.com/sharer/sharer.php?u=x'>Facebook</a>"
         "<a href='whatsapp://send?text=x'>WhatsApp</a></div>", "Deel dit artikel", "share"),
        ("<p>Deel dit artikel</p><ul><li><a href='https://twitter.com/intent/tweet?url=x'>X</a></li>"
         "<li><a href='mailto:?subject=x'>E-mail</a></li></ul>", "Deel dit artikel", "share"),
        ("<div class='box'><p>Ontvang elke ochtend onze nieuwsbrief</p><form><input><button>Aanmelden</button>"
         "</form></div>", "Ontvang elke ochtend onze nieuwsbrief", "form"),
        ("<div class='box'><p>Ontvang elke ochtend onze nieuwsbrief</p><form><input><button>Aanmelden</button>"
         "</form></div>", "Aanmelden", "form"),
        ("<figure><img src='a.jpg'><figcaption>Demonstranten op het plein. Beeld ANP</figcaption></figure>",
         "Demonstranten op het plein. Beeld ANP", "caption"),
        ("<p><strong>Lees ook:</strong></p><p><a href='/a'>Nieuw kabinet beëdigd</a></p>"
         "<p><a href='/b'>Storm legt treinverkeer plat</a></p>", "Nieuw kabinet beëdigd", "link-list"),
        ("<p><strong>Lees ook:</strong></p><p><a href='/a'>Nieuw kabinet beëdigd</a></p>"
         "<p><a href='/b'>Storm legt treinverkeer plat</a></p>", "Lees ook:", "link-list-heading"),
        ("<h3>Meer nieuws</h3><ul><li><a href='/a'>Nieuw kabinet beëdigd</a></li>"
         "<li><a href='/b'>Storm legt treinverkeer plat</a></li></ul>", "Meer nieuws", "link-list-heading"),
        ("<p><b>Meer nieuws</b><br><a href='/a'>Nieuw kabinet beëdigd</a><br>"
         "<a href='/b'>Storm legt treinverkeer plat</a></p>", "Storm legt treinverkeer plat", "link-list"),
    ],
)  # fmt: skip
def test_widgets_are_found_by_their_markup(widget: str, line: str, signal: str) -> None:
    signals = _signals(_paragraphs() + widget, [*PARAS, line])
    assert signals.of(line) == signal
    assert all(signals.of(p) is None for p in PARAS)


def test_article_paragraphs_beside_a_widget_are_never_marked() -> None:
    # A short article (a brief) whose whole container holds less text than a widget box may.
    brief = "<p>Niemand zal in slavernij worden gehouden.</p>"
    share = "<div><a href='https://www.facebook.com/sharer/sharer.php?u=x'>Facebook</a></div>"
    signals = _signals(brief + share + brief.replace("slavernij", "horigheid"), [PARAS[0], "Facebook"])
    assert signals.of("Niemand zal in slavernij worden gehouden.") is None
    assert signals.of("Facebook") == "share"


def test_a_page_wrapped_whole_in_a_form_is_not_a_widget() -> None:
    signals = _signals(f"<form id='aspnetForm'>{_paragraphs()}<button>OK</button></form>", PARAS)
    assert all(signals.of(p) is None for p in PARAS)


def test_a_line_is_looked_at_only_if_it_is_in_the_text() -> None:
    assert _signals(_paragraphs(), []).marks == {}
    assert read_page_signals(None, PARAS).marks == {}


def test_a_list_of_links_inside_the_story_is_kept_at_the_end_it_goes() -> None:
    links = ["Nieuw kabinet beëdigd", "Storm legt treinverkeer plat"]
    items = "".join(f"<li><a href='/{i}'>{t}</a></li>" for i, t in enumerate(links))
    signals = _signals(f"<p>{PARAS[0]}</p><ul>{items}</ul><p>{PARAS[1]}</p>", [PARAS[0], *links, PARAS[1]])
    middle = clean_page("\n".join([PARAS[0], *links, PARAS[1]]), PageContext(signals=signals))
    assert middle.text == "\n".join([PARAS[0], *links, PARAS[1]])
    tail = clean_page("\n".join([*PARAS, *links]), PageContext(signals=signals))
    assert tail.text == "\n".join(PARAS)
    assert [r.reason for r in tail.removed] == ["signal:link-list", "signal:link-list"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("17 novembre 2024", True), ("Dimanche 17 novembre 2024 à 21h05", True), ("17.11.2024", True),
        ("2024-11-17", True), ("17/11/2024 21:05", True), ("November 17, 2024 at 9:05 pm", True),
        ("Mis à jour le 17/11/2024 à 21:05", True), ("17.11.", True),
        ("18 novembre 2024", False), ("17 people were injured in 2024", False), ("17 novembre", False),
        ("12 000 soldats nord-coréens ont été envoyés en Russie le 17 novembre 2024.", False), ("2024", False),
        ("Le 17 novembre 2024, le président américain a autorisé l’Ukraine à frapper", False),
    ],
)  # fmt: skip
def test_a_date_line_only_repeats_the_publication_date(line: str, expected: bool) -> None:
    assert is_date_line(line, PUBLISHED) is expected
    assert not is_date_line(line, None)


@pytest.mark.parametrize(
    ("line", "expected"),
    [("Par Claire Dumas", True), ("By CLAIRE DUMAS and staff", True), ("Claire Dumas", True),
     ("Claire Dumas a rencontré le ministre mardi à Kiev pour un entretien", False), ("Par Marc Lévy", False)],
)  # fmt: skip
def test_a_byline_is_the_author_with_few_words(line: str, expected: bool) -> None:
    assert is_byline(line, "Claire Dumas") is expected


def test_metadata_lines_go_only_from_the_edges() -> None:
    text = "\n".join(["17 novembre 2024", PARAS[0], "17.11.2024", PARAS[1], "Par Claire Dumas"])
    cleaned = clean_page(text, PageContext(published_at=PUBLISHED, author="Claire Dumas"))
    assert cleaned.text == "\n".join([PARAS[0], "17.11.2024", PARAS[1]])
    assert [r.reason for r in cleaned.removed] == ["date-line", "byline"]


def test_template_lines_go_anywhere_but_a_page_is_never_emptied() -> None:
    sign_off = "Volg ons ook op sociale media voor het laatste nieuws uit de regio."
    template = frozenset({line_hash(sign_off), line_hash("Meer nieuws")})
    cleaned = clean_page("\n".join([PARAS[0], sign_off, PARAS[1], "Meer nieuws"]), PageContext(template=template))
    assert cleaned.text == "\n".join(PARAS)
    assert {r.reason for r in cleaned.removed} == {"template"}
    whole = "\n".join([sign_off, "Meer nieuws"])
    assert clean_page(whole, PageContext(template=template)).text == whole


def test_line_keys_ignore_case_spacing_and_list_markers() -> None:
    assert line_key("- Lees  OOK:") == line_key("lees ook:") == "lees ook:"
    assert line_hash("Meer\u00a0nieuws") == line_hash("meer nieuws")
    assert page_line_keys(["Meer nieuws", "meer  nieuws", "-", ""]) == (line_hash("Meer nieuws"),)
    assert host_key("WWW.Nieuws.example:443") == "nieuws.example"
    assert host_key(None) is None


lines = st.lists(
    st.one_of(
        st.sampled_from(["Lees ook:", "Deel dit artikel", "17.11.2024", "Claire Dumas", "Meer nieuws", "", " "]),
        st.text(alphabet=st.characters(exclude_categories=["Cs", "Cc", "Zl", "Zp"]), max_size=200),
    ),
    max_size=12,
)


@given(lines, st.sets(st.sampled_from(["Lees ook:", "Deel dit artikel", "Meer nieuws"])))
def test_cleaning_with_evidence_only_removes_whole_lines_and_explains_each(parts: list[str], marked: set[str]) -> None:
    signals = PageSignals()
    for line in marked:
        signals.mark(line, "share" if "Deel" in line else "link-list")
    context = PageContext(
        signals=signals, template=frozenset({line_hash("Meer nieuws")}), published_at=PUBLISHED, author="Claire Dumas"
    )
    cleaned = clean_page("\n".join(parts), context)
    kept = cleaned.text.split("\n") if cleaned.text else []
    source = [" ".join(line.split()) for line in "\n".join(parts).splitlines()]
    it = iter(source)
    assert all(line in it for line in kept)  # an ordered subsequence of the input's lines
    assert len(kept) + len(cleaned.removed) == len([line for line in source if line])
    assert all(r.reason for r in cleaned.removed)
    assert clean_page(cleaned.text, context).text == cleaned.text  # idempotent


def test_a_date_line_is_read_in_the_zone_published_at_is_given_in() -> None:
    assert is_date_line("17.11.2024 21:05", PUBLISHED)  # the page's own zone, as its metadata gives it
    assert not is_date_line("17.11.2024 21:05", PUBLISHED.astimezone(UTC))  # 20:05 in UTC: another time


@given(st.integers(min_value=0, max_value=9999).filter(lambda n: n not in {17, 11, 2024, 24, 21, 9, 5, 0}))
def test_a_line_with_any_other_number_is_never_a_date_line(number: int) -> None:
    # Every number of a date line is a part of published_at: "17 novembre 2024, 3 morts" is a sentence.
    assert not is_date_line(f"17 novembre 2024 {number}", PUBLISHED)
    assert not is_date_line(f"{number} 17.11.2024", PUBLISHED)
