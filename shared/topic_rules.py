"""Topics as editors write them: terms, exclusions, language filter and weights, validated and compiled once.

Shared vocabulary: the API and the CLI validate editors' YAML with it, the topics stage scores articles with it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from shared.languages import normalise_languages

# Apostrophes and hyphens come in many code points; one of each keeps terms and text comparable
# ("l’Ukraine", "l'Ukraine"; "nord‑coréens", "nord-coréens").
_APOSTROPHES = dict.fromkeys(map(ord, "’‘ʼ`´"), "'")
_HYPHENS = dict.fromkeys(map(ord, "‐‑‒–—−"), "-")
_WORD_SEP = r"[\s\-']+"  # between the words of a phrase: spaces, hyphens, elisions
_TERM_CHARS = re.compile(r"^[\w\s\-'&.+*]+$")  # letters, digits, phrase and elision marks, "s&p", "c++", "u.s."
_MIN_PREFIX = 3  # "a*" would match half the dictionary
WORD = re.compile(r"\w+")


def fold(text: str) -> str:
    """Case- and accent-insensitive form: NFKD, combining marks dropped, casefolded (Cyrillic too)."""
    if text.isascii():  # NFKD leaves ASCII as it is, and it has no marks to drop nor quotes to unify
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text).translate(_APOSTROPHES).translate(_HYPHENS)
    # No code point below U+0300 is a combining mark: the comparison spares most characters the lookup.
    return "".join(c for c in decomposed if c < "\u0300" or not unicodedata.combining(c)).casefold()


def term_key(term: str) -> str:
    """A term's folded words joined by one space: two spellings with one key are one term."""
    return " ".join(w for w in re.split(r"[\s\-]+", fold(term)) if w)


def compile_term(term: str) -> re.Pattern[str]:
    """A whole-word pattern over folded text; ``*`` ends a word as a prefix wildcard, nowhere else."""
    words = term_key(term).split()
    if not words or not _TERM_CHARS.match(term.translate(_APOSTROPHES).translate(_HYPHENS)):
        raise ValueError(f"term {term!r} is empty or has characters rules do not allow")
    parts = []
    for word in words:
        stem = word.removesuffix("*")
        if "*" in stem or not stem:
            raise ValueError(f"term {term!r}: '*' may only end a word")
        if stem != word and len(words) == 1 and len(stem) < _MIN_PREFIX:
            raise ValueError(f"term {term!r}: a wildcard needs at least {_MIN_PREFIX} letters before it")
        parts.append(re.escape(stem) + (r"\w*" if stem != word else ""))
    # Lookarounds, not \b: a term may start or end with a non-word character ("s&p", "c++").
    return re.compile(r"(?<!\w)" + _WORD_SEP.join(parts) + r"(?!\w)")


@dataclass(frozen=True)
class CompiledRules:
    """A topic's terms by key (term_key): "invasión" listed for Spanish and "invasion" for English are one."""

    patterns: dict[str, re.Pattern[str]]
    needles: dict[str, str]  # the first word of each term, without '*': a cheap substring test first
    spelling: dict[str, str]  # key -> first spelling, shown to editors
    any_: tuple[str, ...]
    all_: tuple[tuple[str, ...], ...]
    exclude: tuple[str, ...]
    # Keys whose first word is a plain word (no "&", "+", "."): the pattern can only match where that word
    # stands whole (or, with a wildcard, begins a word), so looking it up in the text's words replaces a
    # substring scan of the whole text.
    whole_word: set[str] = field(default_factory=set)
    prefix_word: set[str] = field(default_factory=set)


class Topic(BaseModel):
    """One topic as editors write it in YAML; rules are compiled once, on validation."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=80)
    name: str = Field(min_length=1)
    description: str | None = None
    any_: list[str] = Field(default_factory=list, alias="any")
    # Each entry must match; an entry may itself be a list of alternatives (one of them suffices).
    all_: list[str | list[str]] = Field(default_factory=list, alias="all")
    exclude: list[str] = Field(default_factory=list)
    languages: list[str] | None = None
    min_score: float = Field(default=3.0, ge=0)
    title_weight: float = Field(default=3.0, ge=0)
    body_weight: float = Field(default=1.0, ge=0)
    body_hit_cap: int = Field(default=2, ge=1)

    _compiled: CompiledRules = PrivateAttr()

    @field_validator("languages")
    @classmethod
    def _primary_subtags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else normalise_languages(value)

    @model_validator(mode="after")
    def _compile(self) -> Topic:
        if not self.any_ and not self.all_:
            raise ValueError(f"topic {self.slug!r} needs at least one 'any' or 'all' term")
        groups = [_alternatives(g) for g in self.all_]
        if not all(groups):
            raise ValueError(f"topic {self.slug!r}: an 'all' entry is an empty list")
        c = CompiledRules({}, {}, {}, _keys(self.any_), tuple(_keys(g) for g in groups), _keys(self.exclude))
        for term in [*self.any_, *self.exclude, *(t for g in groups for t in g)]:
            key = term_key(term)
            if key not in c.patterns:  # the first spelling is the one editors see
                c.patterns[key], c.spelling[key] = compile_term(term), term
                c.needles[key] = key.split()[0].removesuffix("*")
                if WORD.fullmatch(key.split()[0]):
                    c.whole_word.add(key)
                elif WORD.fullmatch(c.needles[key]) and key.split()[0].endswith("*"):
                    c.prefix_word.add(key)
        self._compiled = c
        return self

    @classmethod
    def from_stored(cls, slug: str, name: str, description: str | None, rules: dict[str, Any]) -> Topic:
        """A topic as stored in the ``topics`` table (the inverse of :meth:`rules`)."""
        return cls.model_validate({**rules, "slug": slug, "name": name, "description": description})

    @property
    def compiled(self) -> CompiledRules:
        """The rules compiled for matching, built once by the validator."""
        return self._compiled

    def rules(self) -> dict[str, Any]:
        """The rule fields as stored in ``topics.rules`` (everything but slug, name, description)."""
        return self.model_dump(by_alias=True, exclude={"slug", "name", "description"})


def parse_topics(document: Any) -> list[Topic]:
    """The topics of a parsed YAML document (``topics: [...]``); ValueError names the faulty entry."""
    entries = document.get("topics") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError("expected a mapping with a 'topics' list")
    topics: dict[str, Topic] = {}
    for i, entry in enumerate(entries, start=1):
        try:
            topic = Topic.model_validate(entry)
        except ValueError as exc:  # pydantic's ValidationError is one
            label = entry.get("slug", "?") if isinstance(entry, dict) else "?"
            raise ValueError(f"topic #{i} ({label}): {exc}") from exc
        if topic.slug in topics:
            raise ValueError(f"topic #{i}: slug {topic.slug!r} appears twice")
        topics[topic.slug] = topic
    return list(topics.values())


def _alternatives(entry: str | list[str]) -> list[str]:
    return [entry] if isinstance(entry, str) else entry


def _keys(terms: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(term_key(t) for t in terms))
