"""The duplicate index on a real PostgreSQL: indexing is idempotent, lookups find the first-seen original."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import psycopg

from shared.db.articles import bump_cursor
from shared.db.dedup_index import bulk_index, index_article, index_stats, unindex_article
from tests.test_dedup import SAME_EVENT, SEED, SYNDICATED, THRESHOLD
from workers.stages.dedup import BANDS, DuplicateMatch, content_hash, fingerprint_text, indexes_as_member, sketch_text
from workers.steps.duplicates import DuplicateFinder, find_duplicate


def add_article(db: psycopg.Connection, text: str, duplicate_of: int | None = None) -> int:
    """A feed, an item and its article, as the extract stage leaves them (ids grow with arrival)."""
    row = db.execute(
        "INSERT INTO feeds (url) VALUES ('https://wire.example/feed')"
        " ON CONFLICT (url) DO UPDATE SET url = EXCLUDED.url RETURNING id"
    ).fetchone()
    assert row is not None
    feed_id = row[0]
    n = db.execute("SELECT count(*) FROM items").fetchone()
    url = f"https://site{n[0] if n else 0}.example/story"
    row = db.execute(
        "INSERT INTO items (feed_id, url, canonical_url) VALUES (%s, %s, %s) RETURNING id", (feed_id, url, url)
    ).fetchone()
    assert row is not None
    row = db.execute(
        """
        INSERT INTO articles (item_id, feed_id, url, canonical_url, fetched_at, text, word_count, content_hash,
                              duplicate_of)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id
        """,
        (row[0], feed_id, url, url, datetime.now(UTC), text, len(text.split()), content_hash(text), duplicate_of),
    ).fetchone()
    assert row is not None
    bump_cursor(db, [int(row[0])])  # published: only published articles are anyone's original
    return int(row[0])


def add_indexed(db: psycopg.Connection, text: str) -> int:
    article_id = add_article(db, text)
    index_article(db, article_id, sketch_text(text).band_keys)
    return article_id


def lookup(db: psycopg.Connection, text: str, exclude_id: int | None = None) -> DuplicateMatch | None:
    return find_duplicate(db, fingerprint_text(text), THRESHOLD, exclude_id=exclude_id)


def test_a_draft_not_published_yet_is_no_ones_original(db: psycopg.Connection) -> None:
    draft_id = add_article(db, SEED)
    db.execute("UPDATE articles SET cursor = NULL WHERE id = %s", (draft_id,))
    copy_id = add_article(db, SEED)
    assert lookup(db, SEED, exclude_id=copy_id) is None


def test_the_syndicated_copy_points_at_the_seed(db: psycopg.Connection) -> None:
    seed_id = add_indexed(db, SEED)
    copy_id = add_article(db, SYNDICATED)
    match = lookup(db, SYNDICATED, exclude_id=copy_id)
    assert match is not None
    assert (match.original_id, match.exact) == (seed_id, False)
    assert THRESHOLD <= match.similarity < 1.0


def test_a_truncated_copy_is_found_and_another_article_on_the_event_is_not(db: psycopg.Connection) -> None:
    seed_id = add_indexed(db, SEED)
    words = SEED.split(" ")
    match = lookup(db, " ".join(words[: int(len(words) * 0.6)]))
    assert match is not None
    assert match.original_id == seed_id
    assert lookup(db, SAME_EVENT) is None


def test_the_same_normalised_text_is_an_exact_duplicate(db: psycopg.Connection) -> None:
    seed_id = add_article(db, SEED)  # not even indexed: the content hash is enough
    copy = SEED.upper().replace("’", "'")
    copy_id = add_article(db, copy)
    match = lookup(db, copy, exclude_id=copy_id)
    assert match is not None
    assert (match.original_id, match.similarity, match.exact) == (seed_id, 1.0, True)
    # Checking the original again once its copy points at it: the chain leads back to itself, no duplicate.
    db.execute("UPDATE articles SET duplicate_of = %s WHERE id = %s", (seed_id, copy_id))
    assert lookup(db, SEED, exclude_id=seed_id) is None


def test_an_article_is_not_its_own_duplicate(db: psycopg.Connection) -> None:
    seed_id = add_indexed(db, SEED)
    assert lookup(db, SEED, exclude_id=seed_id) is None


def test_a_match_on_a_duplicate_points_at_its_original(db: psycopg.Connection) -> None:
    seed_id = add_article(db, SEED)
    # An indexed duplicate (e.g. indexed before it was found to be one): its original is the answer.
    copy_id = add_article(db, SYNDICATED, duplicate_of=seed_id)
    index_article(db, copy_id, sketch_text(SYNDICATED).band_keys)
    tail = "\n".join(SYNDICATED.splitlines()[:10])
    match = lookup(db, tail)
    assert match is not None
    assert match.original_id == seed_id


def test_the_earliest_of_several_matching_originals_wins(db: psycopg.Connection) -> None:
    first = add_indexed(db, SEED)
    add_indexed(db, SYNDICATED)
    match = lookup(db, SEED + "\nMis à jour à 18 h.")
    assert match is not None
    assert match.original_id == first


def test_indexing_is_idempotent_and_follows_new_text(db: psycopg.Connection) -> None:
    article_id = add_article(db, SEED)
    index_article(db, article_id, sketch_text(SEED).band_keys)
    before = index_stats(db)
    index_article(db, article_id, sketch_text(SEED).band_keys)
    assert index_stats(db) == before
    assert (before.rows, before.articles) == (BANDS, 1)

    index_article(db, article_id, sketch_text(SAME_EVENT).band_keys)  # re-extracted with other text
    keys = {r[0] for r in db.execute("SELECT band_key FROM dedup_bands WHERE article_id = %s", (article_id,))}
    assert keys == set(sketch_text(SAME_EVENT).band_keys)
    unindex_article(db, article_id)
    assert index_stats(db).rows == 0


def test_deleting_an_article_removes_its_keys(db: psycopg.Connection) -> None:
    article_id = add_indexed(db, SEED)
    db.execute("DELETE FROM articles WHERE id = %s", (article_id,))
    assert index_stats(db).rows == 0


def test_bulk_index_then_lookup_from_a_new_connection(db: psycopg.Connection, db_url: str) -> None:
    ids = [add_article(db, text) for text in (SEED, SAME_EVENT)]
    with db.transaction():
        assert (
            bulk_index(db, [(i, sketch_text(t).band_keys) for i, t in zip(ids, (SEED, SAME_EVENT), strict=True)])
            == 2 * BANDS
        )
    with psycopg.connect(db_url) as fresh:  # the index is rows in Postgres: nothing to rebuild after a restart
        match = lookup(fresh, SYNDICATED)
    assert match is not None
    assert match.original_id == ids[0]


def _enrich_like(db: psycopg.Connection, text: str) -> tuple[int, DuplicateMatch | None]:
    """What the enrich step does with an article's text: look it up, then index it when it is an original
    or a clearly longer member of its story."""
    article_id = add_article(db, text)
    fingerprint = fingerprint_text(text)
    match = find_duplicate(db, fingerprint, THRESHOLD, exclude_id=article_id)
    if match is None or indexes_as_member(match, fingerprint.shingles):
        index_article(db, article_id, fingerprint.sketch.band_keys)
    if match is not None:
        db.execute("UPDATE articles SET duplicate_of = %s WHERE id = %s", (match.original_id, article_id))
    return article_id, match


def test_a_cut_copy_arriving_first_does_not_hide_the_original_from_later_copies(db: psycopg.Connection) -> None:
    rng = random.Random(7)
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    words = ["".join(rng.choices(syllables, k=3)) for _ in range(400)]
    original = " ".join(words)
    cut = " ".join(words[:230])  # the first 230 words arrive first, on another site
    tail = " ".join(words[230:])  # a copy of the end only: nothing in common with the cut copy
    first_id, none = _enrich_like(db, cut)
    assert none is None
    _, match = _enrich_like(db, original)
    assert match is not None
    assert match.original_id == first_id
    assert match.longest_tokens == 230  # so the full text (400 words) is indexed beside the cut
    _, late = _enrich_like(db, tail)
    assert late is not None
    assert late.original_id == first_id  # found through the full text, rooted at the first
    # A copy no longer than what its story already has indexed is not indexed: the index does not grow per copy.
    before = index_stats(db).articles
    _enrich_like(db, " ".join(words[:380]))
    assert index_stats(db).articles == before


def test_a_batch_text_matching_only_an_earlier_copy_in_its_batch_points_at_the_story_s_original(
    db: psycopg.Connection,
) -> None:
    """In one batch, the full text (a copy of a stored cut, indexed beside it as a member) comes first and a
    copy of its end, which shares nothing with the cut, second: the end matches only the full text, whose
    duplicate link is not stored yet. Its original is still the story's root, not that copy."""
    rng = random.Random(11)
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    words = ["".join(rng.choices(syllables, k=3)) for _ in range(400)]
    full, cut, tail = " ".join(words), " ".join(words[:230]), " ".join(words[230:])
    root = add_indexed(db, cut)
    batch = [add_article(db, full), add_article(db, tail)]
    db.execute("UPDATE articles SET cursor = NULL WHERE id = ANY(%s)", (batch,))  # drafts being published
    texts = [(i, fingerprint_text(t)) for i, t in zip(batch, (full, tail), strict=True)]
    decided = DuplicateFinder(db, texts, THRESHOLD).decide()
    assert [m.original_id if m else None for m in decided] == [root, root]
