"""Topic tagging stage: editors' compiled rules (shared/topic_rules.py) scored against an article."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from shared.languages import UNDETERMINED, normalise_language
from shared.topic_rules import WORD, Topic, fold


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


@dataclass(frozen=True)
class Words:
    """The distinct words of a folded title and text, computed once per article for every topic."""

    distinct: frozenset[str]
    ordered: list[str]  # the same, sorted: the words starting with a prefix are found by bisection

    @classmethod
    def of(cls, folded_title: str, folded_body: str) -> Words:
        distinct = frozenset(WORD.findall(folded_title)) | frozenset(WORD.findall(folded_body))
        return cls(distinct, sorted(distinct))

    def has_prefix(self, prefix: str) -> bool:
        i = bisect.bisect_left(self.ordered, prefix)
        return i < len(self.ordered) and self.ordered[i].startswith(prefix)


def _evaluate_folded(
    topic: Topic, title: str, body: str, language: str | None, words: Words | None = None
) -> Evaluation:
    c = topic.compiled

    def absent(key: str) -> bool:
        # Most terms are absent from most articles; a word lookup (or else `in`) is far cheaper than a regex
        # scan. Each test only rules out: a term that passes is still matched by its pattern below.
        if words is not None:
            if key in c.whole_word:
                return c.needles[key] not in words.distinct
            if key in c.prefix_word:
                return not words.has_prefix(c.needles[key])
        return c.needles[key] not in title and c.needles[key] not in body

    def hits(keys: Iterable[str]) -> dict[str, TermHit]:
        found = {}
        for key in keys:
            if absent(key):
                continue
            in_title, in_body = len(c.patterns[key].findall(title)), len(c.patterns[key].findall(body))
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
    return _evaluate_folded(topic, fold(title or ""), fold(text), language)


def match_topic(topic: Topic, title: str | None, text: str, language: str | None) -> TopicMatch | None:
    """The tag ``topic`` gives this article, or None."""
    ev = evaluate(topic, title, text, language)
    return TopicMatch(ev.slug, ev.score, ev.hits) if ev.tagged else None


def tag_article(topics: Sequence[Topic], title: str | None, text: str, language: str | None) -> list[TopicMatch]:
    """All tags of an article, best score first (the text is folded once for every topic)."""
    folded_title, folded_text = fold(title or ""), fold(text)
    words = Words.of(folded_title, folded_text)
    tags = []
    for topic in topics:
        ev = _evaluate_folded(topic, folded_title, folded_text, language, words)
        if ev.tagged:
            tags.append(TopicMatch(ev.slug, ev.score, ev.hits))
    return sorted(tags, key=lambda m: (-m.score, m.slug))
