"""Language stage: the article's language (ISO 639-1), how sure we are, and which evidence decided."""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import LangDetectException

from shared.languages import UNDETERMINED, normalise_language
from workers.stages.langdetect_quick import QuickDetector

log = logging.getLogger(__name__)

SEED = 0  # langdetect samples n-grams at random; a fixed seed makes every answer repeatable
CONFIDENT = 0.8  # below this, a hint that agrees with a runner-up candidate decides
HINT_AGREES = 0.1  # a candidate this likely counts as "one of the top" (langdetect's own reporting floor)
UNDECIDED_BELOW = 0.5  # a text split this evenly between languages is too mixed to call
MIN_SCRIPT_SHARE = 0.6  # the leading script must hold this share of the letters, or the text is too mixed
HINT_ONLY_PROBABILITY = 0.5  # a hint with no textual support: weak, templated sites get it wrong
KANA_SHARE_FOR_JA = 0.05  # Japanese prose is a third kana; Chinese quoting a Japanese name is not
CJK_WEIGHT = 3  # one Han/kana/Hangul character carries about as much as three Latin letters
# One sentence is evidence enough (bench/language.py, UDHR sentences in 55 languages: 0.99 right from 12 letters
# on), a word or two is not: a name, a label or a brand says nothing about the language of a text.
MIN_CHARS = 12
MIN_WORDS = 3
_SPACELESS = ("cjk", "thai")  # scripts written without spaces between words: their runs are not words
_CASED = ("latin", "cyrillic", "greek")
MIN_LOWER_WORDS = 2

Source = Literal["text", "page", "feed", "none"]


@dataclass(frozen=True)
class LanguageResult:
    language: str  # ISO 639-1 ('zh' for zh-cn/zh-tw), or 'und'
    probability: float  # 0..1; 0.0 for 'und'
    source: Source  # which evidence decided


UNDECIDED = LanguageResult(UNDETERMINED, 0.0, "none")

# Scripts whose letters name one language outright; langdetect would only confirm them, slowly.
_SCRIPT_LANGUAGE = {
    "greek": "el", "hebrew": "he", "thai": "th", "hangul": "ko", "bengali": "bn", "gurmukhi": "pa",
    "gujarati": "gu", "tamil": "ta", "telugu": "te", "kannada": "kn", "malayalam": "ml",
}  # fmt: skip
# Scripts shared by several profiled languages: langdetect decides among these candidates only, so a
# Russian sentence can never come out Estonian (its n-grams from other scripts never reach the detector).
_SCRIPT_CANDIDATES = {
    "latin": "af ca cs cy da de en es et fi fr hr hu id it lt lv nl no pl pt ro sk sl so sq sv sw tl tr vi",
    "cyrillic": "bg mk ru uk",
    "arabic": "ar fa ur",
    "devanagari": "hi mr ne",
}
_LANGUAGE_SCRIPT = {lang: s for s, langs in _SCRIPT_CANDIDATES.items() for lang in langs.split()}
_LANGUAGE_SCRIPT |= {lang: s for s, lang in _SCRIPT_LANGUAGE.items()} | {"ja": "cjk", "zh": "cjk"}

_RUNS = re.compile(
    "(?P<latin>[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff]+)"
    "|(?P<cyrillic>[\u0400-\u052f\u1c80-\u1c8f\u2de0-\u2dff\ua640-\ua69f]+)"
    "|(?P<greek>[\u0370-\u03ff\u1f00-\u1fff]+)|(?P<hebrew>[\u0591-\u05f4\ufb1d-\ufb4f]+)"
    "|(?P<arabic>[\u0610-\u061a\u0620-\u065f\u066e-\u06d3\u06d5-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]+)"
    "|(?P<devanagari>[\u0900-\u0963\u0971-\u097f]+)|(?P<bengali>[\u0980-\u09e3\u09f0-\u09ff]+)"
    "|(?P<gurmukhi>[\u0a00-\u0a65\u0a70-\u0a7f]+)|(?P<gujarati>[\u0a80-\u0ae5\u0af0-\u0aff]+)"
    "|(?P<tamil>[\u0b80-\u0be5\u0bf0-\u0bff]+)|(?P<telugu>[\u0c00-\u0c65\u0c70-\u0c7f]+)"
    "|(?P<kannada>[\u0c80-\u0ce5\u0cf0-\u0cff]+)|(?P<malayalam>[\u0d00-\u0d65\u0d70-\u0d7f]+)"
    "|(?P<thai>[\u0e01-\u0e4e]+)|(?P<hangul>[\u1100-\u11ff\u3131-\u318e\ua960-\ua97f\uac00-\ud7ff]+)"
    "|(?P<kana>[\u3041-\u309f\u30a0-\u30fa\u30fc-\u30ff\u31f0-\u31ff\uff66-\uff9f]+)"
    "|(?P<han>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]+)"
    "|(?P<other>[^\\W\\d_])"
)
# Tokens that are no language at all; langdetect either raises on them or reads them as Latin text.
# ASCII classes only, never \S or \w: Chinese and Japanese have no spaces, so "\S*\d\S*" would erase a sentence.
_NOISE = re.compile(
    r"(?:https?|ftp)://[!-~]+|www\.[!-~]+|[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}"
    r"|\b(?:[a-z0-9-]+\.)+(?:com|org|net|io|info|biz)\b[!-~]*|[@#$][a-z0-9_]+|[a-z0-9.,:/%+-]*\d[a-z0-9.,:/%+-]*",
    re.IGNORECASE,
)


