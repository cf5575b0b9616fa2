"""The search indexing stage: follow the publication cursor and index what was published, off the hot path.

Publication holds the cursor counter's lock until commit, and a document costs ~2 ms of PostgreSQL CPU per
article: built there, it would serialise every publication behind it. Here it runs on the `deliver` queue,
a beat tick (NEWSMILL_SEARCH_INDEX_EVERY) after publication.
"""

from __future__ import annotations

import logging

import psycopg

from shared.db import search

log = logging.getLogger(__name__)
BATCH = 500  # articles per transaction
MAX_BATCHES = 20  # per run: a large backlog is worked off over several ticks, each run stays short


def index_new_articles(conn: psycopg.Connection, batch: int = BATCH, max_batches: int = MAX_BATCHES) -> int:
    """Index what was published since the last run (at most ``batch * max_batches`` articles); returns how
    many articles were read. A run that finds another one holding the cursor does nothing."""
    total = 0
    for _ in range(max_batches):
        read = search.index_published(conn, batch)
        if not read:  # None: another indexer runs; 0: caught up
            break
        total += read
    if total:
        log.info("articles indexed for search", extra={"count": total})
    return total
