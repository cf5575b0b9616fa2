"""Celery tasks that follow the publication cursor on the `deliver` queue: thin adapters over the stages
(search indexing, WebSub pushes, e-mail digests). Beat ticks them; none runs inside publication."""

from __future__ import annotations

from workers import resources, search_index
from workers.app import app
from workers.tasks import RETRY


@app.task(name="newsmill.search_index", **RETRY)
def search_index_task() -> int:
    with resources.connection() as conn:
        return search_index.index_new_articles(conn)
