"""Every endpoint that takes a JSON body, fuzzed over real HTTP: whatever the body, the answer is a documented
JSON error or a success, never a 5xx (issue 18: a deeply nested body to PUT /topics/{slug} was a plain-text
500 from a RecursionError)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from api.deps import MAX_JSON_DEPTH, json_depth
from harness.articles import load_seed_topics
from tests.support.api_server import serve_api

TOKEN = "fuzz-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# (method, path): every route whose handler reads a JSON body.
JSON_ENDPOINTS = [("PUT", "/topics/fuzzed"), ("POST", "/feeds"), ("POST", "/subscriptions")]
# Values shaped like the real bodies, so the fuzz reaches the validators and the database, not only the parser.
FIELDS = ["name", "description", "any", "all", "exclude", "languages", "min_score", "slug", "url", "email",
          "topics", "webhook_url", "title_weight", "body_hit_cap", "digest"]  # fmt: skip

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=50)
    | st.sampled_from(["ukraine-war", "https://a.example/feed.xml", "ed@example.org", "fr", "x*", "*", ""])
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)
bodies = st.dictionaries(st.sampled_from(FIELDS), values, max_size=6) | values


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture(scope="module")
def api(template_db: str) -> Iterator[httpx.Client]:
    # One server and database for every example: state accumulates, as it would on a real server.
    import uuid  # noqa: PLC0415

    from harness.shared_services import create_database, drop_database  # noqa: PLC0415

    name = f"nm_t_fuzz_{uuid.uuid4().hex[:8]}"
    url = create_database(name, template=template_db)
    with psycopg.connect(url, autocommit=True) as conn:
        load_seed_topics(conn)
    try:
        with serve_api(url, admin_token=TOKEN) as base, httpx.Client(base_url=base, timeout=30) as client:
            yield client
    finally:
        drop_database(name)


def _assert_answered(r: httpx.Response) -> None:
    assert r.status_code < 500, (r.request.method, r.request.url, r.status_code, r.text[:300])
    if r.status_code >= 400:
        assert isinstance(r.json()["detail"], str | list), r.text[:300]


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5_000, 30_000])  # all within the smallest size bound
def test_deeply_nested_bodies_answer_the_documented_422(api: httpx.Client, method: str, path: str, depth: int) -> None:
    for body in (nested(depth), '{"name": ' + nested(depth) + "}"):
        r = api.request(method, path, content=body, headers=AUTH | {"Content-Type": "application/json"})
        assert r.status_code == 422, r.text[:200]
        assert r.json()["detail"].startswith("malformed JSON: nested")


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_json_bodies_never_answer_5xx(api: httpx.Client, method: str, path: str, body: Any) -> None:
    _assert_answered(api.request(method, path, json=body, headers=AUTH))


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
@example(raw=b'{"name": "x", "any": ["war"], "min_score": Infinity}')  # Python's json reads it; JSON has no such
@example(raw=b'{"url": NaN, "email": -Infinity}')
@example(raw=b'{"name": "x", "any": ["war"], "min_score": 1e999}')
def test_raw_bodies_never_answer_5xx(api: httpx.Client, method: str, path: str, raw: bytes) -> None:
    _assert_answered(api.request(method, path, content=raw, headers=AUTH | {"Content-Type": "application/json"}))


@given(values)
def test_json_depth_counts_levels(value: Any) -> None:
    def depth(v: Any) -> int:
        children = list(v.values()) if isinstance(v, dict) else v if isinstance(v, list) else None
        return 0 if children is None else 1 + max(map(depth, children), default=0)

    assert json_depth(value, 100) == depth(value)
    assert json_depth(json.loads(nested(50)), 10) == 11  # stops counting past the limit


# Form endpoints (WebSub hub, sign-in): the same promise, for urlencoded bodies.
FORM_FIELDS = ["hub.mode", "hub.topic", "hub.callback", "hub.lease_seconds", "hub.secret", "token", "next"]
form_values = st.text(max_size=80) | st.sampled_from(
    ["subscribe", "unsubscribe", "http://127.0.0.1:9/cb", "https://a.example/topics/ukraine-war.atom", "99999999999"]
)


@pytest.mark.parametrize("path", ["/websub", "/signin"])
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=st.dictionaries(st.sampled_from(FORM_FIELDS) | st.text(max_size=10), form_values, max_size=6))
def test_form_bodies_never_answer_5xx(api: httpx.Client, path: str, form: dict[str, str]) -> None:
    r = api.post(path, data=form, follow_redirects=False)
    assert r.status_code < 500, (path, form, r.status_code, r.text[:300])
