"""Admin over HTTP: bearer token (503 disabled, 401 missing, 403 wrong), topic upsert, feeds, body limits."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.support.api_server import serve_api

TOKEN = "test-admin-token-Ω"  # non-ASCII on purpose: compared as bytes, never raises
AUTH = {"Authorization": f"Bearer {TOKEN}".encode()}
TOPIC = {
    "name": "Élections «2026» <b>",
    "description": "Votes, campagnes; '; DROP TABLE topics; --",
    "any": ["élection*", "scrutin", "vote"],
    "languages": ["fr"],
}


@pytest.fixture
def admin(db_url: str) -> Iterator[httpx.Client]:
    with serve_api(db_url, admin_token=TOKEN) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": b"Bearer " + token.encode()}  # type: ignore[dict-item]


def test_admin_disabled_without_a_token(db_url: str) -> None:
    with serve_api(db_url, admin_token=None) as base:
        r = httpx.put(f"{base}/topics/x", json={"name": "X", "any": ["x"]}, headers=AUTH)
        assert r.status_code == 503
        assert "admin disabled" in r.json()["detail"]
        assert httpx.post(f"{base}/feeds", json={"url": "https://a.example/f"}).status_code == 503


def test_auth(admin: httpx.Client, db: psycopg.Connection) -> None:
    for method, path, body in (("PUT", "/topics/elections-fr", TOPIC), ("POST", "/feeds", {"url": "https://a.example/"}),
                               ("DELETE", "/feeds/1", None)):  # fmt: skip
        assert admin.request(method, path, json=body).status_code == 401
        assert admin.request(method, path, json=body, headers={"Authorization": "Basic eDp5"}).status_code == 401
        assert admin.request(method, path, json=body, headers=_bearer("wrong")).status_code == 403
        assert admin.request(method, path, json=body, headers=_bearer(TOKEN + "x")).status_code == 403
        assert admin.request(method, path, json=body, headers=_bearer(TOKEN[:-1])).status_code == 403
    assert db.execute("SELECT count(*) FROM topics").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM feeds").fetchone() == (0,)


def test_put_topic(admin: httpx.Client, db: psycopg.Connection) -> None:
    r = admin.put("/topics/elections-fr", json=TOPIC, headers=AUTH)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "created"
    row = db.execute("SELECT slug, name, description, rules FROM topics").fetchone()
    assert row is not None
    assert row[:3] == ("elections-fr", TOPIC["name"], TOPIC["description"])
    assert row[3]["languages"] == ["fr"]
    assert admin.put("/topics/elections-fr", json=TOPIC, headers=AUTH).json()["status"] == "unchanged"
    changed = admin.put("/topics/elections-fr", json={**TOPIC, "min_score": 5}, headers=AUTH)
    assert (changed.status_code, changed.json()["status"]) == (200, "updated")
    assert admin.get("/topics").json()[0]["name"] == TOPIC["name"]
    page = admin.get("/topics/elections-fr").text
    assert "Élections «2026» &lt;b&gt;" in page


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 422),
        (b"\xff\xfe", 422),
        (b"[1, 2]", 422),
        (json.dumps({**TOPIC, "slug": "other"}).encode(), 422),
        (json.dumps({**TOPIC, "unknown_field": 1}).encode(), 422),
        (json.dumps({**TOPIC, "any": ["a*"]}).encode(), 422),  # a rule the tagger would refuse
        (json.dumps({"name": ""}).encode(), 422),
        (b'{"name": "' + b"x" * (1024 * 1024) + b'"}', 413),
    ],
)
def test_put_topic_rejects(admin: httpx.Client, db: psycopg.Connection, body: bytes, status: int) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    assert admin.put("/topics/elections-fr", content=body, headers=headers).status_code == status
    assert db.execute("SELECT count(*) FROM topics").fetchone() == (0,)


def test_body_limit_without_content_length(admin: httpx.Client) -> None:
    """A chunked body (no Content-Length) is cut off while it is read, not after."""

    def chunks() -> Iterator[bytes]:
        yield b'{"url": "'
        for _ in range(2 * 1024):
            yield b"x" * 1024
        yield b'"}'

    assert admin.post("/feeds", content=chunks(), headers=AUTH).status_code == 413


def test_feeds(admin: httpx.Client, db: psycopg.Connection) -> None:
    url = "https://news.example/feed.xml?q=ü&x=';DROP+TABLE+feeds;--"
    r = admin.post("/feeds", json={"url": url}, headers=AUTH)
    assert r.status_code == 201, r.text
    feed_id = r.json()["id"]
    assert r.json()["url"] == url
    again = admin.post("/feeds", json={"url": url}, headers=AUTH)
    assert (again.status_code, again.json()["id"], again.json()["created"]) == (200, feed_id, False)
    bad_bodies = [
        {"url": "ftp://x.example/"}, {"url": "javascript:alert(1)"}, {"url": "https://"}, {"url": 5},
        {"link": "https://x.example/"}, {"url": "https://x.example/\x00"}, {"url": "https://x.example/ a"},
    ]  # fmt: skip
    for bad in bad_bodies:
        assert admin.post("/feeds", json=bad, headers=AUTH).status_code == 422, bad
    assert db.execute("SELECT url FROM feeds").fetchall() == [(url,)]
    assert admin.delete(f"/feeds/{feed_id}", headers=AUTH).status_code == 204
    assert admin.delete(f"/feeds/{feed_id}", headers=AUTH).status_code == 404
    assert admin.delete("/feeds/abc", headers=AUTH).status_code == 422
    assert db.execute("SELECT count(*) FROM feeds").fetchone() == (0,)


def test_private_deployment_needs_the_token_for_feeds_pages_and_articles(db_url: str, db: psycopg.Connection) -> None:
    from tests.support.api_data import publish_corpus  # noqa: PLC0415 - only this test needs articles

    publish_corpus(db)
    reads = ["/topics", "/topics/ukraine-war.atom", "/topics/ukraine-war", "/articles", "/articles/1", "/", "/read/1"]
    with serve_api(db_url, admin_token=TOKEN, public_read=False) as base, httpx.Client(base_url=base) as client:
        assert {path: client.get(path).status_code for path in reads} == dict.fromkeys(reads, 401)
        assert {path: client.get(path, headers=_bearer("wrong")).status_code for path in reads} == dict.fromkeys(
            reads, 403
        )
        assert {path: client.get(path, headers=AUTH).status_code for path in reads} == dict.fromkeys(reads, 200)
        assert client.get("/healthz").status_code == 200  # health stays open for orchestrators
        # A shared cache (a proxy in front of the API) must not hand one reader's copy to another.
        assert client.get("/topics/ukraine-war.atom", headers=AUTH).headers["cache-control"] == "private, max-age=60"
    with serve_api(db_url) as base:  # the default: open
        feed = httpx.get(f"{base}/topics/ukraine-war.atom")
        assert feed.status_code == 200
        assert feed.headers["cache-control"] == "public, max-age=60"
