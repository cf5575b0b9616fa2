"""The duplicate decision: the same normalised text, else an indexed member of a story confirmed by similarity.

The SQL is shared/db/dedup_index.py's; the text measures are workers/stages/dedup.py's; this module puts them
in order and resolves a match to the original it copies. A batch is decided in publication order, each text
against the stored index and against the batch's earlier texts, with a few statements for the whole batch.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg

from shared.db import dedup_index
from workers.stages.dedup import DuplicateMatch, Fingerprint, Shingles, indexes_as_member, score, shingle_text


@dataclass
class _Batch:
    """A batch being decided: its texts, what the index holds for them, and the decisions made so far."""

    conn: psycopg.Connection
    texts: Sequence[tuple[int, Fingerprint]]
    exact: dict[str, tuple[int, int | None]]  # content hash -> first stored (id, duplicate_of)
    stored: list[list[dedup_index.BatchCandidate]]  # per position
    shingles: dict[int, Shingles]  # stored candidates' shingles, by article id
    threshold: float
    decided: list[DuplicateMatch | None] = field(default_factory=list)

    def indexed(self, position: int) -> bool:
        """Whether the batch's text at ``position`` joins the index: an original, or a copy indexed as a member
        of its story (workers/stages/dedup.py, ``indexes_as_member``)."""
        match = self.decided[position]
        return match is None or indexes_as_member(match, self.texts[position][1].shingles)

    def exact_match(self, position: int) -> DuplicateMatch | None:
        """The stored article with the same text first; else the batch's first earlier text that has it."""
        content_hash = self.texts[position][1].content_hash
        if (stored := self.exact.get(content_hash)) is not None:
            return DuplicateMatch(_root(self.conn, *stored), 1.0, exact=True)
        for earlier, (earlier_id, fingerprint) in enumerate(self.texts[:position]):
            if fingerprint.content_hash == content_hash:
                previous = self.decided[earlier]
                return DuplicateMatch(previous.original_id if previous else earlier_id, 1.0, exact=True)
        return None

    def near_match(self, position: int) -> DuplicateMatch | None:
        """The earliest confirmed candidate: indexed members of stories sharing band keys, and the batch's
        earlier indexed texts sharing one (they are indexed in the same transaction, after this decision)."""
        fingerprint = self.texts[position][1]
        if not fingerprint.sketch.band_keys:
            return None
        matches: list[tuple[int, int | None, float, int]] = []  # (id, duplicate_of, score, its tokens)
        for candidate in self.stored[position]:
            shingles = self.shingles[candidate.id]
            similarity = score(fingerprint.shingles, shingles)
            if similarity >= self.threshold:
                matches.append((candidate.id, candidate.duplicate_of, similarity, shingles.token_count))
        keys = set(fingerprint.sketch.band_keys)
        for earlier, (earlier_id, other) in enumerate(self.texts[:position]):
            if self.indexed(earlier) and keys.intersection(other.sketch.band_keys):
                similarity = score(fingerprint.shingles, other.shingles)
                if similarity >= self.threshold:
                    previous = self.decided[earlier]
                    original = previous.original_id if previous is not None else None
                    matches.append((earlier_id, original, similarity, other.shingles.token_count))
        return story_match(self.conn, matches)


def _root(conn: psycopg.Connection, article_id: int, duplicate_of: int | None) -> int:
    """The original of a story an article belongs to: itself, unless it is a copy (then the end of the chain
    from what it copies). The chain starts at ``duplicate_of``, not at the article's stored row: a text of
    the batch being decided has no stored link yet, only the one this decision gave it."""
    return dedup_index.root_of(conn, duplicate_of) if duplicate_of is not None else article_id


def story_match(
    conn: psycopg.Connection, matches: Sequence[tuple[int, int | None, float, int]]
) -> DuplicateMatch | None:
    """The story the confirmed candidates (id, duplicate_of, similarity, tokens) belong to: its first-seen
    original, the similarity to the earliest candidate, and what ``indexes_as_member`` needs to know."""
    if not matches:
        return None
    best_id, duplicate_of, best_score, _ = min(matches, key=lambda m: m[0])
    root = _root(conn, best_id, duplicate_of)
    longest, closest = max(m[3] for m in matches), max(m[2] for m in matches)
    return DuplicateMatch(root, round(best_score, 4), False, longest, closest, members=len(matches))


