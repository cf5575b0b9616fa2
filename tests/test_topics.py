"""Topic rules on text: folding, whole words, wildcards, scoring, and the shipped starter topics."""

from __future__ import annotations

import itertools
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from shared.topic_rules import Topic, fold, parse_topics, term_key, unify_marks
from workers.stages.topics import evaluate, match_topic, tag_article

ROOT = Path(__file__).resolve().parents[1]
SEED_TEXT = (ROOT / "seeds" / "000_1f54b0fcd0170c75.expected.txt").read_text(encoding="utf-8")
SEED_TITLE = "Joe Biden autorise l’Ukraine à frapper la Russie avec des missiles à longue portée"
STARTER = parse_topics(yaml.safe_load((ROOT / "seeds" / "topics.yaml").read_text(encoding="utf-8")))


def topic(**rules: Any) -> Topic:
    return Topic.model_validate({"slug": "t", "name": "T", "min_score": 1, **rules})


def matches(term: str, text: str) -> bool:
    return match_topic(topic(any=[term]), None, text, "fr") is not None


@pytest.mark.parametrize(
    ("raw", "folded"),
    [("Ukrainien", "ukrainien"), ("Rússia", "russia"), ("Fußball", "fussball"), ("ЁЛКА Ёлка", "елка елка"),
     ("l’Ukraine", "l'ukraine"), ("nord‑coréens", "nord-coreens"), ("Zaporižžja", "zaporizzja")],
)  # fmt: skip
def test_fold_ignores_case_and_accents(raw: str, folded: str) -> None:
    assert fold(raw) == folded


@pytest.mark.parametrize(
    ("term", "text", "expected"),
    [
        ("ukrain*", "les Ukrainiens", True), ("ukrain*", "UKRAINE", True), ("ukrain*", "Ukrainian troops", True),
        ("ukrain*", "la Kraine", False), ("ukrain*", "proukrainien", False),
        ("art", "the party", False), ("art", "a start", False), ("art", "l'art moderne", True), ("art", "Art.", True),
        ("ukraine", "l’Ukraine", True), ("ukraine", "d'Ukraine", True), ("ucraina", "dell’Ucraina", True),
        ("ukraine", "Ukraine's army", True),
        ("corée du nord", "la Corée du Nord", True), ("corée du nord", "la Corée-du-Nord", True),
        ("corée du nord", "en Corée. Du nord", False), ("nord-coréen*", "soldats nord coréens", True),
        ("nord-coréen*", "NORD-CORÉENNES", True), ("nord-coréen*", "sud-coréens", False),
        ("путин*", "Путина", True), ("путин*", "ПУТИН", True), ("северн* коре*", "Северной Кореи", True),
        ("s&p 500", "the S&P 500 fell", True), ("cop29", "à la COP29,", True),
    ],
)  # fmt: skip
def test_term_matching(term: str, text: str, expected: bool) -> None:
    assert matches(term, text) is expected


@pytest.mark.parametrize("term", ["*ukraine", "uk*raine", "a*", "**", "", "  ", "ukraine?", "(ukraine)"])
def test_invalid_terms_are_refused(term: str) -> None:
    with pytest.raises(ValueError, match="term"):
        topic(any=[term])


def test_a_topic_needs_terms_and_a_valid_slug() -> None:
    with pytest.raises(ValueError, match="at least one"):
        topic()
    with pytest.raises(ValueError, match="slug"):
        Topic.model_validate({"slug": "Not A Slug", "name": "x", "any": ["a"]})


def test_exclude_vetoes_the_topic() -> None:
    t = topic(any=["football"], exclude=["fantasy football"])
    assert match_topic(t, "Football: PSG wins", "", "en") is not None
    ev = evaluate(t, "Fantasy football tips", "football", "en")
    assert not ev.tagged
    assert ev.rejected == "excluded by fantasy football"


