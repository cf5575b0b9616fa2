"""Duplicates stage: the content hash, shingles, MinHash band keys for LSH, and the confirming similarity.

Syndicated copies differ from their original by a headline, a lead, wire boilerplate, a few edited words or a
cut. The lookup has two steps: LSH band keys (MinHash of word 3-shingles, 3 rows x 32 bands) find candidates,
tuned for recall down to a shingle Jaccard of about 0.4, which is where a half-length cut or a copy with 10 %
of its words edited lands; then ``similarity`` on the cleaned texts decides, for precision. It is the share of
the shorter text's words that lie in runs of three or more words also found in the other text: robust to
edits (an edited word uncovers itself, not its neighbours), to cuts (measured on the shorter text), and not
inflated by a shared template line the way a per-shingle ratio raised to 1/k would be. Short texts are scored
on both sides (a Jaccard-like share of all words), so two briefs sharing a sign-off do not look alike.
Scripts written without spaces (Chinese, Japanese, Thai...) are shingled by characters instead of words.

Arrival order: a story is indexed by its first article and by every later copy that is clearly longer than
the members it matched (``indexes_as_member``), and a lookup compares with every indexed member: a truncated
copy that arrived before the original cannot make the original's later copies miss.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
import zlib
from dataclasses import dataclass
from typing import Literal

import numpy as np

ROWS = 3  # MinHash values per band: 1M random articles then give ~1 chance candidate per lookup
BANDS = 32  # P(candidate) = 1-(1-J^3)^32: 0.99 at J=0.5, 0.88 at J=0.4, 0.58 at J=0.3
NUM_PERM = ROWS * BANDS
WORD_K = 3  # words per shingle
CHAR_K = 4  # characters per shingle for scripts without spaces (about two Chinese words)
# Below these sizes (in tokens) the shorter text cannot match on containment alone: a brief inside a
# template, or a sign-off line, is not evidence that a whole article was copied. 120 characters: ~60 Chinese
# words, ~25 Thai ones.
MIN_CONTAINMENT = {"words": 50, "chars": 120}
MIN_SKETCH_SHINGLES = 5  # shorter texts get no band keys (they would crowd a few buckets); exact hash only
NO_SPACE_SHARE = 0.3  # share of letters from no-space scripts from which a text is shingled by characters

Mode = Literal["words", "chars"]

_PUNCT = re.compile(r"[^\w\s]+|_+")
# Thai, Lao, Myanmar, Khmer, kana, CJK ideographs (BMP blocks; rarer planes are counted as words).
_NO_SPACE = re.compile("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_MERSENNE = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint64(0xFFFFFFFF)


def _permutations() -> tuple[np.ndarray, np.ndarray]:
    # Band keys are stored: the hash family must never change between processes, versions or machines,
    # so it is derived from SHA-256 rather than from numpy's (version-dependent) random streams.
    a, b = [], []
    for i in range(NUM_PERM):
        digest = hashlib.sha256(f"newsmill-dedup-{i}".encode()).digest()
        a.append(int.from_bytes(digest[:4], "big") % ((1 << 31) - 1) + 1)
        b.append(int.from_bytes(digest[4:8], "big") % ((1 << 31) - 1))
    # a, b < 2^31 and shingle hashes < 2^32, so a*h + b never overflows uint64.
    return np.array(a, dtype=np.uint64)[:, None], np.array(b, dtype=np.uint64)[:, None]


_PERM_A, _PERM_B = _permutations()


@dataclass(frozen=True)  # no slots: the array is cached in the instance
class Shingles:
    """A text's tokens count, how it was split, and the CRC-32 of each shingle in text order."""

    mode: Mode
    token_count: int
    hashes: tuple[int, ...]

    @property
    def k(self) -> int:
        return WORD_K if self.mode == "words" else CHAR_K

    @functools.cached_property
    def array(self) -> np.ndarray:
        """The hashes as a numpy array (what the scoring works on), made once."""
        return np.fromiter(self.hashes, dtype=np.uint32, count=len(self.hashes))

    @functools.cached_property
    def in_order(self) -> np.ndarray:
        """The hashes in order: what another text's shingles are looked up in (a binary search)."""
        return np.sort(self.array)

    def to_bytes(self) -> bytes:
        """The hashes as stored (``dedup_shingles.hashes``): little-endian uint32, in text order."""
        return self.array.astype("<u4").tobytes()

    @classmethod
    def from_bytes(cls, mode: str, token_count: int, data: bytes) -> Shingles:
        """The shingles ``to_bytes`` stored: equal to shingling the text again, without the work."""
        if mode not in ("words", "chars"):
            raise ValueError(f"unknown shingle mode {mode!r}")
        array = np.frombuffer(data, dtype="<u4").astype(np.uint32)
        shingles = cls("words" if mode == "words" else "chars", token_count, tuple(array.tolist()))
        shingles.__dict__["array"] = array  # the cached property, already made
        return shingles


