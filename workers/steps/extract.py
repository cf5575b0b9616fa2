"""The extract step: decode, extract and clean a batch of items' pages into article drafts.

``extract_batch`` is the CPU half: it claims the batch, loads its pages in one statement and extracts them,
writing nothing else. Then either ``store_extraction`` commits the drafts (the item moves to ``extracted``, for
a separate enrich worker) or workers/steps/enrich.py publishes them in the same transaction.

A batch whose worker was killed (a time or memory limit, a crash) comes back through the sweeper with every
item's attempt counted; such items are then extracted one per message, so the page that kills its worker
fails alone instead of taking its batch-mates with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import psycopg

from shared.db import articles, items, pages, site_templates
from shared.db.items import Failure, ItemState
from shared.encoding import decode_html
from shared.errors import Outcome, PermanentError
from shared.metrics import EXTRACTIONS
from shared.settings import Settings
from workers.stages.dedup import Fingerprint, fingerprint_text
from workers.stages.extract import EntryHints, extract_page
from workers.stages.site_template import MIN_PAGES, host_key, page_key
from workers.steps.handoff import Handoff, exhausted


@dataclass(frozen=True)
class Extracted:
    """One page's draft, with its text's fingerprint (computed once: the hash is stored, dedup uses the rest)."""

    item: items.Item
    draft: articles.ArticleDraft
    fingerprint: Fingerprint
    charset: str
    seen: site_templates.PageLines  # its lines, for its host's template


@dataclass
class Extraction:
    """What a batch's pages gave, before anything but the claims is written."""

    done: list[Extracted] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    handoff: Handoff = field(default_factory=Handoff)  # items put back (alone, or again), and skipped ones


def extract_batch(
    conn: psycopg.Connection,
    item_ids: list[int],
    s: Settings,
    now: datetime,
    interrupt: tuple[type[BaseException], ...] = (),
) -> Extraction:
    """Claim ``item_ids`` (those still ``fetched``), load their pages and extract them.

    An exception of a type in ``interrupt`` (the worker's soft time limit) while a page is extracted fails that
    page with ``extract_timeout`` and puts the pages not extracted yet back for another message."""
    sweep_at = now + timedelta(seconds=s.stuck_after)
    x = Extraction()
    claimed = items.claim_many(conn, item_ids, ItemState.FETCHED, sweep_at)
    x.handoff.count("skipped", len(set(item_ids)) - len(claimed))
    if len(claimed) > 1:
        retried = [item.id for item in claimed if item.attempts > 1]
        if retried:  # their last batch died: one message each (see the module docstring)
            items.refund_attempts(conn, retried, sweep_at)
            x.handoff.alone.extend(retried)
            claimed = [item for item in claimed if item.attempts <= 1]
    todo = []
    for item in claimed:
        if failure := exhausted(item, s, Outcome.EXTRACT_TIMEOUT):
            x.failures.append(failure)
        else:
            todo.append(item)
    stored = pages.load_pages(conn, [item.id for item in todo])
    page_of = {item.id: _page_of(item, stored[item.id]) for item in todo if item.id in stored}
    templates = site_templates.load_templates(conn, list(page_of.values()), MIN_PAGES)  # one statement
    for n, item in enumerate(todo):
        try:
            x.done.append(_extract(item, stored.get(item.id), page_of.get(item.id), templates, s))
        except PermanentError as exc:
            x.failures.append(Failure(item.id, exc.outcome.value, exc.reason))
        except interrupt:
            limit = s.extract_soft_time_limit
            x.failures.append(Failure(item.id, Outcome.EXTRACT_TIMEOUT.value, f"extraction took over {limit} s"))
            rest = [other.id for other in todo[n + 1 :]]
            if rest:
                items.refund_attempts(conn, rest, sweep_at)
                x.handoff.retries.setdefault(0.0, []).extend(rest)
            break
    for failure in x.failures:
        x.handoff.count(failure.outcome, 1)
    return x


def _extract(
    item: items.Item,
    page: pages.StoredPage | None,
    page_of: tuple[str, int] | None,
    templates: dict[str, frozenset[int]],
    s: Settings,
) -> Extracted:
    if page is None or page.body is None or page_of is None:
        raise PermanentError(Outcome.EMPTY, "raw page missing (pruned before extraction)")
    decoded = decode_html(page.body, page.content_type)
    hints = EntryHints(item.entry_title, item.entry_author, item.entry_published_at, item.entry_language)
    host, key = page_of
    template = templates.get(host, frozenset())
    result = extract_page(decoded.text, page.final_url, hints, mode=s.extraction_mode, template=template)
    EXTRACTIONS.labels(result.scope, result.extraction).inc()
    fingerprint = fingerprint_text(result.text)
    draft = articles.ArticleDraft(
        item_id=item.id, feed_id=item.feed_id, url=page.final_url, canonical_url=item.canonical_url,
        site_name=result.site_name, title=result.title, author=result.author,
        published_at=result.published_at, date_source=result.date_source, fetched_at=page.fetched_at,
        text=result.text, word_count=len(result.text.split()), content_hash=fingerprint.content_hash,
        page_language=result.language_hint,
    )  # fmt: skip
    seen = site_templates.PageLines(host, key, result.line_keys)
    return Extracted(item, draft, fingerprint, f"{decoded.charset} ({decoded.source})", seen)


def _page_of(item: items.Item, page: pages.StoredPage) -> tuple[str, int]:
    """The host whose template a page belongs to, and the key that counts the page once for it."""
    return host_key(urlsplit(page.final_url).hostname) or "", page_key(item.canonical_url or page.final_url)


def write_drafts(
    conn: psycopg.Connection, x: Extraction, to_state: ItemState, sweep_at: datetime
) -> tuple[list[Extracted], dict[int, int]]:
    """Inside the caller's transaction: record the batch's failures, move its extracted items from ``fetched``
    to ``to_state``, and store the drafts, their pages' charsets and lines (for their hosts' templates) of
    those that moved. Returns them, and their article ids by item id. No effect outside the transaction: a
    publication may run it twice (workers/steps/publish.py, ``publish_batch``)."""
    items.fail_many(conn, x.failures)
    moved = set(items.advance_many(conn, [e.item.id for e in x.done], ItemState.FETCHED, to_state, sweep_at))
    kept = [e for e in x.done if e.item.id in moved]
    article_ids = articles.upsert_drafts(conn, [e.draft for e in kept])
    site_templates.record_pages(conn, [e.seen for e in kept])
    pages.set_charsets(conn, {e.item.id: e.charset for e in kept})
    return kept, article_ids


def store_extraction(conn: psycopg.Connection, x: Extraction, s: Settings, now: datetime) -> Handoff:
    """Commit a batch's drafts and failures in one transaction; the extracted items move to ``extracted``."""
    with conn.transaction():
        kept, _ = write_drafts(conn, x, ItemState.EXTRACTED, now + timedelta(seconds=s.stuck_after))
    x.handoff.count("skipped", len(x.done) - len(kept))
    x.handoff.forward.extend(e.item.id for e in kept)
    x.handoff.count("ok", len(kept))
    return x.handoff


def extract_step(conn: psycopg.Connection, item_ids: list[int], s: Settings, now: datetime) -> Handoff:
    """Extract a batch and commit its drafts: the step of a worker that only extracts."""
    return store_extraction(conn, extract_batch(conn, item_ids, s, now), s, now)