def test_all_terms_and_alternative_groups_are_required() -> None:
    t = topic(all=[["ukrain*", "kyiv"], "war"], any=["missile*"])
    assert match_topic(t, None, "Kyiv says the war goes on; missiles fell", "en") is not None
    assert match_topic(t, None, "Ukraine's song contest entry; missiles of joy", "en") is None  # no "war"
    assert "missing one of: ukrain* | kyiv" in (evaluate(t, None, "war and missiles", "en").rejected or "")
    assert evaluate(t, None, "Ukraine war", "en").rejected == "none of the 'any' terms"


def test_language_filter_uses_the_primary_subtag() -> None:
    t = topic(any=["président"], languages=["fr", "FR-be"])
    assert t.languages == ["fr"]
    assert match_topic(t, None, "Le président", "fr-FR") is not None
    assert match_topic(t, None, "Le président", "de") is None
    assert evaluate(t, None, "Le président", None).rejected == "language unknown not in fr"


def test_title_hits_weigh_more_and_body_repetition_is_capped() -> None:
    t = topic(any=["ukraine", "russie"], min_score=3)
    in_title = evaluate(t, "L'Ukraine", "", "fr")
    assert (in_title.score, in_title.hits[0].where) == (3, "title")
    repeated = evaluate(t, None, "l'Ukraine " * 50, "fr")
    assert repeated.score == 2  # one word repeated cannot reach min_score 3
    assert repeated.hits[0].body_hits == 50
    assert repeated.rejected == "score 2 below 3"
    both = match_topic(t, "Ukraine", "Ukraine, Ukraine, Ukraine et Russie", "fr")
    assert both is not None
    assert both.score == 3 + 2 + 1
    assert both.matched_terms_json() == [
        {"term": "ukraine", "title": 1, "body": 3, "points": 5.0},
        {"term": "russie", "title": 0, "body": 1, "points": 1.0},
    ]


def test_spellings_of_one_term_count_once() -> None:
    t = topic(any=["invasion", "invasión", "Invasion"])
    assert evaluate(t, None, "invasion", "es").score == 1


@given(st.text())
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_fold_drops_exactly_the_combining_marks(text: str) -> None:
    # fold's pattern holds only the marks the text has: the same result as testing every character plainly
    # (the apostrophe and hyphen spellings are the module's own: only the dropping of marks is under test)
    decomposed = unify_marks(unicodedata.normalize("NFKD", text))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    assert fold(text) == (text.casefold() if text.isascii() else plain)


LETTERS = "abcdefghijklmnopqrstuvwxyzàâçéèêëîïôûùüÿñæœßäöåøáíóúãõабвгдеёжзийклмнопрстуфхцчшщъыьэюя"


@given(st.text(LETTERS, min_size=3, max_size=12), st.sampled_from([str.upper, str.title, str.lower]))
def test_a_word_is_found_in_any_case(word: str, case: Any) -> None:
    assert matches(word, f"avant {case(word)}, après")
    assert matches(word[:3] + "*", f"«{case(word)}»")


# The starter set (seeds/topics.yaml).


def test_starter_set_covers_the_main_topics() -> None:
    slugs = {t.slug for t in STARTER}
    assert slugs >= {"world-politics", "ukraine-war", "russia", "north-korea", "us-politics", "elections",
                     "economy", "climate", "technology", "sport", "health", "science", "culture"}  # fmt: skip


@pytest.mark.parametrize("t", STARTER, ids=lambda t: t.slug)
def test_no_starter_term_overlaps_another(t: Topic) -> None:
    """Two terms that match the same words would count one piece of evidence twice."""
    terms = [*t.any_, *(x for g in t.all_ for x in ([g] if isinstance(g, str) else g))]
    for a, b in itertools.permutations(dict.fromkeys(terms), 2):
        if term_key(a) != term_key(b):
            for ending in ("", "s"):  # the stem of a wildcard term, and one of the words it stands for
                assert not matches(a, term_key(b).replace("*", ending)), f"{a!r} matches {b!r}"


def tags(title: str, text: str, language: str) -> set[str]:
    return {m.slug for m in tag_article(STARTER, title, text, language)}


def test_the_seed_article_is_tagged_with_what_its_text_supports() -> None:
    found = tags(SEED_TITLE, SEED_TEXT, "fr")
    assert found >= {"ukraine-war", "russia", "north-korea", "us-politics"}
    assert not found & {"sport", "economy", "climate", "technology", "health", "science", "culture"}


