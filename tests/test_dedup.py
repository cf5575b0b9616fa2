"""The duplicates stage as pure functions: normalisation, the content hash, shingles, sketches and similarity."""

from __future__ import annotations

import unicodedata
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.stages.dedup import (
    _PUNCT,
    BANDS,
    MIN_SKETCH_SHINGLES,
    Shingles,
    _covered,
    _keep_marks,
    content_hash,
    normalise_text,
    shingle_text,
    similarity,
    sketch_text,
)

ROOT = Path(__file__).resolve().parents[1]
SEED = (ROOT / "seeds" / "000_1f54b0fcd0170c75.expected.txt").read_text(encoding="utf-8")
FIXTURES = Path(__file__).parent / "fixtures" / "dedup"
SYNDICATED = (FIXTURES / "seed_syndicated.txt").read_text(encoding="utf-8")
SAME_EVENT = (FIXTURES / "same_event.txt").read_text(encoding="utf-8")
THRESHOLD = 0.8  # the default of NEWSMILL_DEDUP_THRESHOLD

ZH = (
    "市议会周二晚间决定，从明年起大幅提高市中心的停车收费标准。新增收入将用于修建新的自行车道，并增加有轨电车的班次。"
    "市中心的商户对这一决定提出批评，担心顾客今后会更愿意前往城市边缘的大型购物中心。反对派议员要求在一年后对这项措施的效果"
    "进行评估，并希望在推出更多改革之前充分听取居民的意见。"
    "市长在会后的记者会上表示，提高收费是为了缓解老城区长期拥堵的问题，也是为了改善空气质量。他说，过去五年里，进入市中心的"
    "私家车数量增加了将近三成，而公共交通的客流却几乎没有变化。根据新的方案，居民停车证的价格将保持不变，夜间和周日的停车仍然免费。"
)
ZH_OTHER = (
    "夜间的强降雨导致多个街区的地下室和道路被淹，消防人员一直忙到清晨才把建筑物里的积水抽干。出于安全考虑，一所小学暂停上课，"
    "两条公路也临时封闭。气象部门表示，周末前后天气将逐渐好转，但河流水位在未来几天内仍可能继续上涨，提醒沿岸居民注意防范。"
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hello,  World!", "hello world"),
        ("L’Ukraine — «\u00a0vite\u00a0»", "l ukraine vite"),
        ("ＦＵＬＬ　ｗｉｄｔｈ", "full width"),  # NFKC
        ("Straße", "strasse"),  # casefold
        ("snake_case\ttabs\n\nlines", "snake case tabs lines"),
        ("ภาษาไทย ที่นี่", "ภาษาไทย ที่นี่"),  # combining vowels stay with their letters
        ("", ""),
    ],
)
def test_normalise_text(raw: str, expected: str) -> None:
    assert normalise_text(raw) == expected


@given(st.text())
def test_normalising_is_idempotent(text: str) -> None:
    assert normalise_text(normalise_text(text)) == normalise_text(text)


def test_content_hash_is_stable_and_ignores_case_punctuation_and_spacing() -> None:
    # A fixed value: the extract stage stores it, so a change here silently splits exact duplicates.
    assert content_hash("Hello, World!") == "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    assert content_hash("hello world") == content_hash("  HELLO —  world.\n")
    assert content_hash(SEED) != content_hash(SYNDICATED)