@dataclass(frozen=True)
class Sketch:
    """What the index stores of a text: its MinHash signature (little-endian uint32) and band keys."""

    signature: bytes
    band_keys: list[int]
    shingle_count: int


@dataclass(frozen=True)
class DuplicateMatch:
    """The first-seen original, and the score against the article that confirmed the match.

    ``longest_tokens`` is the length of the longest indexed member of the story that matched: a copy longer
    than that is indexed too (``indexes_as_member``), so the decision does not depend on arrival order."""

    original_id: int
    similarity: float
    exact: bool
    longest_tokens: int = 0
    closest: float = 1.0  # the highest similarity to any matched member of the story
    members: int = 1  # indexed members of the story that matched


# A near-duplicate this much longer than every member of its story that it matched is indexed as a member:
# when a cut or an edited copy arrived first, the fuller text is what later copies must be compared with.
# Each member is at least this much longer than the previous one, so a story has a handful at most.
MEMBER_GROWTH = 1.1
# Likewise a near-duplicate no member is this close to: an edited copy that arrived first is a poor stand-in
# for the original, which later copies resemble more than they resemble it.
MEMBER_DISTINCT_BELOW = 0.9
MAX_MEMBERS = 4  # a story matched through this many indexed members already has enough of them


def indexes_as_member(match: DuplicateMatch, shingles: Shingles) -> bool:
    """Whether a near-duplicate joins the index beside its story's original (see ``MEMBER_GROWTH``)."""
    if match.exact or match.members >= MAX_MEMBERS:
        return False
    if shingles.token_count >= MEMBER_GROWTH * match.longest_tokens:
        return True
    # A variant as long as the story's longest member (never a cut of it) that no member is close to.
    return shingles.token_count * MEMBER_GROWTH >= match.longest_tokens and match.closest < MEMBER_DISTINCT_BELOW


def _keep_marks(match: re.Match[str]) -> str:
    # Combining marks (Thai vowels, Devanagari matras) are not \w but belong to their letter.
    run = match.group()
    return "".join(c if unicodedata.category(c).startswith("M") else " " for c in run)


def _has_marks(text: str) -> bool:
    """Whether any combining mark (Unicode category M) is in ``text``: its distinct characters looked up."""
    # A regular expression of every mark's range tests each character against hundreds of ranges (~3 ms for
    # an article); the set of a text's distinct characters is built in C and holds a few hundred at most.
    return any(unicodedata.category(c)[0] == "M" for c in set(text))