def test_the_seed_text_alone_is_enough() -> None:
    assert tags("", SEED_TEXT, "fr") >= {"ukraine-war", "russia", "north-korea", "us-politics"}


SAMPLES = [
    ("world-politics", "en", "UN Security Council weighs new sanctions",
     "Diplomats at the United Nations said the vote on sanctions could come this week, after a summit of "
     "foreign ministers in Geneva."),
    ("ukraine-war", "de", "Russische Drohnen greifen Kiew an",
     "In der Nacht haben russische Truppen die ukrainische Hauptstadt mit Drohnen und Raketen angegriffen. "
     "Präsident Selenskyj forderte mehr Waffen für die Front."),
    ("russia", "ru", "Путин провёл совещание в Кремле",
     "Президент России Владимир Путин обсудил с министрами бюджет. В Москве заявили, что решение примут позже."),
    ("north-korea", "es", "Corea del Norte lanza un misil balístico",
     "Pionyang disparó el proyectil al mar de Japón, según el ejército surcoreano. Kim Jong Un supervisó la "
     "prueba."),
    ("us-politics", "en", "Trump names his cabinet as Republicans take the Senate",
     "The White House transition team said the president-elect would announce more picks on Monday."),
    ("elections", "it", "Elezioni regionali, affluenza in calo",
     "Gli elettori si sono recati alle urne in tre regioni; i sondaggi danno in vantaggio il candidato del "
     "centrodestra."),
    ("economy", "fr", "La BCE baisse ses taux face au ralentissement de l'économie",
     "La Banque centrale européenne a réduit ses taux directeurs. L'inflation recule mais le chômage remonte."),
    ("climate", "pt", "Seca extrema atinge a Amazônia",
     "O aquecimento global e o desmatamento agravam a falta de chuva, dizem os cientistas; as emissões "
     "continuam a subir."),
    ("technology", "es", "La inteligencia artificial llega a los teléfonos",
     "Las empresas tecnológicas como Google y Apple integran modelos en sus chips; los semiconductores "
     "escasean."),
    ("sport", "fr", "Ligue des champions : le PSG s'impose à Manchester",
     "L'entraîneur parisien a salué son buteur après la victoire au terme d'un match intense."),
    ("sport", "de", "Bundesliga: Bayern gewinnt das Spitzenspiel",
     "Der Torschütze traf zweimal; der Trainer lobte die Mannschaft nach dem Sieg im Stadion."),
    ("health", "it", "Influenza, ospedali sotto pressione",
     "I medici chiedono ai pazienti anziani di fare il vaccino; i pronto soccorso degli ospedali sono pieni."),
    ("science", "ru", "Учёные обнаружили новую планету",
     "Астрономы заметили её с помощью телескопа; исследователи опубликовали работу в научном журнале."),
    ("culture", "pt", "Festival de cinema abre com filme brasileiro",
     "O filme, de uma jovem realizadora, abriu o festival; a cantora do elenco fez um concerto no museu."),
]  # fmt: skip


@pytest.mark.parametrize(("slug", "language", "title", "text"), SAMPLES, ids=[f"{s[0]}-{s[1]}" for s in SAMPLES])
def test_sample_articles_get_their_topic(slug: str, language: str, title: str, text: str) -> None:
    found = tags(title, text, language)
    assert slug in found
    # Samples are on one subject; none of them is about sport, the economy or the climate by accident.
    assert not (found - {slug}) & {"sport", "economy", "climate", "culture", "science", "health"}


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("Le président reçoit les syndicats", "Le président de la République a reçu les syndicats à l'Élysée. "
         "Le président du Sénat était présent. Le match entre le gouvernement et l'opposition continue."),
        ("Le match des retraites", "Le match politique se joue au Parlement, au stade des amendements."),
    ],
)  # fmt: skip
def test_common_words_do_not_tag(title: str, text: str) -> None:
    assert not tags(title, text, "fr") & {"elections", "sport"}
