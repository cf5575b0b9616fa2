"""Topic tagging's automaton (every term of every topic in one scan) finds what a plain regex per term finds.

The reference below is the rules' meaning written the slow, obvious way: each term a whole-word regular
expression over the folded text, words separated by spaces, hyphens or apostrophes, '*' ending a word. Both
must agree on every article: checked on texts made of the starter topics' own words, glued by spaces, hyphens,
apostrophes and punctuation, in any case; and ``tag_article`` (all topics at once) must agree with
``match_topic`` (one topic, as `newsmill topics test` runs it).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.topic_rules import Topic, fold, parse_topics, searchable, term_key
from workers.stages.topics import TermIndex, match_topic, tag_article

SEED = parse_topics(yaml.safe_load((Path(__file__).parents[1] / "seeds" / "topics.yaml").read_text(encoding="utf-8")))


def _vocabulary(topics: list[Topic]) -> list[str]:
    words = set()
    for t in topics:
        for term in t.compiled.spelling.values():
            words.update(term.replace("*", "s").replace("-", " ").split())
    return sorted(words)


VOCABULARY = _vocabulary(SEED)
GLUE = st.sampled_from([" ", " ", " ", "-", "'", "’", ", ", ". ", "\n", "", "s ", "_", "é "])
WORD = st.one_of(st.sampled_from(VOCABULARY), st.text(min_size=1, max_size=8))
TEXT = st.lists(st.tuples(WORD, GLUE, st.booleans()), max_size=60).map(
    lambda parts: "".join((w.upper() if up else w) + g for w, g, up in parts)
)


def reference_pattern(term: str) -> re.Pattern[str]:
    parts = []
    for word in term_key(term).replace("'", " ").split():
        stem = word.removesuffix("*")
        parts.append(re.escape(stem) + (r"\w*" if stem != word else ""))
    return re.compile(r"(?<!\w)" + r"[\s\-']+".join(parts) + r"(?!\w)")


@settings(max_examples=300, deadline=None)
@given(text=TEXT)
def test_the_automaton_counts_what_a_regex_per_term_counts(text: str) -> None:
    index = TermIndex(SEED)
    counts = index.counts(searchable(text))
    folded = fold(text)
    for topic in SEED:
        for key, spelling in topic.compiled.spelling.items():
            assert counts.get(key, 0) == len(reference_pattern(spelling).findall(folded)), (key, text)


def test_a_wildcard_inside_a_phrase() -> None:
    topic = Topic.model_validate(
        {"slug": "t", "name": "T", "any": ["министр* иностранных дел", "ministr* des affaires"]}
    )
    counts = TermIndex([topic]).counts(searchable("Le ministre des Affaires étrangères et министра иностранных дел"))
    assert dict(counts) == {"министр* иностранных дел": 1, "ministr* des affaires": 1}
    assert not TermIndex([topic]).counts(searchable("les ministres de l'Intérieur, des affaires courantes"))


def slow_path(title: str, text: str, language: str | None) -> list[tuple[str, float, tuple[str, ...]]]:
    found = [m for t in SEED if (m := match_topic(t, title, text, language)) is not None]
    return sorted((m.slug, m.score, tuple(h.term for h in m.terms)) for m in found)


@settings(max_examples=300, deadline=None)
@given(title=TEXT, text=TEXT, language=st.sampled_from(["en", "fr", "de", "es", None]))
def test_all_topics_at_once_agree_with_one_topic_at_a_time(title: str, text: str, language: str | None) -> None:
    fast = sorted((m.slug, m.score, tuple(h.term for h in m.terms)) for m in tag_article(SEED, title, text, language))
    assert fast == slow_path(title, text, language)


def test_all_topics_at_once_find_tags_in_real_phrasing() -> None:
    text = "The central bank raised interest rates; inflation in the euro-zone eased, the ECB's council said."
    assert [m.slug for m in tag_article(SEED, "Central bank raises rates", text, "en")] == [
        s for s, _, _ in slow_path("Central bank raises rates", text, "en")
    ]
    assert tag_article(SEED, "Central bank raises rates", text, "en"), "the example should be tagged"
