"""The UDHR corpus (bench/data/udhr.json, built by tools/udhr_corpus.py): text in 55 languages nobody here wrote.

Its 31 sections (preamble, articles 1-30) are split in two: sections 0-15 are the tuning part, 16-30 the
held-out part that no threshold or rule was tuned on; the benchmarks report both.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

PATH = Path(__file__).resolve().parent / "data" / "udhr.json"
HELD_OUT_FROM = 16  # the first section of the held-out part
Part = Literal["tuning", "held-out"]
PARTS: tuple[Part, ...] = ("tuning", "held-out")
# A sentence ends at a full stop (any script's) followed by a space; UDHR paragraphs are often one sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?;。！？।؟۔])\s+")


@dataclass(frozen=True)
class Section:
    language: str
    index: int
    heading: str
    paragraphs: tuple[str, ...]

    @property
    def part(self) -> Part:
        return "tuning" if self.index < HELD_OUT_FROM else "held-out"


@cache
def sections() -> tuple[Section, ...]:
    data = json.loads(PATH.read_text(encoding="utf-8"))["languages"]
    return tuple(
        Section(lang, i, s["heading"], tuple(s["paragraphs"]))
        for lang, declaration in sorted(data.items())
        for i, s in enumerate(declaration["sections"])
    )


def languages() -> list[str]:
    return sorted({s.language for s in sections()})


def sentences(part: Part, min_chars: int = 20, max_chars: int = 250) -> list[tuple[str, str]]:
    """(language, sentence) of one part: each a single sentence, as short as headlines and briefs are."""
    found = []
    for section in sections():
        if section.part != part:
            continue
        for paragraph in section.paragraphs:
            found += [(section.language, s) for s in _SENTENCE_END.split(paragraph) if min_chars <= len(s) <= max_chars]
    return list(dict.fromkeys(found))  # a repeated sentence ("Everyone has the right to...") counts once


def long_texts(part: Part, chars: int = 3000) -> list[tuple[str, str]]:
    """(language, text) of one part: consecutive paragraphs joined until ``chars``, article-length texts."""
    texts: list[tuple[str, str]] = []
    for lang in languages():
        paragraphs = [p for s in sections() if s.language == lang and s.part == part for p in s.paragraphs]
        current: list[str] = []
        for paragraph in paragraphs:
            current.append(paragraph)
            if sum(map(len, current)) >= chars:
                texts.append((lang, "\n".join(current)))
                current = []
    return texts
