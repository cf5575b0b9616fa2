"""The HTTP service: topic feeds, the article read API, pages for people, subscriptions, admin and health."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline
from psycopg_pool import ConnectionPool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import (
    admin,
    articles,
    health,
    http_features,
    metrics,
    pages,
    search,
    sign_in,
    subscriptions,
    topic_feeds,
    websub,
)
from api.render_cache import RenderCache, StateCache
from api.sign_in import require_reader
from shared.settings import Settings, get_settings

POOL_MAX = 10


def create_pool(settings: Settings) -> ConnectionPool:
    """Autocommit connections (every read is one statement; writes open their own transaction), checked
    before use so a database restart costs one retried checkout, not failed requests. Not opened yet."""
    return ConnectionPool(
        settings.database_url,
        kwargs={"autocommit": True, "application_name": "newsmill-api"},
        min_size=1,
        max_size=POOL_MAX,
        check=ConnectionPool.check_connection,
        open=False,
        name="newsmill-api",
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app; its connection pool opens when the server starts it (lifespan) and closes at shutdown."""
    settings = settings or get_settings()
    pool = create_pool(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # wait=False: the server starts even while the database is away; /readyz says so meanwhile.
        pool.open(wait=False)
        try:
            yield
        finally:
            pool.close()

    # /docs and /redoc with their scripts and styles served from the fastapi-offline package, not a CDN:
    # the API's documentation works on a network without the internet (a newsroom's, an air-gapped one).
    app = FastAPIOffline(
        title="newsmill",
        summary="Topic feeds, published articles and pages for people, from newsmill's database.",
        version="1",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pool = pool
    app.state.conn_gate = asyncio.Semaphore(POOL_MAX)  # see api.deps.get_conn
    app.state.render_cache = RenderCache()
    app.state.feed_states = StateCache(settings.api_feed_state_ttl)
    http_features.install(app, settings)
    metrics.install(app)  # outermost: it times and counts everything, HEAD included
    app.include_router(health.router)
    readers = [Depends(require_reader)]  # open by default; see NEWSMILL_PUBLIC_READ
    app.include_router(articles.router, dependencies=readers)
    app.include_router(search.router, dependencies=readers)
    # Feeds before pages: "/topics/{slug}.atom" must be tried before the page route "/topics/{slug}".
    app.include_router(topic_feeds.router, dependencies=readers)
    app.include_router(admin.router)
    app.include_router(subscriptions.router)  # private feeds carry their own token
    app.include_router(websub.router)  # open only while feeds are public (NEWSMILL_PUBLIC_READ)
    app.include_router(sign_in.router)  # the way in to the pages when they are not public
    app.include_router(pages.router, dependencies=readers)
    app.add_exception_handler(StarletteHTTPException, pages.not_found)  # type: ignore[arg-type]
    return app
