"""Publication: a batch of enriched articles made visible to readers with a cursor range, in two steps.

One thing is serialised deployment-wide: the cursor counter. Its row lock, held to commit by the transaction
that hands out cursors and makes the rows visible, is what makes cursor order equal commit order for
downstream readers (docs/downstream.md). It also orders the duplicate decisions: a batch decides against
what is published, and whatever was published after that decision is checked under the lock, so two copies
of one story decided at the same moment cannot both become originals.

Step one, ``queue``, runs in the publisher's transaction with no lock: the items' moves, the batch's tags and
index entries, its duplicate decisions, and a row in ``publish_queue`` with what is left to write (language,
duplicate link, per article). Publishers commit it in parallel. Step two, the sequencer
(shared/db/publish_queue.py, migration 0019), takes the lock once for every batch queued so far: the first
publisher to get it publishes the others' batches too, and a publisher that finds its batch already
published holds it for a read and a commit without a WAL flush. With one lock per batch, more publishers
than cores made a convoy: a descheduled lock holder kept every other publisher waiting; queued batches keep
committing meanwhile and are published together by the next holder.

A batch whose decision the sequencer's check invalidates is sent back (its items return to ``extracted``)
and queued again, deciding against what is now published; should that happen twice, the careful way: one
transaction that takes the lock and rescores what was published meanwhile. A publisher that dies between
its commit and the sequencer leaves its batch queued for the next publisher or the sweeper.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.pq import TransactionStatus

from shared.db import article_topics, articles, dedup_index, items, publish_queue
from shared.db.connection import begun_and_committed, one_round_trip
from shared.db.items import ItemState
from shared.metrics import PUBLISH_LOCK_SECONDS, PUBLISH_RETRIES
from shared.settings import Settings
from shared.topic_rules import Topic
from workers.stages.dedup import DuplicateMatch, Fingerprint, fingerprint_text, indexes_as_member
from workers.stages.language import LanguageResult, detect_language
from workers.stages.topics import TopicMatch, tag_article
from workers.steps.duplicates import DuplicateFinder

# Queued tries before the careful way. A batch sent back has seen the article that conflicted published, so
# its next decision takes it into account and is rarely sent back again; the careful way holds the lock
# through client round trips (the recheck, re-indexing), during which no one else can publish.
QUEUED_ATTEMPTS = 2


@dataclass(frozen=True)
class Enriched:
    """What the enrichment stages decided for one article, before any transaction."""

    language: LanguageResult
    fingerprint: Fingerprint
    tags: list[TopicMatch]


@dataclass(frozen=True)
class ToPublish:
    article_id: int
    item_id: int
    enriched: Enriched


@dataclass(frozen=True)
class Published:
    duplicates: list[bool]  # per article this call published
    waited: float  # seconds waiting for the publication lock, over the batch's sequencer calls
    held: float  # seconds holding it, to the end of the work under it (its commit follows)
    retried: bool = False  # the sequencer sent (part of) the batch back at least once

    def observe_lock(self) -> None:
        """Record the lock's wait and hold."""
        PUBLISH_LOCK_SECONDS.labels("wait").observe(self.waited)
        PUBLISH_LOCK_SECONDS.labels("hold").observe(self.held)


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
    """``write`` (item moves, drafts: database writes only) returns the batch, which is then published.

    On an idle autocommit connection, as the workers' pooled ones are, in two steps (the module docstring):
    one transaction writes, decides and queues the batch; the sequencer then publishes it, with whatever
    else is queued. What the sequencer sends back (a copy of something published after the decision) is
    queued again, deciding against what is now published, up to ``QUEUED_ATTEMPTS`` times in all, then
    published the careful way. Inside a caller's transaction: the careful way, in that transaction."""
    if not (conn.autocommit and conn.info.transaction_status == TransactionStatus.IDLE):
        return publish(conn, write(), topic_ids, s)
    duplicates: dict[int, bool] = {}
    waited = held = 0.0
    for attempt in range(QUEUED_ATTEMPTS):
        sweep_at = datetime.now(UTC) + timedelta(seconds=s.stuck_after)
        batch, flags, sequenced = _queue_and_sequence(conn, write, topic_ids, s, sweep_at)
        if sequenced is None:  # nothing (left) to publish: another delivery moved the items
            return Published(list(duplicates.values()), waited, held, retried=attempt > 0)
        waited, held = waited + sequenced.waited, held + sequenced.held
        sent_back = set(sequenced.mine_sent_back)
        kept = ((e.article_id, flag) for e, flag in zip(batch, flags, strict=True) if e.item_id not in sent_back)
        duplicates.update(kept)
        if not sent_back:
            return Published(list(duplicates.values()), waited, held, retried=attempt > 0)
        PUBLISH_RETRIES.inc()
        write = functools.partial(_publish_again, conn, [e for e in batch if e.item_id in sent_back], sweep_at)
    with conn.transaction():
        careful = publish(conn, write(), topic_ids, s)
    return Published([*duplicates.values(), *careful.duplicates], waited + careful.waited, held + careful.held, True)