class RecentShingles:
    """Shingles of originals this process published or scored lately, by (article id, content hash): a copy
    of a story finds its original's here instead of shingling the stored text again (the hash makes a
    re-extracted text a miss)."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[int, str], Shingles] = OrderedDict()

    def get(self, article_id: int, content_hash: str) -> Shingles | None:
        with self._lock:
            found = self._entries.get((article_id, content_hash))
            if found is not None:
                self._entries.move_to_end((article_id, content_hash))
            return found

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def put(self, article_id: int, content_hash: str, shingles: Shingles) -> None:
        with self._lock:
            self._entries[(article_id, content_hash)] = shingles
            self._entries.move_to_end((article_id, content_hash))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


RECENT = RecentShingles()


class DuplicateFinder:
    """The duplicate decision for a batch of stored articles (article id, fingerprint), in publication order.

    ``decide`` runs before the publication lock, against what is published now: it holds the costly part
    (looking candidates up, shingling and scoring them). ``recheck``, under the lock, looks only at what was
    published since the decision (a handful of rows), so the lock is held for one statement, not for the
    scoring, and two copies published at the same moment still cannot both become originals."""

    def __init__(self, conn: psycopg.Connection, batch: Sequence[tuple[int, Fingerprint]], threshold: float) -> None:
        self.conn, self.batch, self.threshold = conn, batch, threshold
        self.ids = [article_id for article_id, _ in batch]
        self.shingles: dict[int, Shingles] = {}

    def _shingle(self, hashes: dict[int, str]) -> None:
        """Shingles of these articles (id -> content hash) not known yet: from this process's recent ones, else
        their text."""
        missing = set()
        for article_id, content_hash in hashes.items():
            if article_id not in self.shingles:
                cached = RECENT.get(article_id, content_hash)
                if cached is None:
                    missing.add(article_id)
                else:
                    self.shingles[article_id] = cached
        for article_id, text in dedup_index.texts_of(self.conn, missing).items():
            self.shingles[article_id] = shingle_text(text)
            RECENT.put(article_id, hashes[article_id], self.shingles[article_id])

    def _stored(self, rows: Sequence[dedup_index.BatchCandidate | dedup_index.Recent]) -> None:
        """Take the stored shingles the rows carry (a candidate appears once per batch text it matches: decoded
        once); the text is shingled only for an article indexed without them."""
        for r in rows:
            if r.id in self.shingles or r.shingle_hashes is None:
                continue
            if r.shingle_mode is not None and r.shingle_tokens is not None:
                self.shingles[r.id] = Shingles.from_bytes(r.shingle_mode, r.shingle_tokens, r.shingle_hashes)

    def decide(self) -> list[DuplicateMatch | None]:
        """For each text: the first-seen original it copies, or None. The similarity is against the article
        that matched; when that one is itself a duplicate, ``original_id`` is its original."""
        found = dedup_index.candidates_for_batch(self.conn, [fp.sketch.band_keys for _, fp in self.batch], self.ids)
        self._stored(found)
        self._shingle({c.id: c.content_hash for c in found})
        stored: list[list[dedup_index.BatchCandidate]] = [[] for _ in self.batch]
        for candidate in found:
            stored[candidate.position].append(candidate)
        exact = dedup_index.first_with_hashes(self.conn, [fp.content_hash for _, fp in self.batch], self.ids)
        state = _Batch(self.conn, self.batch, exact, stored, self.shingles, self.threshold)
        for position, article_id in enumerate(self.ids):
            match = state.exact_match(position) or state.near_match(position)
            state.decided.append(None if match is not None and match.original_id == article_id else match)
        for position, (article_id, fingerprint) in enumerate(self.batch):
            if state.indexed(position):  # a new member of the index: copies coming next are scored against it
                RECENT.put(article_id, fingerprint.content_hash, fingerprint.shingles)
        return state.decided

    def originals(self, decided: Sequence[DuplicateMatch | None]) -> tuple[list[str], list[int]]:
        """Content hashes and band keys of the texts ``decided`` as originals: only their decisions can change
        with what is published meanwhile (a copy stays a copy of its story)."""
        fingerprints = [fp for (_, fp), match in zip(self.batch, decided, strict=True) if match is None]
        return [fp.content_hash for fp in fingerprints], sorted({k for fp in fingerprints for k in fp.sketch.band_keys})

    def recheck(self, cursor: int, decided: Sequence[DuplicateMatch | None]) -> list[DuplicateMatch | None]:
        """``decided``, corrected for what was published after ``cursor`` (call it holding the publication
        lock, with ``cursor`` read before ``decide``): an original of this batch that copies one of those
        becomes its duplicate, and so do the batch texts that copied it."""
        hashes, keys = self.originals(decided)
        if not hashes:
            return list(decided)
        recent = dedup_index.published_since(self.conn, cursor, hashes, keys, self.ids)
        if not recent:
            return list(decided)
        scored = [r for r in recent if r.shared_keys]  # an exact copy needs no shingles
        self._stored(scored)
        self._shingle({r.id: r.content_hash for r in scored})
        rechecked = list(decided)
        for position, (_, fingerprint) in enumerate(self.batch):
            if decided[position] is None:
                rechecked[position] = self._against(fingerprint, recent)
        where = {article_id: position for position, article_id in enumerate(self.ids)}
        for position, match in enumerate(rechecked):
            copied = where.get(match.original_id) if match is not None else None
            if match is not None and copied is not None and (became := rechecked[copied]) is not None:
                rechecked[position] = DuplicateMatch(became.original_id, match.similarity, match.exact)
        return rechecked

    def _against(self, fingerprint: Fingerprint, recent: Sequence[dedup_index.Recent]) -> DuplicateMatch | None:
        exact = [r for r in recent if r.content_hash == fingerprint.content_hash]
        if exact:
            first = exact[0]  # recent comes in id order
            return DuplicateMatch(_root(self.conn, first.id, first.duplicate_of), 1.0, exact=True)
        keys = set(fingerprint.sketch.band_keys)
        matches = []
        for r in recent:
            if keys.intersection(r.shared_keys):
                shingles = self.shingles[r.id]
                similarity = score(fingerprint.shingles, shingles)
                if similarity >= self.threshold:
                    matches.append((r.id, r.duplicate_of, similarity, shingles.token_count))
        return story_match(self.conn, matches)


def find_duplicates(
    conn: psycopg.Connection, batch: Sequence[tuple[int, Fingerprint]], threshold: float
) -> list[DuplicateMatch | None]:
    """``DuplicateFinder(...).decide()``: for each (stored article id, fingerprint), its original or None."""
    return DuplicateFinder(conn, batch, threshold).decide()


def find_duplicate(
    conn: psycopg.Connection, text: Fingerprint, threshold: float, *, exclude_id: int | None = None
) -> DuplicateMatch | None:
    """The first-seen original of one stored text (``exclude_id``: the article itself), or None."""
    return find_duplicates(conn, [(exclude_id if exclude_id is not None else 0, text)], threshold)[0]
