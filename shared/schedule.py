"""When a recurring delivery is due: the one rule the API, the CLI and the digest step share."""

from __future__ import annotations

from datetime import datetime, timedelta


def next_digest_at(now: datetime, hour: int) -> datetime:
    """The next ``hour``:00 UTC strictly after ``now``: when a daily digest is due."""
    today = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return today if today > now else today + timedelta(days=1)
