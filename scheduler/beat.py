"""The beat schedule: beat only ticks the dispatcher, the sweeper and retention; Postgres holds the state."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from shared.settings import Settings


def beat_schedule(s: Settings) -> dict[str, dict[str, Any]]:
    return {
        "dispatch-due-feeds": {"task": "newsmill.dispatch_due_feeds", "schedule": s.dispatch_every},
        "sweep-stale-items": {"task": "newsmill.sweep_stale_items", "schedule": s.sweep_every},
        "deliver-webhooks": {"task": "newsmill.deliver_plan", "schedule": s.deliver_every},
        "index-for-search": {"task": "newsmill.search_index", "schedule": s.search_index_every},
        "websub-push": {"task": "newsmill.deliver_websub_plan", "schedule": s.deliver_every},
        "email-digests": {"task": "newsmill.deliver_digests", "schedule": 60.0},
        "prune-raw-html": {"task": "newsmill.prune_raw_html", "schedule": crontab(minute=17, hour=3)},
    }
