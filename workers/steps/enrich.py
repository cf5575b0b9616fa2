"""The enrich step: language, duplicates and topics for one extracted article, then publication.

The three stages are plain modules (workers/stages: language, dedup, topics); this step only loads the
article, runs them, and writes their results and the publication cursor in one transaction, so a reader
never sees an article whose enrichment is half done.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import psycopg

from shared.db import article_topics, articles, dedup_index, items, topics
from shared.db.items import ItemState
from shared.errors import Outcome
from shared.metrics import PUBLISH_LOCK_SECONDS
from shared.settings import Settings
from shared.topic_rules import Topic
from workers.stages.dedup import fingerprint_text, indexes_as_member
from workers.stages.language import detect_language
from workers.stages.topics import tag_article
from workers.steps.duplicates import find_duplicate
from workers.steps.handoff import Next, give_up

# Serialises the duplicate decision: two copies of one story enriched at the same moment would otherwise
# each miss the other (neither committed yet) and both become originals. Publication already serialises
# on the publish_counter row at commit, so this costs little extra.
DEDUP_LOCK_KEY = 0x6E65_7773_6D69_6C6C  # "newsmill"


class TopicCache:
    """The compiled topic rules, reloaded only when an editor changed them (a cheap fingerprint query)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fingerprint: str | None = None
        self._topics: list[tuple[int, Topic]] = []

    def current(self, conn: psycopg.Connection) -> list[tuple[int, Topic]]:
        fingerprint = topics.fingerprint(conn)
        with self._lock:
            if fingerprint != self._fingerprint:
                rows = topics.all_topics(conn)
                self._topics = [(r.id, Topic.from_stored(r.slug, r.name, r.description, r.rules)) for r in rows]
                self._fingerprint = fingerprint
            return self._topics


TOPICS = TopicCache()


def enrich_step(conn: psycopg.Connection, item_id: int, s: Settings, now: datetime) -> Next:
    """Enrich an extracted item's article and publish it; the item moves to ``published``."""
    sweep_at = now + timedelta(seconds=s.stuck_after)
    item = items.claim(conn, item_id, ItemState.EXTRACTED, sweep_at)
    if item is None:
        return Next(outcome="skipped")
    if give_up(conn, item, s, Outcome.ENRICH_FAILED):
        return Next(outcome=Outcome.ENRICH_FAILED.value)
    article = articles.get_article_by_item(conn, item.id)
    if article is None:
        items.fail(conn, item.id, Outcome.EMPTY.value, "article row missing at enrichment")
        return Next(outcome=Outcome.EMPTY.value)
    # The CPU work happens before the transaction, so locks are held only for the writes.
    language = detect_language(
        article.text, page_hint=article.page_language, feed_hint=item.entry_language,
        prefix_chars=s.language_prefix_chars, min_chars=s.language_min_chars,
    )  # fmt: skip
    fingerprint = fingerprint_text(article.text)
    rules = TOPICS.current(conn)
    ids_by_slug = {topic.slug: topic_id for topic_id, topic in rules}
    matches = tag_article([topic for _, topic in rules], article.title, article.text, language.language)
    tags = [article_topics.NewTag(article.id, ids_by_slug[m.slug], m.score, m.matched_terms_json()) for m in matches]
    asked = time.perf_counter()
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (DEDUP_LOCK_KEY,))
        locked = time.perf_counter()
        match = find_duplicate(conn, fingerprint, s.dedup_threshold, exclude_id=article.id)
        if match is None or indexes_as_member(match, fingerprint.shingles):
            dedup_index.index_article(conn, article.id, fingerprint.sketch.band_keys)
        else:  # originals and their clearly longer copies are indexed (see workers/stages/dedup.py)
            dedup_index.unindex_article(conn, article.id)
        article_topics.replace_tags(conn, [article.id], tags)
        articles.save_enrichment(conn, article.id, articles.Enrichment(
            language=language.language, language_probability=language.probability,
            language_source=language.source, duplicate_of=match.original_id if match else None,
            similarity=match.similarity if match else None,
        ))  # fmt: skip
        moved = items.advance(conn, item.id, ItemState.EXTRACTED, ItemState.PUBLISHED, sweep_at)
        if not moved:  # another delivery published it meanwhile: undo ours, keep theirs
            raise psycopg.Rollback
        articles.bump_cursor(conn, [article.id])  # last: holds the counter lock until commit
    PUBLISH_LOCK_SECONDS.labels("wait").observe(locked - asked)
    PUBLISH_LOCK_SECONDS.labels("hold").observe(time.perf_counter() - locked)  # until commit (or rollback)
    if not moved:
        return Next(outcome="skipped")
    return Next(outcome="duplicate" if match else "published")
