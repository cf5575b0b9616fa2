"""langdetect's detector with its per-character work done once per word, and its trials stopped once they agree.

langdetect spends most of a detection in two places (an article's 600-character prefix, profiled): turning the
text into n-grams, one Python call per character (normalise it, push it through a three-character window), and
seven "trials", each a random walk over those n-grams until one language holds 99.999 % of the probability.

- The n-grams of a word depend on nothing but the word and whether a space follows it (the window restarts
  at every space, and capitalised runs are decided inside the word), so ``_extract_ngrams`` gives exactly
  langdetect's list, from a per-process cache of each word's n-grams. ``append`` and ``cleaning_text`` do
  langdetect's exact work with regular expressions instead of character loops.
- The trials run in langdetect's order with its seeded generator, but stop after ``AGREEING_TRIALS`` when
  each of them converged on the same language: the answer is then that language (the remaining trials would
  have to outvote it), and its probability the mean of the trials run. A text whose trials disagree, or do not
  converge, gets all seven, exactly as langdetect computes them. bench/language.py measures the accuracy.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
from langdetect.detector import Detector
from langdetect.detector_factory import DetectorFactory
from langdetect.lang_detect_exception import ErrorCode, LangDetectException
from langdetect.utils.ngram import NGram

AGREEING_TRIALS = 3
_CACHE_LIMIT = 200_000  # words per script; a cache this full is emptied and starts again
_SPACES = re.compile(" {2,}")
_LATIN = re.compile("[A-z]")  # langdetect's 'A' <= ch <= 'z' (so also [\]^_`)
_NON_LATIN = re.compile("[\u0300-\U0010ffff]")  # ch >= U+0300: its block test compares an int with a str


@cache
def _normalised(ch: str) -> str:
    return NGram.normalize(ch)


class QuickDetector(Detector):
    """A langdetect Detector for one factory; ``words`` is that factory's cache of word n-grams."""

    text: str

    def __init__(
        self,
        factory: DetectorFactory,
        words: dict[tuple[str, bool], tuple[str, ...]],
        vectors: dict[str, np.ndarray] | None = None,
    ) -> None:
        super().__init__(factory)
        self._words = words
        self._vectors = {} if vectors is None else vectors  # the factory's n-gram probabilities as arrays

    def append(self, text: str) -> None:
        text = self.URL_RE.sub(" ", text)
        text = self.MAIL_RE.sub(" ", text)
        text = NGram.normalize_vi(text)
        # langdetect copies the first max_text_length characters, dropping a space that follows a space.
        self.text += _SPACES.sub(" ", text[: self.max_text_length])

    def cleaning_text(self) -> None:
        latin = len(_LATIN.findall(self.text))
        if latin * 2 < len(_NON_LATIN.findall(self.text)):
            self.text = _LATIN.sub("", self.text)

    def _extract_ngrams(self) -> list[str]:
        normalised = "".join(map(_normalised, self.text))
        pieces = normalised.split(" ")
        last = len(pieces) - 1
        words = self._words
        if len(words) > _CACHE_LIMIT:
            words.clear()
        found: list[str] = []
        for k, word in enumerate(pieces):
            if word:
                key = (word, k < last)
                grams = words.get(key)
                if grams is None:
                    grams = words[key] = self._word_ngrams(*key)
                found.extend(grams)
        return found

    def _word_ngrams(self, word: str, spaced: bool) -> tuple[str, ...]:
        """langdetect's n-grams of one word (its window starts at a space), and of the space after it."""
        known = self.word_lang_prob_map
        grams: list[str] = []
        window = " "
        for j, ch in enumerate(word):
            window = (window + ch)[-NGram.N_GRAM :]
            if j and ch.isupper() and word[j - 1].isupper():
                continue  # inside a run of capitals (an acronym): langdetect skips it
            # Its 1-, 2- and 3-grams: the window holds two characters at a word's first, then three.
            grams.extend(g for g in (ch, *(window[-2:], window)[: len(window) - 1]) if g in known)
        if spaced:
            window = (window + " ")[-NGram.N_GRAM :]
            grams.extend(g for g in (window[-2:], window[-3:]) if g in known)
        return tuple(grams)

    def _detect_block(self) -> None:
        self.cleaning_text()
        ngrams = self._extract_ngrams()
        if not ngrams:
            raise LangDetectException(ErrorCode.CantDetectError, "No features in text.")
        self.langprob = [0.0] * len(self.langlist)
        self.random.seed(self.seed)
        trials: list[list[float]] = []
        winners: set[int] = set()
        for _ in range(self.n_trial):
            prob, converged = self._trial(ngrams)
            trials.append(prob)
            winners.add(max(range(len(prob)), key=prob.__getitem__) if converged else -1)
            for j in range(len(self.langprob)):
                self.langprob[j] += prob[j] / self.n_trial  # langdetect's sum, to the last bit
            if len(trials) == AGREEING_TRIALS and len(winners) == 1 and -1 not in winners:
                self.langprob = [sum(p[j] for p in trials) / len(trials) for j in range(len(self.langprob))]
                return

    def _trial(self, ngrams: list[str]) -> tuple[list[float], bool]:
        """One of langdetect's random walks; whether it converged (rather than ran out of iterations).

        langdetect's own arithmetic, to the bit, on arrays: each step multiplies every language's probability
        by ``weight + p(n-gram | language)`` (elementwise, as its loop does); every fifth step divides them by
        their sum, added left to right by Python's ``sum`` as langdetect's ``_normalize_prob`` does."""
        prob = np.array(self._init_probability(), dtype=np.float64)
        alpha = self.alpha + self.random.gauss(0.0, 1.0) * self.ALPHA_WIDTH
        weight = alpha / self.BASE_FREQ
        choice, vector = self.random.choice, self._vector
        i = 0
        while True:
            prob *= weight + vector(choice(ngrams))
            if i % 5 == 0:
                prob /= sum(prob.tolist())
                if prob.max() > self.CONV_THRESHOLD:
                    return prob.tolist(), True
                if i >= self.ITERATION_LIMIT:
                    return prob.tolist(), False
            i += 1

    def _vector(self, gram: str) -> np.ndarray:
        """The n-gram's probability in each language, as an array made once per factory."""
        found = self._vectors.get(gram)
        if found is None:
            found = self._vectors[gram] = np.array(self.word_lang_prob_map[gram], dtype=np.float64)
        return found