@given(st.text(min_size=1))
def test_similarity_is_symmetric_and_bounded(text: str) -> None:
    other = text[: len(text) // 2] + " extra words here"
    assert similarity(text, other) == similarity(other, text)
    assert 0.0 <= similarity(text, other) <= 1.0
    if normalise_text(text):
        assert similarity(text, text) == 1.0


def test_the_syndicated_seed_is_a_duplicate() -> None:
    # Another headline, a rewritten lead, a wire dateline and a trailer of links.
    assert similarity(SEED, SYNDICATED) >= THRESHOLD


def test_a_copy_cut_to_60_percent_is_a_duplicate() -> None:
    words = SEED.split(" ")
    cut = " ".join(words[: int(len(words) * 0.6)])
    assert similarity(SEED, cut) >= THRESHOLD


def test_another_article_on_the_same_event_is_not() -> None:
    # Same people, places and weapons; written independently.
    assert similarity(SEED, SAME_EVENT) < 0.3
    assert similarity(SYNDICATED, SAME_EVENT) < 0.3


def test_short_briefs_from_one_site_template_are_not_alike() -> None:
    sign_off = "Retrouvez toute l’actualité de votre région sur notre site et dans notre application gratuite."
    a = f"LYON — La mairie a annoncé mardi la fermeture de la piscine municipale jusqu’en mars.\n{sign_off}"
    b = f"LYON — Un incendie a détruit dans la nuit un entrepôt de la zone industrielle.\n{sign_off}"
    assert similarity(a, b) < 0.6
    # The same brief, lightly edited, still is one.
    assert similarity(a, a.replace("mardi", "lundi")) >= THRESHOLD


def test_ten_percent_of_words_edited_stays_above_the_threshold() -> None:
    words = SEED.split(" ")
    edited = " ".join("modifié" if i % 10 == 5 else w for i, w in enumerate(words))
    assert 0.85 <= similarity(SEED, edited) < 1.0


def test_scripts_without_spaces_use_character_shingles() -> None:
    shingles = shingle_text(ZH)
    assert shingles.mode == "chars"
    assert shingles.token_count == len(normalise_text(ZH).replace(" ", ""))
    assert len(sketch_text(ZH).band_keys) == BANDS
    assert shingle_text("ข่าววันนี้ฝนตกหนักในกรุงเทพ").mode == "chars"
    assert shingle_text(SEED).mode == "words"
    cut = ZH[: int(len(ZH) * 0.6)]
    assert similarity(ZH, cut) >= THRESHOLD
    assert similarity(ZH, ZH.replace("周二", "周三").replace("自行车道", "人行道")) >= THRESHOLD
    assert similarity(ZH, ZH_OTHER) < 0.2
    assert similarity(ZH[:80], ZH[:30]) < THRESHOLD  # too short to match on containment alone


def test_sketches_are_deterministic_and_tiny_texts_get_no_band_keys() -> None:
    sketch = sketch_text(SEED)
    assert sketch == sketch_text(SEED)
    assert len(sketch.band_keys) == BANDS
    assert len(set(sketch.band_keys)) == BANDS
    assert all(-(2**63) <= k < 2**63 for k in sketch.band_keys)
    assert sketch.shingle_count == len(set(shingle_text(SEED).hashes))
    assert sketch_text("Photo").band_keys == []
    assert len(sketch_text("one two three four five six seven").band_keys) == BANDS  # 5 shingles
    assert MIN_SKETCH_SHINGLES == 5
    assert sketch_text("").signature == b""


def test_near_copies_share_band_keys_and_unrelated_texts_do_not() -> None:
    seed_keys = set(sketch_text(SEED).band_keys)
    assert seed_keys & set(sketch_text(SYNDICATED).band_keys)
    assert not seed_keys & set(sketch_text(SAME_EVENT).band_keys)


def _covered_reference(a: Shingles, other: set[int]) -> int:
    """The coverage count written as a plain loop over a's shingles (what the vectorised one must equal)."""
    covered = reach = 0
    for i, h in enumerate(a.hashes):
        if h in other:
            end = min(i + a.k, a.token_count)
            covered += end - max(i, reach)
            reach = end
    return covered


WORDS = st.sampled_from(
    ["the", "mayor", "said", "budget", "city", "tram", "line", "opens", "monday", "and", "council", "votes"]
)


@given(st.lists(WORDS, max_size=80), st.lists(WORDS, max_size=80))
def test_the_vectorised_coverage_equals_the_plain_loop(a_words: list[str], b_words: list[str]) -> None:
    a, b = shingle_text(" ".join(a_words)), shingle_text(" ".join(b_words))
    assert _covered(a, b) == _covered_reference(a, set(b.hashes))
    assert _covered(b, a) == _covered_reference(b, set(a.hashes))


@given(st.text(max_size=300))
def test_the_fast_normalisation_equals_the_mark_preserving_one(text: str) -> None:
    folded = unicodedata.normalize("NFKC", text).casefold()
    slow = " ".join(_PUNCT.sub(_keep_marks, folded).split())
    assert normalise_text(text) == slow


def _shingles_reference(text: str) -> tuple[int, ...]:
    """The shingle hashes written plainly: CRC-32 of k tokens joined by the mode's separator."""
    shingles = shingle_text(text)
    tokens = normalise_text(text).split() if shingles.mode == "words" else list(normalise_text(text).replace(" ", ""))
    sep = " " if shingles.mode == "words" else ""
    spans = range(max(len(tokens) - shingles.k + 1, 1)) if tokens else range(0)
    return tuple(zlib.crc32(sep.join(tokens[i : i + shingles.k]).encode()) for i in spans)


@given(
    st.text(max_size=200)
    | st.lists(st.sampled_from(["東京", "都", "の", "ニュース", "ข่าว", "ไทย", " ", "é"])).map("".join)
)
def test_shingle_hashes_are_the_crc_of_the_joined_tokens(text: str) -> None:
    assert shingle_text(text).hashes == _shingles_reference(text)
