"""HTTP itself on the real server: HEAD on every GET route, gzip above ~1 KB (with weak ETags that still
answer 304), and CORS for browser clients of the read API when origins are configured."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from api.app import create_app
from shared.db import subscriptions
from shared.settings import Settings
from tests.support.api_data import Corpus, publish_corpus
from tests.support.api_server import serve_api

TOKEN = "http-admin-token"


@pytest.fixture
def corpus(db: psycopg.Connection) -> Corpus:
    return publish_corpus(db)


@pytest.fixture
def api(db_url: str) -> Iterator[httpx.Client]:
    with serve_api(db_url, admin_token=TOKEN) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client


def get_paths(db: psycopg.Connection, corpus: Corpus) -> list[str]:
    """A concrete path for every GET route of the app, its parameters filled with things that exist."""
    token = subscriptions.create_subscription(db, "ed@example.org", ["ukraine-war"], []).token
    values = {"slug": "ukraine-war", "article_id": str(corpus.seed_id), "token": str(token),
              "subscription_id": "1", "feed_id": "1"}  # fmt: skip

    def get_routes(routes: list[Any]) -> Iterator[str]:
        for route in routes:
            if hasattr(route, "original_router"):  # an included router (FastAPI wraps them)
                yield from get_routes(route.original_router.routes)
            elif "GET" in (getattr(route, "methods", None) or ()):
                yield route.path

    app = create_app(Settings(database_url="postgresql://unused"))
    paths = [re.sub(r"\{(\w+)\}", lambda m: values[m[1]], path) for path in get_routes(app.routes)]
    assert len(paths) > 15
    return paths


def test_head_answers_every_get_route_like_get_without_a_body(
    api: httpx.Client, db: psycopg.Connection, corpus: Corpus
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for path in get_paths(db, corpus):
        got, head = api.get(path, headers=auth), api.head(path, headers=auth)
        assert head.status_code == got.status_code != 405, path
        assert head.content == b"", path
        names = ["content-type", "etag", "last-modified", "cache-control", "content-length"]
        if path == "/metrics":
            names.remove("content-length")  # the GET just before counted one more request
        for name in names:
            assert head.headers.get(name) == got.headers.get(name), (path, name)


def test_large_responses_are_gzipped_and_conditional_requests_still_work(api: httpx.Client, corpus: Corpus) -> None:
    plain = api.get("/topics/ukraine-war.atom", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["etag"].startswith('"')
    assert plain.headers["vary"] == "Accept-Encoding"
    raw = api.build_request("GET", "/topics/ukraine-war.atom", headers={"Accept-Encoding": "gzip"})
    zipped = api.send(raw, stream=True)
    body = zipped.read()  # httpx decodes; the wire size comes from the raw stream below
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["etag"] == "W/" + plain.headers["etag"]
    assert body == plain.content
    wire = gzip.compress(plain.content)
    assert int(zipped.headers["content-length"]) < len(plain.content) / 2 <= len(wire) * 10
    for tag in (zipped.headers["etag"], plain.headers["etag"]):
        again = api.get("/topics/ukraine-war.atom", headers={"Accept-Encoding": "gzip", "If-None-Match": tag})
        assert again.status_code == 304
    # The second gzip answer comes from the cache of compressed versions: the same bytes.
    second = api.send(api.build_request("GET", "/topics/ukraine-war.atom", headers={"Accept-Encoding": "gzip"}),
                      stream=True)  # fmt: skip
    assert second.headers["content-length"] == zipped.headers["content-length"]
    # Everything else over ~1 KB is compressed on the way out; small answers are not.
    articles = api.get("/articles", headers={"Accept-Encoding": "gzip"})
    assert articles.headers["content-encoding"] == "gzip"
    assert articles.json()["articles"]
    assert "content-encoding" not in api.get("/healthz", headers={"Accept-Encoding": "gzip"}).headers


def test_cors_lets_configured_origins_read_and_nothing_else(db_url: str, corpus: Corpus) -> None:
    origin = "https://reader.example"
    with serve_api(db_url, cors_origins=f"{origin}, https://other.example") as base:
        r = httpx.get(f"{base}/articles", headers={"Origin": origin})
        assert r.headers["access-control-allow-origin"] == origin
        assert "etag" in r.headers.get("access-control-expose-headers", "").lower()
        other = httpx.get(f"{base}/articles", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        preflight = {"Origin": origin, "Access-Control-Request-Method": "GET",
                     "Access-Control-Request-Headers": "if-none-match"}  # fmt: skip
        ok = httpx.options(f"{base}/topics/ukraine-war.json", headers=preflight)
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == origin
        put = preflight | {"Access-Control-Request-Method": "PUT"}
        write = httpx.options(f"{base}/topics/ukraine-war", headers=put)
        assert write.status_code == 400  # writes are never allowed cross-origin
        assert "access-control-allow-credentials" not in r.headers
    with serve_api(db_url) as base:  # not configured: no CORS at all
        assert "access-control-allow-origin" not in httpx.get(f"{base}/articles", headers={"Origin": origin}).headers