def detect_language(
    text: str,
    *,
    page_hint: str | None = None,
    feed_hint: str | None = None,
    prefix_chars: int = 600,
    min_chars: int = MIN_CHARS,
) -> LanguageResult:
    """Decide the language of cleaned article text; hints help only where the text cannot decide alone."""
    hints: list[tuple[str, Source]] = []
    if page := normalise_language(page_hint):
        hints.append((page, "page"))  # first: it describes this article, the feed's describes the site
    if feed := normalise_language(feed_hint):
        hints.append((feed, "feed"))
    cleaned = _denoised_prefix(text or "", prefix_chars)
    runs = _script_runs(cleaned)
    script = _leading_script(runs)
    # Length counts every word, names included ("Samsung Galaxy и Apple iPhone подорожали" is a sentence),
    # but only the leading script's words are handed to langdetect below.
    if script is None or _length(runs) < min_chars or _too_few_words(runs, script):
        return _hint_only(hints, script)
    if script == "cjk":
        kana, cjk = sum(map(len, runs["kana"])), sum(map(len, runs["cjk"]))
        return LanguageResult("ja" if kana >= KANA_SHARE_FOR_JA * cjk else "zh", 1.0, "text")
    if script in _SCRIPT_LANGUAGE:
        return LanguageResult(_SCRIPT_LANGUAGE[script], 1.0, "text")
    if script not in _SCRIPT_CANDIDATES:
        return _hint_only(hints, script)  # a script langdetect has no profile for (Armenian, Georgian, …)
    return _weigh(_langdetect(script, " ".join(runs[script])), hints, script)


def _denoised_prefix(text: str, prefix_chars: int) -> str:
    """The first ``prefix_chars`` characters of the text without its noise tokens, looked for in at most
    ``prefix_chars * 4`` characters (the cost stays flat for long articles).

    Substituted a chunk at a time, each chunk ending just after a space or newline, until the prefix is full:
    no noise token contains whitespace, so this is the substitution of the whole slice, cut (``\\b`` next to a
    whitespace character reads the same in the chunk as in the slice); an article's prefix then costs its first
    chunk or two instead of the whole slice (the digit-token pattern backtracks at every position)."""
    source = unicodedata.normalize("NFC", text[: prefix_chars * 4])
    chunks: list[str] = []
    produced, start, size = 0, 0, len(source)
    while start < size and produced < prefix_chars:
        end = start + 2 * prefix_chars
        if end < size:
            cut = max(source.rfind(" ", start, end), source.rfind("\n", start, end))
            end = cut + 1 if cut > start else size
        chunk = _NOISE.sub(" ", source[start:end])
        chunks.append(chunk)
        produced += len(chunk)
        start = end
    return "".join(chunks)[:prefix_chars]


def _weigh(probabilities: dict[str, float], hints: list[tuple[str, Source]], script: str) -> LanguageResult:
    """langdetect's answer when it is sure; a hint it finds plausible when it is not; 'und' when torn."""
    if not probabilities:
        return _hint_only(hints, script)
    best, best_p = max(probabilities.items(), key=lambda item: (item[1], item[0]))
    if best_p < CONFIDENT:
        for lang, source in hints:
            if probabilities.get(lang, 0.0) >= HINT_AGREES:
                return LanguageResult(lang, round(probabilities[lang], 4), source)
    if best_p < UNDECIDED_BELOW:
        return UNDECIDED
    return LanguageResult(best, round(best_p, 4), "text")


