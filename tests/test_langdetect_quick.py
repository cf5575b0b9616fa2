"""QuickDetector against langdetect's own Detector: the same text and n-grams, langdetect's probabilities
whenever the trials do not all agree, and the same language when they stop early."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langdetect.detector import Detector

from tests.test_language import ONE_SENTENCE, PARAGRAPHS
from workers.stages import language
from workers.stages.langdetect_quick import AGREEING_TRIALS, QuickDetector

# Capitals next to capitals (acronyms), Latin-1 punctuation langdetect blanks, Romanian commas it rewrites,
# Vietnamese letters and combining marks, general punctuation, [\]^_` (inside its 'A'..'z' test), Cyrillic,
# digits, runs of spaces, and words of one letter.
_CHARS = [*"aAbBzZ éÉ  ,.;-1[_`ÀŠșțẠỆß", "\u2019", "\u201c", "\u0301", "\u0303", "ǅ", "Ж", "жи", "ý", "ñ", "e\u0300"]
_TEXTS = st.lists(st.sampled_from(_CHARS), max_size=80).map("".join)


def _pair(script: str, text: str) -> tuple[Detector, QuickDetector]:
    factory = language._factory(script)
    ours = QuickDetector(factory, {})  # an empty cache: every word's n-grams computed here
    theirs = factory.create()
    ours.append(text)
    theirs.append(text)
    return theirs, ours


@settings(max_examples=500, deadline=None)
@given(text=_TEXTS, script=st.sampled_from(["latin", "cyrillic"]))
def test_text_and_ngrams_are_langdetects(text: str, script: str) -> None:
    theirs, ours = _pair(script, text)
    assert ours.text == theirs.text
    theirs.cleaning_text()
    ours.cleaning_text()
    assert ours.text == theirs.text
    assert ours._extract_ngrams() == theirs._extract_ngrams()


def test_a_cached_word_gives_the_same_ngrams_again() -> None:
    factory = language._factory("latin")
    cache: dict[tuple[str, bool], tuple[str, ...]] = {}
    first, again = QuickDetector(factory, cache), QuickDetector(factory, cache)
    text = PARAGRAPHS["fr"] + " ÉTÉ ONU a b"
    for detector in (first, again):
        detector.append(text)
        detector.cleaning_text()
    expected = _theirs_ngrams(text)
    assert first._extract_ngrams() == expected
    words = len(cache)
    assert words > 10
    assert again._extract_ngrams() == expected
    assert len(cache) == words  # read from the cache, nothing added


def _theirs_ngrams(text: str) -> list[str]:
    theirs = language._factory("latin").create()
    theirs.append(text)
    theirs.cleaning_text()
    return list(theirs._extract_ngrams())


def _trials_run(detector: QuickDetector) -> int:
    """How many trials ran, counted by wrapping the detector's own trial."""
    count = 0
    trial = detector._trial

    def counted(ngrams: list[str]) -> tuple[list[float], bool]:
        nonlocal count
        count += 1
        return trial(ngrams)

    detector._trial = counted  # type: ignore[method-assign]
    detector.get_probabilities()
    return count


# Latin texts langdetect is unsure about (a word or a name) and texts it is sure about.
_LATIN = [
    *(t for lang, t in sorted(PARAGRAPHS.items()) if language._LANGUAGE_SCRIPT.get(lang) == "latin"),
    *(t for _, t in ONE_SENTENCE if t.isascii()),
    "Kommunen fryser priserna", "Mario Rossi", "ok ok", "de la", "Bosnia i Hercegovina", "ja ne", "ano ne",
]  # fmt: skip


@pytest.mark.parametrize("text", _LATIN)
def test_all_trials_run_unless_the_first_ones_agree_and_then_the_language_is_langdetects(text: str) -> None:
    theirs, ours = _pair("latin", text)
    trials = _trials_run(ours)
    expected = theirs.get_probabilities()
    if trials == theirs.n_trial:  # disagreeing or unconverged trials: langdetect's numbers exactly
        assert ours.langprob == theirs.langprob
    else:
        assert trials == AGREEING_TRIALS
        assert ours.get_probabilities()[0].lang == expected[0].lang
        assert ours.get_probabilities()[0].prob > 0.99


def test_both_paths_are_taken_by_the_texts_above() -> None:
    runs = {_trials_run(_pair("latin", text)[1]) for text in _LATIN}
    assert runs == {AGREEING_TRIALS, 7}


def _langdetects_trial(detector: Detector, ngrams: list[str]) -> tuple[list[float], bool]:
    """One trial as langdetect's ``_detect_block`` runs it, with its own ``_update_lang_prob`` and
    ``_normalize_prob`` (the loop's body copied, its methods called)."""
    prob = detector._init_probability()
    alpha = detector.alpha + detector.random.gauss(0.0, 1.0) * detector.ALPHA_WIDTH
    i = 0
    while True:
        detector._update_lang_prob(prob, detector.random.choice(ngrams), alpha)
        if i % 5 == 0:
            if detector._normalize_prob(prob) > detector.CONV_THRESHOLD:
                return prob, True
            if i >= detector.ITERATION_LIMIT:
                return prob, False
        i += 1


_BY_SCRIPT = [
    *(("latin", t) for t in _LATIN),
    *((language._LANGUAGE_SCRIPT[lang], t) for lang, t in sorted(PARAGRAPHS.items())
      if language._LANGUAGE_SCRIPT.get(lang) in ("cyrillic", "arabic")),
]  # fmt: skip


@pytest.mark.parametrize(("script", "text"), _BY_SCRIPT)
def test_every_trial_is_langdetects_to_the_last_bit(script: str, text: str) -> None:
    theirs, ours = _pair(script, text)
    ours.cleaning_text()
    ngrams = ours._extract_ngrams()
    ours.random.seed(ours.seed)
    theirs.random.seed(theirs.seed)
    for _ in range(7):
        assert ours._trial(ngrams) == _langdetects_trial(theirs, ngrams)
