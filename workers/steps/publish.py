"""Publication: one transaction makes a batch of enriched articles visible to readers, with a cursor range.

One thing is serialised deployment-wide, once per batch: the cursor counter. Its row lock, held to commit, is
what makes cursor order equal commit order for downstream readers (docs/downstream.md), and it also orders
the duplicate decisions: a batch decides against what is published before taking it, then, holding it,
makes sure nothing published in between changes a decision (workers/steps/duplicates.py), so two copies of
one story published at the same moment cannot both become originals. The enrichment stages' CPU work happens
before the transaction, and every write is one statement for the whole batch; all of them come before the
lock except the last, which stamps each article's language, duplicate link and cursor in one row update
(and, on the careful path below, the index entries of the rare article whose decision changed under it).

``publish_batch`` first publishes optimistically: the lock, a check that nothing relevant was published
meanwhile, the cursor bump and COMMIT go to the server in one pipeline, so the lock is held for the server's
own work only. A client process descheduled while holding it (more publishers than cores) made every other
publisher wait for it: a lock convoy. When the check finds something (two copies of a story published at the
same moment), the transaction is rolled back and run again optimistically, deciding against what is now
published; should that fail too, the careful way: lock, then rescore what was published meanwhile.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import errors
from psycopg.pq import TransactionStatus

from shared.db import article_topics, articles, dedup_index
from shared.metrics import PUBLISH_LOCK_SECONDS, PUBLISH_RETRIES
from shared.settings import Settings
from shared.topic_rules import Topic
from workers.stages.dedup import DuplicateMatch, Fingerprint, fingerprint_text, indexes_as_member
from workers.stages.language import LanguageResult, detect_language
from workers.stages.topics import TopicMatch, tag_article
from workers.steps.duplicates import DuplicateFinder

# Optimistic tries before the careful path. A failed try has made the article that conflicted visible, so the
# next decision takes it into account and its check rarely fails again; the careful path holds the lock
# through client round trips (the recheck, re-indexing), during which no one else can publish.
OPTIMISTIC_ATTEMPTS = 2


@dataclass(frozen=True)
class Enriched:
    """What the enrichment stages decided for one article, before any transaction."""

    language: LanguageResult
    fingerprint: Fingerprint
    tags: list[TopicMatch]


@dataclass(frozen=True)
class ToPublish:
    article_id: int
    enriched: Enriched


@dataclass(frozen=True)
class Published:
    duplicates: list[bool]  # per article of the batch
    asked_at: float  # time.perf_counter() when the lock was asked for (optimistic path: when BEGIN was sent)
    waited: float  # seconds waiting for it (the careful path)
    check: psycopg.Cursor[tuple[float, float]] | None = None  # the optimistic lock statement, answered at commit
    retried: bool = False  # the optimistic attempt was rolled back: published by the careful path

    @functools.cached_property
    def lock_times(self) -> tuple[float, float]:
        """Seconds waiting for the lock and holding it (to commit); read it once the transaction committed.
        On the optimistic path the server says how long after BEGIN it granted the lock: the hold is the rest
        of the transaction as this process saw it (durations only, so the two clocks need not agree)."""
        if self.check is not None and (row := self.check.fetchone()) is not None:
            waited, since_begin = float(row[0]), float(row[1])
            return waited, max(0.0, time.perf_counter() - self.asked_at - since_begin)
        return self.waited, max(0.0, time.perf_counter() - self.asked_at - self.waited)

    def observe_lock(self) -> None:
        """Record the lock's wait and hold; call it once the transaction has committed."""
        waited, held = self.lock_times
        PUBLISH_LOCK_SECONDS.labels("wait").observe(waited)
        PUBLISH_LOCK_SECONDS.labels("hold").observe(held)


def enrich_text(
    title: str | None,
    text: str,
    *,
    page_language: str | None,
    entry_language: str | None,
    rules: Sequence[Topic],
    s: Settings,
    fingerprint: Fingerprint | None = None,
) -> Enriched:
    """Language, fingerprint (unless extraction already took it) and topic tags of one article: CPU only."""
    language = detect_language(
        text, page_hint=page_language, feed_hint=entry_language,
        prefix_chars=s.language_prefix_chars, min_chars=s.language_min_chars,
    )  # fmt: skip
    tags = tag_article(rules, title, text, language.language)
    return Enriched(language, fingerprint or fingerprint_text(text), tags)


def publish_batch(
    conn: psycopg.Connection,
    write: Callable[[], Sequence[ToPublish]],
    topic_ids: Mapping[str, int],
    s: Settings,
) -> Published:
    """One transaction: ``write`` (item moves, drafts: database writes only, it may run again) returns the
    batch, which is then published. Optimistic first (the module docstring) when ``conn`` is an idle
    autocommit connection, as the workers' pooled ones are; when an article published meanwhile may change a
    duplicate decision, rolled back and run again: optimistically up to ``OPTIMISTIC_ATTEMPTS`` tries, then
    the careful way. Inside a caller's transaction: careful."""
    optimistic = conn.autocommit and conn.info.transaction_status == TransactionStatus.IDLE
    for attempt in range(OPTIMISTIC_ATTEMPTS if optimistic else 0):
        try:
            return dataclasses.replace(_publish_optimistically(conn, write, topic_ids, s), retried=attempt > 0)
        except errors.SerializationFailure:
            PUBLISH_RETRIES.inc()
    with conn.transaction():
        published = publish(conn, write(), topic_ids, s)
    return dataclasses.replace(published, retried=optimistic)


