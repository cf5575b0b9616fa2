"""The duplicate decision: the same normalised text, else an indexed original confirmed by shingle similarity.

The SQL is shared/db/dedup_index.py's; the text measures are workers/stages/dedup.py's; this module puts them
in order and resolves a match to the original it copies. A batch is decided in publication order, each text
against the stored index and against the batch's earlier texts, with two statements for the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg

from shared.db import dedup_index
from workers.stages.dedup import DuplicateMatch, Fingerprint, score, shingle_text


@dataclass
class _Batch:
    """A batch being decided: its texts, what the index holds for them, and the decisions made so far."""

    conn: psycopg.Connection
    texts: Sequence[tuple[int, Fingerprint]]
    exact: dict[str, tuple[int, int | None]]  # content hash -> first stored (id, duplicate_of)
    stored: list[list[dedup_index.BatchCandidate]]  # per position
    stored_texts: dict[int, str]
    threshold: float
    decided: list[DuplicateMatch | None] = field(default_factory=list)

    def root(self, article_id: int, duplicate_of: int | None) -> int:
        return dedup_index.root_of(self.conn, article_id) if duplicate_of is not None else article_id

    def exact_match(self, position: int) -> DuplicateMatch | None:
        """The stored article with the same text first; else the batch's first earlier text that has it."""
        content_hash = self.texts[position][1].content_hash
        if (stored := self.exact.get(content_hash)) is not None:
            return DuplicateMatch(self.root(*stored), 1.0, exact=True)
        for earlier, (earlier_id, fingerprint) in enumerate(self.texts[:position]):
            if fingerprint.content_hash == content_hash:
                previous = self.decided[earlier]
                return DuplicateMatch(previous.original_id if previous else earlier_id, 1.0, exact=True)
        return None

    def near_match(self, position: int) -> DuplicateMatch | None:
        """The earliest confirmed candidate: indexed originals sharing band keys, and the batch's earlier
        originals sharing one (they are indexed in the same transaction, after this decision)."""
        fingerprint = self.texts[position][1]
        if not fingerprint.sketch.band_keys:
            return None
        matches: list[tuple[int, int | None, float]] = []  # (id, duplicate_of, score)
        for candidate in self.stored[position]:
            similarity = score(fingerprint.shingles, shingle_text(self.stored_texts[candidate.id]))
            if similarity >= self.threshold:
                matches.append((candidate.id, candidate.duplicate_of, similarity))
        keys = set(fingerprint.sketch.band_keys)
        for earlier, (earlier_id, other) in enumerate(self.texts[:position]):
            if self.decided[earlier] is None and keys.intersection(other.sketch.band_keys):
                similarity = score(fingerprint.shingles, other.shingles)
                if similarity >= self.threshold:
                    matches.append((earlier_id, None, similarity))
        if not matches:
            return None
        best_id, duplicate_of, best_score = min(matches, key=lambda m: m[0])
        return DuplicateMatch(self.root(best_id, duplicate_of), round(best_score, 4), exact=False)


def find_duplicates(
    conn: psycopg.Connection, batch: Sequence[tuple[int, Fingerprint]], threshold: float
) -> list[DuplicateMatch | None]:
    """For each (article id, fingerprint) of a batch, in order: the first-seen original it copies, or None.

    Articles are already stored (their ids are excluded from the lookups). The similarity is against the
    article that matched; when that one is itself a duplicate, ``original_id`` is its original. Only the
    candidates' texts are shingled here: the caller fingerprinted its own texts beforehand."""
    ids = [article_id for article_id, _ in batch]
    found, texts = dedup_index.candidates_for_batch(conn, [fp.sketch.band_keys for _, fp in batch], ids)
    stored: list[list[dedup_index.BatchCandidate]] = [[] for _ in batch]
    for candidate in found:
        stored[candidate.position].append(candidate)
    exact = dedup_index.first_with_hashes(conn, [fp.content_hash for _, fp in batch], ids)
    state = _Batch(conn, batch, exact, stored, texts, threshold)
    for position, (article_id, _) in enumerate(batch):
        match = state.exact_match(position) or state.near_match(position)
        state.decided.append(None if match is not None and match.original_id == article_id else match)
    return state.decided


def find_duplicate(
    conn: psycopg.Connection, text: Fingerprint, threshold: float, *, exclude_id: int | None = None
) -> DuplicateMatch | None:
    """The first-seen original of one stored text (``exclude_id``: the article itself), or None."""
    return find_duplicates(conn, [(exclude_id if exclude_id is not None else 0, text)], threshold)[0]
