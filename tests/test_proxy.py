"""The shipped caching proxy (deploy/nginx/newsmill.conf, compose profile "proxy") in front of the real API:
public topic feeds are served from its cache and revalidated by ETag, requests with credentials and every
other route pass through, and a private deployment's feeds are never kept."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from harness.nginx_proxy import serve_proxy
from tests.support.api_data import publish_corpus
from tests.support.api_server import serve_api

pytestmark = pytest.mark.e2e
TOKEN = "proxy-test-token"
FEED = "/topics/ukraine-war.atom"


def test_public_feeds_come_from_the_cache_and_the_rest_passes_through(db_url: str, db: psycopg.Connection) -> None:
    publish_corpus(db)
    with serve_api(db_url, admin_token=TOKEN) as api, serve_proxy(api) as proxy, httpx.Client(base_url=proxy) as c:
        first, second = c.get(FEED), c.get(FEED)
        assert (first.status_code, second.status_code) == (200, 200)
        assert (first.headers["x-cache-status"], second.headers["x-cache-status"]) == ("MISS", "HIT")
        assert second.content == first.content
        assert second.headers["etag"] == first.headers["etag"]
        # The proxy answers a reader's conditional request itself.
        assert c.get(FEED, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
        # Another query is another document.
        assert c.get(f"{FEED}?lang=en").headers["x-cache-status"] == "MISS"
        # Credentials bypass the shared cache.
        authed = c.get(FEED, headers={"Authorization": f"Bearer {TOKEN}"})
        assert authed.headers["x-cache-status"] == "BYPASS"
        # Other routes are not cached at all.
        articles = c.get("/articles")
        assert articles.status_code == 200
        assert "x-cache-status" not in articles.headers
        assert c.get("/topics/no-such-topic.atom").status_code == 404


def test_a_private_deployments_feeds_are_never_stored(db_url: str, db: psycopg.Connection) -> None:
    publish_corpus(db)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with (
        serve_api(db_url, admin_token=TOKEN, public_read=False) as api, serve_proxy(api) as proxy,
        httpx.Client(base_url=proxy) as c,
    ):  # fmt: skip
        assert c.get(FEED, headers=auth).status_code == 200
        assert c.get(FEED).status_code == 401  # nothing stored from the authorised read
        assert c.get(FEED).headers["x-cache-status"] != "HIT"