def _publish_optimistically(
    conn: psycopg.Connection, write: Callable[[], Sequence[ToPublish]], topic_ids: Mapping[str, int], s: Settings
) -> Published:
    # BEGIN and COMMIT by hand in one pipeline: psycopg's transaction() inside a pipeline nests a pipeline of
    # its own and syncs it before sending COMMIT, which would put a round trip back under the lock.
    began = time.perf_counter()
    try:
        with conn.pipeline():
            conn.execute("BEGIN")
            published = publish(conn, write(), topic_ids, s, began=began)
            conn.execute("COMMIT")
    except BaseException:
        # After a failed pipeline the session stays in the aborted transaction. A broken connection cannot
        # roll back: the original error is the one to report, and the pool discards or resets the connection.
        with contextlib.suppress(psycopg.Error):
            conn.rollback()
        raise
    return published


def publish(
    conn: psycopg.Connection,
    batch: Sequence[ToPublish],
    topic_ids: Mapping[str, int],
    s: Settings,
    *,
    began: float | None = None,
) -> Published:
    """Write the batch's tags and index entries, then its duplicate links and enrichment with a cursor range.

    Call it inside the caller's transaction, after the items moved to ``published``. Tags and index entries
    are written before the publication lock is taken (on the careful path, an article whose decision the
    recheck changed is indexed again after it); the one statement after the lock gives each article its
    enrichment and cursor together (one rewrite of the row, not two), and the lock is held until commit.
    Careful (the default): under the lock, one statement reads what was published meanwhile (rarely
    anything) and those articles are scored. Optimistic when ``began`` is given (the perf_counter time BEGIN
    was sent, inside a pipeline: see ``publish_batch``): the lock statement fails the transaction if anything
    published meanwhile shares a text or band key with the batch's originals."""
    if not batch:
        return Published([], time.perf_counter(), 0.0)
    ids = [entry.article_id for entry in batch]
    tags = [
        article_topics.NewTag(entry.article_id, topic_ids[m.slug], m.score, m.matched_terms_json())
        for entry in batch
        for m in entry.enriched.tags
        if m.slug in topic_ids
    ]
    article_topics.replace_tags(conn, ids, tags)
    seen = articles.published_up_to(conn)  # before deciding: whatever commits later has a higher cursor
    finder = DuplicateFinder(conn, [(e.article_id, e.enriched.fingerprint) for e in batch], s.dedup_threshold)
    matches = finder.decide()
    _index(conn, batch, matches)
    if began is not None:
        hashes, keys = finder.originals(matches)
        check = articles.lock_unless_published_since(conn, seen, ids, hashes, keys)
        articles.publish_enriched(conn, _enrichments(batch, matches))
        return Published([m is not None for m in matches], began, 0.0, check)
    asked = time.perf_counter()
    articles.lock_publication(conn)
    locked = time.perf_counter()
    rechecked = finder.recheck(seen, matches)
    changed = [i for i, (before, after) in enumerate(zip(matches, rechecked, strict=True)) if before != after]
    if changed:  # a copy of something published meanwhile (a story arriving twice at once)
        _index(conn, [batch[i] for i in changed], [rechecked[i] for i in changed])
    articles.publish_enriched(conn, _enrichments(batch, rechecked))  # last: the counter row stays locked to commit
    return Published([m is not None for m in rechecked], asked, locked - asked)


def _enrichments(
    batch: Sequence[ToPublish], matches: Sequence[DuplicateMatch | None]
) -> dict[int, articles.Enrichment]:
    """What publication stores of each article besides its cursor: language and duplicate link."""
    return {
        e.article_id: articles.Enrichment(
            language=e.enriched.language.language, language_probability=e.enriched.language.probability,
            language_source=e.enriched.language.source, duplicate_of=m.original_id if m else None,
            similarity=m.similarity if m else None,
        )
        for e, m in zip(batch, matches, strict=True)
    }  # fmt: skip


def _index(conn: psycopg.Connection, batch: Sequence[ToPublish], matches: Sequence[DuplicateMatch | None]) -> None:
    """Index the originals and the copies that join their story's members, with their shingles
    (shared/db/dedup_index.py, workers/stages/dedup.py), and drop the other copies from the index (a
    re-extracted article may have become one)."""
    pairs = list(zip(batch, matches, strict=True))
    indexed = {e.article_id for e, m in pairs if m is None or indexes_as_member(m, e.enriched.fingerprint.shingles)}
    dedup_index.index_articles(
        conn, {e.article_id: e.enriched.fingerprint.sketch.band_keys for e, _ in pairs if e.article_id in indexed}
    )
    dedup_index.store_shingles(conn, [
        dedup_index.ShingleRow(e.article_id, e.enriched.fingerprint.content_hash, shingles.mode,
                               shingles.token_count, shingles.to_bytes())
        for e, _ in pairs if e.article_id in indexed for shingles in [e.enriched.fingerprint.shingles]
    ])  # fmt: skip
    dedup_index.unindex_articles(conn, [e.article_id for e, _ in pairs if e.article_id not in indexed])
