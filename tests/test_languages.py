"""One language vocabulary for page hints, feed hints, topic rules and API queries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.languages import normalise_language, normalise_languages
from shared.topic_rules import Topic
from workers.stages.feeds import parse_feed
from workers.stages.topics import match_topic


@pytest.mark.parametrize(
    ("value", "expected"),
    [("fr-FR", "fr"), ("fra", "fr"), ("fre", "fr"), ("FRA", "fr"), ("nb-NO", "no"), ("nn", "no"), ("no", "no"),
     ("English", "en"), ("Deutsch", "de"), ("zh-Hant-TW", "zh"), ("pt_BR", "pt"), ("fr, en", "fr"),
     ("en-US;q=0.8", "en"), ("haw", "haw"), ("x-default", None), ("und", None), ("xx", None), ("qqq", None),
     ("{{lang}}", None), ("", None), (None, None), ("a" * 100, None)],
)  # fmt: skip
def test_every_spelling_of_a_language_is_one_code(value: str | None, expected: str | None) -> None:
    assert normalise_language(value) == expected


# Random text seldom names a language: real spellings are mixed in, so the idempotence check runs.
@given(st.text(max_size=30) | st.sampled_from(["fr-FR", "fra", "nb-NO", "English", "zh-Hant-TW", "pt_BR", "iw"]))
def test_normalising_is_idempotent_and_never_raises(value: str) -> None:
    code = normalise_language(value)
    if code is not None:
        assert normalise_language(code) == code


def test_a_list_of_tags_is_checked_whole() -> None:
    assert normalise_languages(["nb", "fra", "und", "no"]) == ["no", "fr", "und"]
    with pytest.raises(ValueError, match="'klingon-ish'"):
        normalise_languages(["fr", "klingon-ish"])


def test_a_rule_for_bokmal_matches_an_article_detected_as_norwegian() -> None:
    topic = Topic.model_validate({"slug": "valg", "name": "Valg", "any": ["stortingsvalg"], "languages": ["nb-NO"],
                                  "min_score": 1})  # fmt: skip
    assert topic.languages == ["no"]
    assert match_topic(topic, "Stortingsvalg i høst", "Partiene forbereder stortingsvalg.", "no") is not None
    assert match_topic(topic, "Stortingsvalg i høst", "Partiene forbereder stortingsvalg.", "sv") is None


def test_a_feed_in_iso_639_2_gives_its_entries_a_language() -> None:
    rss = (b"<rss version='2.0'><channel><title>t</title><link>http://x.example/</link><language>fra</language>"
           b"<item><title>a</title><link>http://x.example/a</link></item></channel></rss>")  # fmt: skip
    parsed = parse_feed(rss, "http://x.example/rss", "application/rss+xml")
    assert parsed.language == "fr"
    assert parsed.entries[0].language == "fr"
