"""A feed entry: what the poll stage reads from a feed and the ``items`` table stores, one record for both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class FeedEntry:
    guid: str | None
    url: str
    canonical_url: str
    title: str | None
    author: str | None
    published_at: datetime | None
    language: str | None  # normalised (shared/languages.py): the entry's own, else its feed's
