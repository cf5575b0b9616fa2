"""The duplicate decision: the same normalised text, else an indexed member of a story confirmed by similarity.

The SQL is shared/db/dedup_index.py's; the text measures are workers/stages/dedup.py's; this module puts them in
order and resolves a match to the original it copies.
"""

from __future__ import annotations

import psycopg

from shared.db import dedup_index
from workers.stages.dedup import DuplicateMatch, Fingerprint, score, shingle_text


def find_duplicate(
    conn: psycopg.Connection, text: Fingerprint, threshold: float, *, exclude_id: int | None = None
) -> DuplicateMatch | None:
    """The first-seen original of a text (the same normalised text, else a confirmed LSH candidate), or None.
    ``exclude_id`` is the article being checked, already stored. The similarity is against the article that
    matched; when that one is itself a duplicate, ``original_id`` is its original. Only the candidates' texts
    are shingled here: the caller fingerprinted its own text beforehand (enrichment holds a lock meanwhile)."""
    exact = dedup_index.first_with_hash(conn, text.content_hash, exclude_id)
    if exact is not None:
        found, duplicate_of = exact
        root = dedup_index.root_of(conn, found) if duplicate_of is not None else found
        return None if root == exclude_id else DuplicateMatch(root, 1.0, exact=True)
    if not text.sketch.band_keys:
        return None
    candidates = [(c, shingle_text(c.text)) for c in dedup_index.candidates(conn, text.sketch.band_keys, exclude_id)]
    matches = [(c, sh, s) for c, sh in candidates if (s := score(text.shingles, sh)) >= threshold]
    if not matches:
        return None
    best, _, best_score = min(matches, key=lambda m: m[0].id)
    root = dedup_index.root_of(conn, best.id) if best.duplicate_of is not None else best.id
    if root == exclude_id:
        return None
    longest = max(sh.token_count for _, sh, _ in matches)
    closest = max(s for _, _, s in matches)
    return DuplicateMatch(root, round(best_score, 4), False, longest, closest, members=len(matches))
