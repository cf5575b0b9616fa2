"""The extract step: decode, extract and clean an item's page into its article row."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

import psycopg

from shared.db import articles, items, pages, site_templates
from shared.db.items import ItemState
from shared.encoding import decode_html
from shared.errors import Outcome, PermanentError
from shared.settings import Settings
from workers.stages.dedup import content_hash
from workers.stages.extract import EntryHints, extract_page
from workers.stages.site_template import MIN_PAGES, host_key, page_key
from workers.steps.handoff import Next, give_up


def extract_step(conn: psycopg.Connection, item_id: int, s: Settings, now: datetime) -> Next:
    """Decode, extract and clean an item's page into its article row; the item moves to ``extracted``."""
    item = items.claim(conn, item_id, ItemState.FETCHED, now + timedelta(seconds=s.stuck_after))
    if item is None:
        return Next(outcome="skipped")
    if give_up(conn, item, s, Outcome.EXTRACT_TIMEOUT):
        return Next(outcome=Outcome.EXTRACT_TIMEOUT.value)
    page = pages.load_page(conn, item.id)
    if page is None or page.body is None:
        items.fail(conn, item.id, Outcome.EMPTY.value, "raw page missing (pruned before extraction)")
        return Next(outcome=Outcome.EMPTY.value)
    decoded = decode_html(page.body, page.content_type)
    hints = EntryHints(item.entry_title, item.entry_author, item.entry_published_at, item.entry_language)
    host, key = host_key(urlsplit(page.final_url).hostname) or "", page_key(item.canonical_url or page.final_url)
    template = site_templates.load_templates(conn, [(host, key)], MIN_PAGES).get(host, frozenset())
    try:
        page_data = extract_page(decoded.text, page.final_url, hints, fast=s.extract_fast, template=template)
    except PermanentError as exc:
        items.fail(conn, item.id, exc.outcome.value, exc.reason)
        return Next(outcome=exc.outcome.value)
    draft = articles.ArticleDraft(
        item_id=item.id, feed_id=item.feed_id, url=page.final_url, canonical_url=item.canonical_url,
        site_name=page_data.site_name, title=page_data.title, author=page_data.author,
        published_at=page_data.published_at, date_source=page_data.date_source, fetched_at=page.fetched_at,
        text=page_data.text, word_count=len(page_data.text.split()),
        content_hash=content_hash(page_data.text),
        page_language=page_data.language_hint,
    )  # fmt: skip
    seen = site_templates.PageLines(host, key, page_data.line_keys)
    with conn.transaction():
        articles.upsert_draft(conn, draft)
        site_templates.record_pages(conn, [seen])  # the host's template learns from this page's lines
        pages.set_charset(conn, item.id, f"{decoded.charset} ({decoded.source})")
        moved = items.advance(conn, item.id, ItemState.FETCHED, ItemState.EXTRACTED,
                              now + timedelta(seconds=s.stuck_after))  # fmt: skip
    return Next([item.id]) if moved else Next(outcome="skipped")
