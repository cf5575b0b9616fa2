"""SQL for ``publish_queue``: batches committed by their publishers, waiting for a cursor range (migration 0019).

A publisher queues its batch inside its own transaction, with no lock; ``sequence`` then gives every queued
batch its cursors under the publication counter's row lock, in one transaction for all of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from shared.db.arrays import Bigints
from shared.db.articles import NOTIFY_CHANNEL, Enrichment, enrichment_columns


@dataclass(frozen=True)
class Sequenced:
    """What one sequencer call did: seconds it waited for the lock and held it (the server's clock, to the end
    of its work: the commit follows), the batches it published or sent back, its own and others', and which
    of the caller's items are back in ``extracted`` (its batch was sent back, by this call or an earlier one)."""

    waited: float
    held: float
    batches: int
    published: int
    bounced: int
    mine_sent_back: list[int]


def queue_batch(
    conn: psycopg.Connection,
    seen: int,
    items_by_article: Mapping[int, int],
    enrichments: Mapping[int, Enrichment],
    *,
    originals: tuple[Sequence[str], Sequence[int]],
) -> None:
    """Queue a batch (article id -> item id, article id -> enrichment) decided against cursor ``seen``, inside
    the publisher's transaction; its originals' texts and band keys are what the sequencer checks."""
    original_hashes, original_band_keys = originals
    ids = sorted(enrichments)
    conn.execute(
        """
        INSERT INTO publish_queue (seen, article_ids, item_ids, language, language_probability, language_source,
                                   duplicate_of, similarity, original_hashes, original_band_keys)
        VALUES (%(seen)s, %(ids)s, %(items)s, %(language)s::text[], %(probability)s::real[], %(source)s::text[],
                %(duplicate_of)s::bigint[], %(similarity)s::real[], %(hashes)s::text[], %(keys)s)
        """,
        {"seen": seen, "ids": Bigints(ids), "items": Bigints([items_by_article[i] for i in ids]),
         **enrichment_columns(ids, enrichments), "hashes": list(original_hashes), "keys": Bigints(original_band_keys)},
    )  # fmt: skip


def sequence(conn: psycopg.Connection, sweep_at: datetime, mine: Sequence[int] = ()) -> Sequenced:
    """Publish every queued batch (the function of migration 0019), in this connection's transaction or, in
    autocommit mode, in one of its own; a batch sent back has its items in ``extracted`` again, due for the
    sweeper at ``sweep_at``. ``mine``: the caller's item ids, to learn which of them were sent back."""
    with conn.cursor(row_factory=class_row(Sequenced)) as cur:
        row = cur.execute(
            "SELECT * FROM newsmill_sequence_publications(%s, %s, %s)", (NOTIFY_CHANNEL, sweep_at, Bigints(mine))
        ).fetchone()
    assert row is not None
    return row


def queued_count(conn: psycopg.Connection) -> int:
    """Batches committed and not yet sequenced (a publisher died between the two, or one is in progress)."""
    row = conn.execute("SELECT count(*) FROM publish_queue").fetchone()
    return int(row[0]) if row else 0
