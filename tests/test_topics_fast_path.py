"""The word-set pre-check of topic tagging (a performance fast path) never changes a verdict.

``tag_article`` rules terms out by looking their first word up in the article's set of words; ``evaluate``
(used by `newsmill topics test`) scans the text for it. Both must agree on every article: checked on texts
made of the starter topics' own words, glued by spaces, hyphens, apostrophes and punctuation, in any case.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.topic_rules import Topic, parse_topics
from workers.stages.topics import match_topic, tag_article

SEED = parse_topics(yaml.safe_load((Path(__file__).parents[1] / "seeds" / "topics.yaml").read_text(encoding="utf-8")))


def _vocabulary(topics: list[Topic]) -> list[str]:
    words = set()
    for t in topics:
        for term in t._compiled.spelling.values():
            words.update(term.replace("*", "s").replace("-", " ").split())
    return sorted(words)


VOCABULARY = _vocabulary(SEED)
GLUE = st.sampled_from([" ", " ", " ", "-", "'", "’", ", ", ". ", "\n", "", "s ", "_", "é "])
WORD = st.one_of(st.sampled_from(VOCABULARY), st.text(min_size=1, max_size=8))
TEXT = st.lists(st.tuples(WORD, GLUE, st.booleans()), max_size=60).map(
    lambda parts: "".join((w.upper() if up else w) + g for w, g, up in parts)
)


def slow_path(title: str, text: str, language: str | None) -> list[tuple[str, float, tuple[str, ...]]]:
    found = [m for t in SEED if (m := match_topic(t, title, text, language)) is not None]
    return sorted((m.slug, m.score, tuple(h.term for h in m.terms)) for m in found)


@settings(max_examples=300, deadline=None)
@given(title=TEXT, text=TEXT, language=st.sampled_from(["en", "fr", "de", "es", None]))
def test_fast_path_agrees_with_the_plain_scan(title: str, text: str, language: str | None) -> None:
    fast = sorted((m.slug, m.score, tuple(h.term for h in m.terms)) for m in tag_article(SEED, title, text, language))
    assert fast == slow_path(title, text, language)


def test_fast_path_finds_tags_in_real_phrasing() -> None:
    text = "The central bank raised interest rates; inflation in the euro-zone eased, the ECB's council said."
    assert [m.slug for m in tag_article(SEED, "Central bank raises rates", text, "en")] == [
        s for s, _, _ in slow_path("Central bank raises rates", text, "en")
    ]
    assert tag_article(SEED, "Central bank raises rates", text, "en"), "the example should be tagged"