def _queue_and_sequence(
    conn: psycopg.Connection,
    write: Callable[[], Sequence[ToPublish]],
    topic_ids: Mapping[str, int],
    s: Settings,
    sweep_at: datetime,
) -> tuple[Sequence[ToPublish], list[bool], publish_queue.Sequenced | None]:
    """Step one's transaction, then the sequencer (None for an empty batch), sent together: what nobody waits
    for (tag and index writes, the queue row, COMMIT, the sequencer's statement after it) reaches the server in
    one round trip, and the sequencer still runs in a transaction of its own after the commit."""
    with one_round_trip(conn):
        with begun_and_committed(conn):
            batch = write()
            flags = queue(conn, batch, topic_ids, s)
        sequenced = publish_queue.sequence(conn, sweep_at, [e.item_id for e in batch]) if batch else None
    return batch, flags, sequenced


def _publish_again(conn: psycopg.Connection, sent_back: Sequence[ToPublish], sweep_at: datetime) -> list[ToPublish]:
    """The ``write`` of a batch the sequencer sent back: its items move to ``published`` again (those another
    delivery has not taken meanwhile); language, fingerprint and tags stand, only duplicates are decided anew."""
    moved = set(items.advance_many(conn, [e.item_id for e in sent_back], ItemState.EXTRACTED,
                                   ItemState.PUBLISHED, sweep_at))  # fmt: skip
    return [e for e in sent_back if e.item_id in moved]


def queue(
    conn: psycopg.Connection, batch: Sequence[ToPublish], topic_ids: Mapping[str, int], s: Settings
) -> list[bool]:
    """Inside the caller's transaction, no lock: write the batch's tags and index entries, decide its
    duplicates against what is published, and queue it for the sequencer. Returns which are copies."""
    if not batch:
        return []
    seen, finder, matches = _tag_decide_and_index(conn, batch, topic_ids, s)
    hashes, keys = finder.originals(matches)
    publish_queue.queue_batch(conn, seen, {e.article_id: e.item_id for e in batch}, _enrichments(batch, matches),
                              originals=(hashes, keys))  # fmt: skip
    return [m is not None for m in matches]


def publish(
    conn: psycopg.Connection, batch: Sequence[ToPublish], topic_ids: Mapping[str, int], s: Settings
) -> Published:
    """The careful way, inside the caller's transaction, after the items moved to ``published``: write the
    batch's tags and index entries, decide its duplicates, then take the publication lock (held to commit),
    score what was published meanwhile (rarely anything; an article whose decision that changes is indexed
    again) and give each article its enrichment and cursor in one row update."""
    if not batch:
        return Published([], 0.0, 0.0)
    seen, finder, matches = _tag_decide_and_index(conn, batch, topic_ids, s)
    asked = time.perf_counter()
    articles.lock_publication(conn)
    locked = time.perf_counter()
    rechecked = finder.recheck(seen, matches)
    changed = [i for i, (before, after) in enumerate(zip(matches, rechecked, strict=True)) if before != after]
    if changed:  # a copy of something published meanwhile (a story arriving twice at once)
        _index(conn, [batch[i] for i in changed], [rechecked[i] for i in changed])
    articles.publish_enriched(conn, _enrichments(batch, rechecked))  # last: the counter row stays locked to commit
    return Published([m is not None for m in rechecked], locked - asked, time.perf_counter() - locked)


def _tag_decide_and_index(
    conn: psycopg.Connection, batch: Sequence[ToPublish], topic_ids: Mapping[str, int], s: Settings
) -> tuple[int, DuplicateFinder, list[DuplicateMatch | None]]:
    """What both ways of publishing do first, without the lock: the batch's tags, its duplicate decisions
    against what is published (and the cursor ``seen`` they were made at: whatever is published later has a
    higher one), and its index entries. Returns the cursor, the finder (for its recheck) and the decisions."""
    tags = [
        article_topics.NewTag(entry.article_id, topic_ids[m.slug], m.score, m.matched_terms_json())
        for entry in batch
        for m in entry.enriched.tags
        if m.slug in topic_ids
    ]
    article_topics.replace_tags(conn, [entry.article_id for entry in batch], tags)
    seen = articles.published_up_to(conn)
    finder = DuplicateFinder(conn, [(e.article_id, e.enriched.fingerprint) for e in batch], s.dedup_threshold)
    matches = finder.decide()
    _index(conn, batch, matches)
    return seen, finder, matches


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