def _script_runs(text: str) -> dict[str, list[str]]:
    """Letter runs grouped by script; Han and kana are also pooled as 'cjk' (Japanese mixes them)."""
    runs: dict[str, list[str]] = {"kana": [], "han": [], "cjk": []}
    for match in _RUNS.finditer(text):
        script = match.lastgroup or "other"
        runs.setdefault(script, []).append(match.group())
        if script in ("kana", "han"):
            runs["cjk"].append(match.group())
    return runs


def _length(runs: dict[str, list[str]]) -> int:
    """Characters of words, joined by single spaces; a CJK character counts as CJK_WEIGHT."""
    return sum(
        sum(map(len, found)) * CJK_WEIGHT if script in ("cjk", "hangul") else len(" ".join(found))
        for script, found in runs.items()
        if script not in ("kana", "han")
    )


def _too_few_words(runs: dict[str, list[str]], script: str) -> bool:
    """Whether the text is a word or two (a name, a label, "Ok. Photo: AFP.") rather than a sentence.

    Words are counted once each; in a script with case, a sentence also has lower-case words (names and
    acronyms are capitalised), unless it is shouted in capitals throughout."""
    if script in _SPACELESS:
        return False
    words = set(runs.get(script, ()))
    if len(words) < MIN_WORDS:
        return True
    lower = [w for w in words if w.islower()]
    shouted = all(w.isupper() for w in words)
    return script in _CASED and not shouted and len(lower) < MIN_LOWER_WORDS


def _leading_script(runs: dict[str, list[str]]) -> str | None:
    """The script most letters are written in, or None when none leads clearly.

    Capitalised Latin words are left out of the count when another script is present: in Russian, Greek or
    Japanese text they are brand and product names ("Samsung Galaxy и Apple iPhone"), not the language.
    """
    counts: dict[str, int] = {}
    other_scripts = any(found for script, found in runs.items() if script != "latin")
    for script, found in runs.items():
        if script in ("kana", "han"):
            continue
        telling = [r for r in found if r.islower()] if script == "latin" and other_scripts else found
        weight = CJK_WEIGHT if script in ("cjk", "hangul") else 1
        if total := sum(map(len, telling)) * weight:
            counts[script] = total
    if not counts and runs.get("latin"):
        return "latin"  # only capitalised words, such as a title-case headline
    if not counts:
        return None
    script = max(counts, key=lambda s: (counts[s], s))
    return script if counts[script] >= MIN_SCRIPT_SHARE * sum(counts.values()) else None


def _hint_only(hints: list[tuple[str, Source]], script: str | None) -> LanguageResult:
    """The first hint the letters do not contradict, at a modest probability; otherwise undecided."""
    for lang, source in hints:
        if script is None or _LANGUAGE_SCRIPT.get(lang, "other") == script:
            return LanguageResult(lang, HINT_ONLY_PROBABILITY, source)
    return UNDECIDED


def _langdetect(script: str, text: str) -> dict[str, float]:
    """Seeded langdetect over one script's candidates: language → probability; empty when it cannot tell."""
    if not any(c.islower() for c in text):
        text = text.lower()  # langdetect skips all-capital words as acronyms: a shouted headline has none left
    try:
        factory = _factory(script)
        detector = QuickDetector(factory, _word_ngrams(script), _gram_vectors(script))
        detector.append(text)
        detector.get_probabilities()
        return dict(zip(factory.get_lang_list(), detector.langprob or (), strict=True))
    except LangDetectException:
        return {}  # "no features in text": nothing it has a profile for
    # langdetect is unmaintained; any other failure in it also means "undecided", never a lost article.
    except Exception:
        log.warning("langdetect failed on %d characters of %s text", len(text), script, exc_info=True)
        return {}


@functools.cache
def _factory(script: str) -> DetectorFactory:
    """A private, seeded factory holding only this script's profiles, loaded once per process.

    Profiles are read in sorted order so the internal language order (which the seeded sampling depends on)
    is the same on every machine, whatever order the filesystem lists them in.
    """
    factory = DetectorFactory()
    profiles = sorted(Path(PROFILES_DIRECTORY).glob("*"))
    factory.load_json_profile(
        [p.read_text(encoding="utf-8") for p in profiles if p.name in _SCRIPT_CANDIDATES[script].split()]
    )
    factory.set_seed(SEED)
    return factory


@functools.cache
def _word_ngrams(script: str) -> dict[tuple[str, bool], tuple[str, ...]]:
    """This process's cache of each word's n-grams among the script's profiles (see langdetect_quick)."""
    return {}


@functools.cache
def _gram_vectors(script: str) -> dict[str, np.ndarray]:
    """This process's cache of the script's n-gram probabilities as arrays (see langdetect_quick)."""
    return {}
