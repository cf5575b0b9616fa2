"""Health, readiness, OpenAPI docs and metrics of the real server."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import httpx
import pytest

from harness.shared_services import create_database, drop_database
from tests.support.api_server import serve_api


@pytest.fixture
def empty_db_url() -> Iterator[str]:
    """A database that exists but was never migrated."""
    name = f"nm_t_empty_{uuid.uuid4().hex[:10]}"
    yield create_database(name)
    drop_database(name)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ready_when_migrated(db_url: str) -> None:
    with serve_api(db_url) as base:
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        assert httpx.get(f"{base}/readyz").json() == {"status": "ok"}


def test_not_ready_before_migrate(empty_db_url: str) -> None:
    with serve_api(empty_db_url) as base:
        assert httpx.get(f"{base}/healthz").status_code == 200
        r = httpx.get(f"{base}/readyz")
        assert r.status_code == 503
        assert "newsmill migrate" in r.json()["reason"]
        assert "0001_core" in r.json()["pending"]


def test_not_ready_without_database() -> None:
    url = f"postgresql://postgres:secret-password@127.0.0.1:{_closed_port()}/newsmill"
    with serve_api(url) as base:
        assert httpx.get(f"{base}/healthz").status_code == 200
        r = httpx.get(f"{base}/readyz", timeout=30)
        assert r.status_code == 503
        assert r.json()["reason"] == "database unreachable"
        assert "secret-password" not in r.text


def test_openapi_documents_every_endpoint(db_url: str) -> None:
    with serve_api(db_url) as base:
        assert "swagger" in httpx.get(f"{base}/docs").text.lower()
        paths = httpx.get(f"{base}/openapi.json").json()["paths"]
    for path in ("/articles", "/articles/{article_id}", "/topics", "/topics/{slug}.atom", "/topics/{slug}.rss",
                 "/topics/{slug}.json", "/topics/{slug}", "/feeds", "/feeds/{feed_id}", "/healthz", "/readyz",
                 "/", "/read/{article_id}", "/sources"):  # fmt: skip
        assert path in paths, path
    assert "put" in paths["/topics/{slug}"]
    assert {p["name"] for p in paths["/articles"]["get"]["parameters"]} == {"after", "topic", "lang", "limit"}


def test_metrics_are_labelled_by_route_template(db_url: str) -> None:
    with serve_api(db_url) as base:
        for i in range(3):
            httpx.get(f"{base}/articles/{1000 + i}")
        httpx.get(f"{base}/no/such/path/{uuid.uuid4().hex}")
        httpx.get(f"{base}/topics")
        text = httpx.get(f"{base}/metrics").text
    assert 'newsmill_api_requests_total{method="GET",route="/articles/{article_id}",status="404"} 3.0' in text
    assert 'newsmill_api_requests_total{method="GET",route="/topics",status="200"} 1.0' in text
    assert 'route="unmatched",status="404"' in text
    assert "/articles/1000" not in text
    assert 'newsmill_api_request_seconds_count{method="GET",route="/articles/{article_id}"} 3.0' in text
