"""Publication: one transaction makes a batch of enriched articles visible to readers, with a cursor range.

Two things are serialised deployment-wide, once per batch rather than once per article: the duplicate
decision (an advisory lock, so two copies of one story published at the same moment cannot both become
originals) and the cursor counter (its row lock, taken last and held only until commit, is what makes cursor
order equal commit order for downstream readers: docs/downstream.md). The enrichment stages' CPU work happens
before the transaction; inside it, the batch's duplicate decision costs two statements, and every write is
one statement for the whole batch.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import psycopg

from shared.db import article_topics, articles, dedup_index
from shared.metrics import PUBLISH_LOCK_SECONDS
from shared.settings import Settings
from shared.topic_rules import Topic
from workers.stages.dedup import Fingerprint, fingerprint_text
from workers.stages.language import LanguageResult, detect_language
from workers.stages.topics import TopicMatch, tag_article
from workers.steps.duplicates import find_duplicates

# Serialises the duplicate decision: two copies of one story published at the same moment would otherwise
# each miss the other (neither committed yet) and both become originals.
DEDUP_LOCK_KEY = 0x6E65_7773_6D69_6C6C  # "newsmill"


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
    lock_wait: float  # seconds spent waiting for the duplicate lock
    locked_at: float  # time.perf_counter() when it was granted: held from then until commit

    def observe_lock(self) -> None:
        """Record the lock's wait and hold; call it once the transaction has committed."""
        PUBLISH_LOCK_SECONDS.labels("wait").observe(self.lock_wait)
        PUBLISH_LOCK_SECONDS.labels("hold").observe(time.perf_counter() - self.locked_at)


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


def publish(
    conn: psycopg.Connection, batch: Sequence[ToPublish], topic_ids: Mapping[str, int], s: Settings
) -> Published:
    """Write the batch's duplicate links, index entries, tags and enrichment, then give it a cursor range.

    Call it inside the caller's transaction, after the items moved to ``published``."""
    if not batch:
        return Published([], 0.0, time.perf_counter())
    ids = [entry.article_id for entry in batch]
    tags = [
        article_topics.NewTag(entry.article_id, topic_ids[m.slug], m.score, m.matched_terms_json())
        for entry in batch
        for m in entry.enriched.tags
        if m.slug in topic_ids
    ]
    article_topics.replace_tags(conn, ids, tags)
    asked = time.perf_counter()
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (DEDUP_LOCK_KEY,))
    locked = time.perf_counter()
    matches = find_duplicates(conn, [(e.article_id, e.enriched.fingerprint) for e in batch], s.dedup_threshold)
    # Only originals are indexed (shared/db/dedup_index.py); a re-extracted article that became a copy leaves.
    dedup_index.index_articles(conn, {
        e.article_id: e.enriched.fingerprint.sketch.band_keys for e, m in zip(batch, matches, strict=True) if m is None
    })  # fmt: skip
    dedup_index.unindex_articles(conn, [e.article_id for e, m in zip(batch, matches, strict=True) if m is not None])
    articles.save_enrichments(conn, {
        e.article_id: articles.Enrichment(
            language=e.enriched.language.language, language_probability=e.enriched.language.probability,
            language_source=e.enriched.language.source, duplicate_of=m.original_id if m else None,
            similarity=m.similarity if m else None,
        )
        for e, m in zip(batch, matches, strict=True)
    })  # fmt: skip
    articles.bump_cursor(conn, ids)  # last: holds the counter lock until commit
    return Published([m is not None for m in matches], locked - asked, locked)