def normalise_text(text: str) -> str:
    """NFKC, case-folded, punctuation and symbols as spaces, whitespace collapsed: the text that is compared."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    # Most texts have no combining mark left after NFKC: then no run needs looking into, character by character.
    spaced = _PUNCT.sub(_keep_marks, folded) if _has_marks(folded) else _PUNCT.sub(" ", folded)
    return " ".join(spaced.split())


def content_hash(text: str) -> str:
    """Hex SHA-256 of the normalised text: equal for copies differing only in case, punctuation or spacing."""
    return hashlib.sha256(normalise_text(text).encode()).hexdigest()


def _tokens(normalised: str) -> tuple[Mode, list[str]]:
    letters = len(normalised) - normalised.count(" ")
    if letters and len(_NO_SPACE.findall(normalised)) >= NO_SPACE_SHARE * letters:
        return "chars", list(normalised.replace(" ", ""))
    return "words", normalised.split()


def shingle_text(text: str) -> Shingles:
    """Word 3-shingles, or character 4-shingles for scripts without spaces; a text shorter than k is one."""
    return _shingle_normalised(normalise_text(text))


def _shingle_normalised(normalised: str) -> Shingles:
    mode, tokens = _tokens(normalised)
    k = WORD_K if mode == "words" else CHAR_K
    if not tokens:
        return Shingles(mode, 0, ())
    # A shingle's bytes are a slice of the encoded text (words are separated by exactly one space, and
    # characters by nothing), so each shingle is one CRC over a memoryview: no joining, no encoding per shingle.
    data = (normalised if mode == "words" else normalised.replace(" ", "")).encode()
    raw = np.frombuffer(data, dtype=np.uint8)
    if mode == "words":
        spaces = np.flatnonzero(raw == 32)
        starts = np.concatenate(([0], spaces + 1))
        ends = np.concatenate((spaces, [len(data)]))
    else:  # every byte that does not continue a UTF-8 sequence starts a character
        starts = np.flatnonzero((raw & 0xC0) != 0x80)
        ends = np.concatenate((starts[1:], [len(data)]))
    count = max(len(tokens) - k + 1, 1)
    last = np.minimum(np.arange(count) + k - 1, len(tokens) - 1)
    view = memoryview(data)
    hashes = tuple(zlib.crc32(view[a:b]) for a, b in zip(starts[:count].tolist(), ends[last].tolist(), strict=True))
    return Shingles(mode, len(tokens), hashes)


def sketch_shingles(shingles: Shingles) -> Sketch:
    """MinHash over the distinct shingles, cut into bands; each band hashed to a signed 64-bit key."""
    distinct = np.fromiter(set(shingles.hashes), dtype=np.uint64)
    if distinct.size == 0:
        return Sketch(b"", [], 0)
    signature = ((_PERM_A * distinct + _PERM_B) % _MERSENNE & _MAX_HASH).min(axis=1).astype("<u4")
    keys: list[int] = []
    if distinct.size >= MIN_SKETCH_SHINGLES:
        for band in range(BANDS):
            data = band.to_bytes(2, "big") + signature[band * ROWS : (band + 1) * ROWS].tobytes()
            keys.append(int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True))
    return Sketch(signature.tobytes(), keys, int(distinct.size))


def sketch_text(text: str) -> Sketch:
    return sketch_shingles(shingle_text(text))


@dataclass(frozen=True)
class Fingerprint:
    """Everything the duplicate lookup needs of a text, computed once and before any lock is taken."""

    content_hash: str
    shingles: Shingles
    sketch: Sketch


def fingerprint_text(text: str) -> Fingerprint:
    normalised = normalise_text(text)  # once, for the hash and the shingles
    shingles = _shingle_normalised(normalised)
    return Fingerprint(hashlib.sha256(normalised.encode()).hexdigest(), shingles, sketch_shingles(shingles))


def _covered(a: Shingles, other: Shingles) -> int:
    """How many of a's tokens lie inside at least one shingle that ``other`` also has: token j is covered when
    one of the shingles starting at j-k+1 .. j is shared (a running window over the shared-shingle mask)."""
    if not a.hashes:
        return 0
    # A binary search of a's hashes in other's, sorted; both arrays are made once per text, so
    # scoring a copy against its story's members costs one search each (np.isin deduplicated both every time).
    found = other.in_order
    if found.size == 0:
        return 0
    at = np.searchsorted(found, a.array)
    at[at == found.size] = 0
    shared = (found[at] == a.array).astype(np.int32)
    window = np.convolve(shared, np.ones(a.k, dtype=np.int32))[: a.token_count]
    return int(np.count_nonzero(window))


def score(a: Shingles, b: Shingles) -> float:
    """The confirming similarity of two shingled texts, in [0, 1]; see the module docstring."""
    if a.mode != b.mode or not a.hashes or not b.hashes:
        return 0.0
    covered_a = _covered(a, b)
    covered_b = _covered(b, a)
    both = (covered_a + covered_b) / (a.token_count + b.token_count)
    shortest = min(a.token_count, b.token_count)
    if shortest < MIN_CONTAINMENT[a.mode]:
        return both
    # Containment of the shorter text (either, when they are as long: the score stays symmetric).
    return max(c / n for c, n in ((covered_a, a.token_count), (covered_b, b.token_count)) if n == shortest)


def similarity(a: str, b: str) -> float:
    """The confirming score stored as ``articles.similarity``: 1.0 for equal texts, ~0.9 with 10 % edited."""
    return score(shingle_text(a), shingle_text(b))
