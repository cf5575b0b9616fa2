"""The enrich step: language, duplicates and topics for a batch of articles, then publication.

The three stages are plain modules (workers/stages: language, dedup, topics). Their CPU work runs before any
transaction; then one transaction writes every result and hands out the batch's cursors (workers/steps/
publish.py), so a reader never sees an article whose enrichment is half done. ``enrich_step`` takes extracted
items (a separate enrich worker); ``publish_extraction`` takes a batch straight from extraction (a worker
doing both: drafts, enrichment and publication then share one transaction, and the text is fingerprinted once).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import psycopg

from shared.db import articles, items, topics
from shared.db.items import Failure, ItemState
from shared.errors import Outcome
from shared.settings import Settings
from shared.topic_rules import Topic
from workers.steps.extract import Extraction, write_drafts
from workers.steps.handoff import Handoff, exhausted
from workers.steps.publish import Published, ToPublish, enrich_text, publish_batch


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


def _count(handoff: Handoff, published: Published, offered: int) -> None:
    """Of the ``offered`` articles: copies, originals, and those another delivery had published already."""
    duplicates = sum(published.duplicates)  # one flag per article this batch published
    handoff.count("skipped", offered - len(published.duplicates))
    handoff.count("duplicate", duplicates)
    handoff.count("published", len(published.duplicates) - duplicates)


def publish_extraction(conn: psycopg.Connection, x: Extraction, s: Settings, now: datetime) -> Handoff:
    """Enrich a freshly extracted batch and publish it, drafts included, in one transaction."""
    rules = TOPICS.current(conn)
    topic_rules = [t for _, t in rules]
    enriched = [
        enrich_text(e.draft.title, e.draft.text, page_language=e.draft.page_language,
                    entry_language=e.item.entry_language, rules=topic_rules, s=s, fingerprint=e.fingerprint)
        for e in x.done
    ]  # fmt: skip
    by_item = {e.item.id: en for e, en in zip(x.done, enriched, strict=True)}

    def write() -> list[ToPublish]:
        kept, article_ids = write_drafts(conn, x, ItemState.PUBLISHED, now + timedelta(seconds=s.stuck_after))
        return [ToPublish(article_ids[e.item.id], e.item.id, by_item[e.item.id]) for e in kept]

    published = publish_batch(conn, write, {t.slug: topic_id for topic_id, t in rules}, s)
    published.observe_lock()
    _count(x.handoff, published, offered=len(x.done))
    return x.handoff


def enrich_step(conn: psycopg.Connection, item_ids: list[int], s: Settings, now: datetime) -> Handoff:
    """Enrich extracted items' articles and publish them; the items move to ``published``."""
    sweep_at = now + timedelta(seconds=s.stuck_after)
    handoff = Handoff()
    claimed = items.claim_many(conn, item_ids, ItemState.EXTRACTED, sweep_at)
    handoff.count("skipped", len(set(item_ids)) - len(claimed))
    stored = articles.get_articles_by_items(conn, [item.id for item in claimed])
    failures, todo = [], []
    for item in claimed:
        if failure := exhausted(item, s, Outcome.ENRICH_FAILED):
            failures.append(failure)
        elif item.id not in stored:
            failures.append(Failure(item.id, Outcome.EMPTY.value, "article row missing at enrichment"))
        else:
            todo.append((item, stored[item.id]))
    rules = TOPICS.current(conn)
    topic_rules = [t for _, t in rules]
    enriched = [
        enrich_text(a.title, a.text, page_language=a.page_language, entry_language=item.entry_language,
                    rules=topic_rules, s=s)
        for item, a in todo
    ]  # fmt: skip

    def write() -> list[ToPublish]:
        items.fail_many(conn, failures)
        moved = set(items.advance_many(conn, [item.id for item, _ in todo], ItemState.EXTRACTED,
                                       ItemState.PUBLISHED, sweep_at))  # fmt: skip
        return [ToPublish(a.id, item.id, en) for (item, a), en in zip(todo, enriched, strict=True) if item.id in moved]

    published = publish_batch(conn, write, {t.slug: topic_id for topic_id, t in rules}, s)
    published.observe_lock()
    for failure in failures:
        handoff.count(failure.outcome, 1)
    _count(handoff, published, offered=len(todo))
    return handoff
