"""Topics as editors write them: terms, exclusions, language filter and weights, validated and compiled once.

Shared vocabulary: the API and the CLI validate editors' YAML with it, the topics stage scores articles with it.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from shared.languages import normalise_languages

# Apostrophes and hyphens come in many code points; one of each keeps terms and text comparable
# ("l’Ukraine", "l'Ukraine"; "nord‑coréens", "nord-coréens").
# (Regular expressions, not str.translate: translate looks every character of a long text up in a dict.)
_APOSTROPHES = re.compile("[’‘ʼ`´]")
_HYPHENS = re.compile("[‐‑‒–—−]")
_SEPARATORS = re.compile(r"[\s\-']+")  # between the words of a phrase: spaces, hyphens, elisions
_TERM_CHARS = re.compile(r"^[\w\s\-'&.+*]+$")  # letters, digits, phrase and elision marks, "s&p", "c++", "u.s."
_MIN_PREFIX = 3  # "a*" would match half the dictionary


@functools.lru_cache(maxsize=256)
def _drop_marks(marks: frozenset[str]) -> re.Pattern[str]:
    """A class of just these combining marks: a text's own marks are few, and a class of every mark in
    Unicode costs each character a test against hundreds of ranges (~3 ms for an article)."""
    return re.compile("[" + "".join(re.escape(c) for c in sorted(marks)) + "]+")


def unify_marks(text: str) -> str:
    """Every apostrophe spelling as ``'`` and every dash as ``-``: how rules and texts write them alike."""
    return _HYPHENS.sub("-", _APOSTROPHES.sub("'", text))


def fold(text: str) -> str:
    """Case- and accent-insensitive form: NFKD, combining marks dropped, casefolded (Cyrillic too)."""
    if text.isascii():  # NFKD leaves ASCII as it is, and it has no marks to drop nor quotes to unify
        return text.casefold()
    decomposed = unify_marks(unicodedata.normalize("NFKD", text))
    marks = frozenset(c for c in set(decomposed) if unicodedata.combining(c))
    return (_drop_marks(marks).sub("", decomposed) if marks else decomposed).casefold()


def searchable(text: str) -> str:
    """The form terms are looked for in: folded, and every run of spaces, hyphens and apostrophes one space,
    so "nord-coréens", "nord coréens" and "l’Ukraine" / "l Ukraine" read alike."""
    return _SEPARATORS.sub(" ", fold(text))


def term_key(term: str) -> str:
    """A term's folded words joined by one space: two spellings with one key are one term."""
    return " ".join(w for w in re.split(r"[\s\-]+", fold(term)) if w)


@dataclass(frozen=True)
class Term:
    """How a term is found in ``searchable`` text: ``search`` is what the automaton looks for (its words up
    to the first '*', joined by one space); ``prefix``: the found text may go on with letters (the '*');
    ``pattern`` checks the rest where a '*' ends an earlier word ("ministr* des affaires")."""

    search: str
    prefix: bool
    pattern: re.Pattern[str] | None = None


def compile_term(term: str) -> Term:
    """A term's whole-word form; ``*`` ends a word as a prefix wildcard, nowhere else. ValueError names a bad
    term (characters rules do not allow, a misplaced '*', a wildcard with too short a stem)."""
    words = [w for w in _SEPARATORS.split(fold(term)) if w]
    if not words or not _TERM_CHARS.match(unify_marks(term)):
        raise ValueError(f"term {term!r} is empty or has characters rules do not allow")
    stems = [word.removesuffix("*") for word in words]
    for word, stem in zip(words, stems, strict=True):
        if "*" in stem or not stem:
            raise ValueError(f"term {term!r}: '*' may only end a word")
        if stem != word and len(words) == 1 and len(stem) < _MIN_PREFIX:
            raise ValueError(f"term {term!r}: a wildcard needs at least {_MIN_PREFIX} letters before it")
    wild = [i for i, (word, stem) in enumerate(zip(words, stems, strict=True)) if word != stem]
    if not wild:
        return Term(" ".join(words), prefix=False)
    first = wild[0]
    if first == len(words) - 1:
        return Term(" ".join(stems), prefix=True)
    rest = " ".join(re.escape(stem) + (r"\w*" if i in wild else "") for i, stem in enumerate(stems))
    # Lookahead, not \b: a term may end with a non-word character ("c++").
    return Term(" ".join(stems[: first + 1]), prefix=True, pattern=re.compile(rest + r"(?!\w)"))


@dataclass(frozen=True)  # cached_property needs a __dict__: no slots
class CompiledRules:
    """A topic's terms by key (term_key): "invasión" listed for Spanish and "invasion" for English are one."""

    terms: dict[str, Term]
    spelling: dict[str, str]  # key -> first spelling, shown to editors
    any_: tuple[str, ...]
    all_: tuple[tuple[str, ...], ...]
    exclude: tuple[str, ...]

    @functools.cached_property
    def needed(self) -> frozenset[str]:
        """Keys of which one must occur for the topic to tag anything (its 'any' terms, else its 'all' ones)."""
        return frozenset(self.any_ or (k for group in self.all_ for k in group))


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
        return None if value is None else sorted(normalise_languages(value))

    @model_validator(mode="after")
    def _compile(self) -> Topic:
        if not self.any_ and not self.all_:
            raise ValueError(f"topic {self.slug!r} needs at least one 'any' or 'all' term")
        groups = [_alternatives(g) for g in self.all_]
        if not all(groups):
            raise ValueError(f"topic {self.slug!r}: an 'all' entry is an empty list")
        c = CompiledRules({}, {}, _keys(self.any_), tuple(_keys(g) for g in groups), _keys(self.exclude))
        for term in [*self.any_, *self.exclude, *(t for g in groups for t in g)]:
            key = term_key(term)
            if key not in c.terms:  # the first spelling is the one editors see
                c.terms[key], c.spelling[key] = compile_term(term), term
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
