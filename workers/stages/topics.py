"""Topic tagging stage: editors' compiled rules (shared/topic_rules.py) scored against an article."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import ahocorasick

from shared.languages import UNDETERMINED, normalise_language
from shared.topic_rules import Term, Topic, searchable


@dataclass(frozen=True)
class TermHit:
    """One rule term found in an article: where, how often, and the points it earned."""

    term: str
    title_hits: int
    body_hits: int
    points: float

    @property
    def where(self) -> str:
        return "+".join(p for p, n in (("title", self.title_hits), ("body", self.body_hits)) if n)

    def to_json(self) -> dict[str, Any]:
        return {"term": self.term, "title": self.title_hits, "body": self.body_hits, "points": self.points}


@dataclass(frozen=True)
class Evaluation:
    """The full verdict of one topic on one article, kept even when it does not tag (for `topics test`)."""

    slug: str
    score: float
    min_score: float
    hits: tuple[TermHit, ...]
    excluded_by: tuple[TermHit, ...]
    rejected: str | None  # None: tagged; else why not

    @property
    def tagged(self) -> bool:
        return self.rejected is None


@dataclass(frozen=True)
class TopicMatch:
    """A tag: the topic, its score and the evidence an editor sees."""

    slug: str
    score: float
    terms: tuple[TermHit, ...]

    def matched_terms_json(self) -> list[dict[str, Any]]:
        return [hit.to_json() for hit in self.terms]


class TermIndex:
    """Every term of a set of topics in one Aho-Corasick automaton: a text is scanned once, whatever the
    number of topics and terms, and only where a term occurs is anything checked (word boundaries, the rest
    of a phrase after an inner '*')."""

    def __init__(self, topics: Sequence[Topic]) -> None:
        found: dict[str, dict[str, Term]] = {}
        for topic in topics:
            for key, term in topic.compiled.terms.items():
                found.setdefault(term.search, {})[key] = term
        self._automaton: ahocorasick.Automaton | None = None
        if found:
            self._automaton = ahocorasick.Automaton()
            for search, terms in found.items():
                self._automaton.add_word(search, (len(search), tuple(terms.items())))
            self._automaton.make_automaton()

    def counts(self, text: str) -> Counter[str]:
        """How often each term key occurs as whole words in ``text`` (a ``searchable`` text)."""
        counts: Counter[str] = Counter()
        if self._automaton is None:
            return counts
        for end, (length, terms) in self._automaton.iter(text):
            start = end - length + 1
            if start > 0 and _is_word(text[start - 1]):
                continue
            ends_word = end + 1 >= len(text) or not _is_word(text[end + 1])
            for key, term in terms:
                if term.pattern.match(text, start) if term.pattern is not None else term.prefix or ends_word:
                    counts[key] += 1
        return counts


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"  # what the rules' \w means


_INDEX: tuple[tuple[Topic, ...], TermIndex] | None = None


def term_index(topics: Sequence[Topic]) -> TermIndex:
    """The index of ``topics``, built once for the same topic objects (workers reuse theirs until an editor
    changes a rule)."""
    global _INDEX  # noqa: PLW0603 - one cached index per process
    cached = _INDEX
    if (
        cached is not None
        and len(cached[0]) == len(topics)
        and all(a is b for a, b in zip(cached[0], topics, strict=True))
    ):
        return cached[1]
    index = TermIndex(topics)
    _INDEX = (tuple(topics), index)
    return index


def _evaluate(topic: Topic, title: Counter[str], body: Counter[str], language: str | None) -> Evaluation:
    c = topic.compiled

    def hits(keys: Iterable[str]) -> dict[str, TermHit]:
        found = {}
        for key in keys:
            in_title, in_body = title.get(key, 0), body.get(key, 0)
            if in_title or in_body:
                # A headline hit counts once; body repetition is capped so a long article cannot score by
                # repeating one word: past the cap only more distinct terms (or a title hit) add points.
                points = topic.title_weight * (in_title > 0) + topic.body_weight * min(in_body, topic.body_hit_cap)
                found[key] = TermHit(c.spelling[key], in_title, in_body, points)
        return found

    excluded = hits(c.exclude)
    any_hits = hits(c.any_)
    all_hits = hits(k for group in c.all_ for k in group)
    found = {**any_hits, **all_hits}  # one key counts once, however often it is listed
    score = round(sum(h.points for h in found.values()), 3)
    missing = [g for g in c.all_ if not any(k in all_hits for k in g)]
    rejected = None
    if topic.languages is not None and (normalise_language(language) or UNDETERMINED) not in topic.languages:
        rejected = f"language {language or 'unknown'} not in {', '.join(topic.languages)}"
    elif excluded:
        rejected = "excluded by " + ", ".join(h.term for h in excluded.values())
    elif missing:
        rejected = "missing one of: " + "; ".join(" | ".join(c.spelling[k] for k in g) for g in missing)
    elif c.any_ and not any_hits:
        rejected = "none of the 'any' terms"
    elif score < topic.min_score:
        rejected = f"score {score:g} below {topic.min_score:g}"
    ordered = tuple(sorted(found.values(), key=lambda h: (-h.points, h.term)))
    return Evaluation(topic.slug, score, topic.min_score, ordered, tuple(excluded.values()), rejected)


def evaluate(topic: Topic, title: str | None, text: str, language: str | None) -> Evaluation:
    """Every term of ``topic`` checked against an article, with the reason when it is not tagged."""
    index = TermIndex([topic])
    return _evaluate(topic, index.counts(searchable(title or "")), index.counts(searchable(text)), language)


def match_topic(topic: Topic, title: str | None, text: str, language: str | None) -> TopicMatch | None:
    """The tag ``topic`` gives this article, or None."""
    ev = evaluate(topic, title, text, language)
    return TopicMatch(ev.slug, ev.score, ev.hits) if ev.tagged else None


def tag_article(topics: Sequence[Topic], title: str | None, text: str, language: str | None) -> list[TopicMatch]:
    """All tags of an article, best score first: the title and the text are each scanned once, for every
    topic's terms at the same time."""
    index = term_index(topics)
    title_counts, body_counts = index.counts(searchable(title or "")), index.counts(searchable(text))
    present = title_counts.keys() | body_counts.keys()
    tags = []
    for topic in topics:
        if present.isdisjoint(topic.compiled.needed):
            continue  # none of the terms it needs: not tagged, whatever else it says
        ev = _evaluate(topic, title_counts, body_counts, language)
        if ev.tagged:
            tags.append(TopicMatch(ev.slug, ev.score, ev.hits))
    return sorted(tags, key=lambda m: (-m.score, m.slug))
