"""Pages in a private deployment: a browser is sent to the sign-in form; the admin token or a live private
feed's token becomes a signed session cookie; revocation, tampering and expiry end it; API clients keep the
bearer token and 401."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from api.sign_in import COOKIE, Session, seal, unseal
from shared.db import subscriptions
from tests.support.api_data import Corpus, publish_corpus
from tests.support.api_server import serve_api

TOKEN = "private-admin-token"
PAGE = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture
def corpus(db: psycopg.Connection) -> Corpus:
    return publish_corpus(db)


@pytest.fixture
def private(db_url: str) -> Iterator[str]:
    with serve_api(db_url, public_read=False, admin_token=TOKEN) as base:
        yield base


def sign_in(base: str, token: str, next_path: str = "/") -> httpx.Response:
    return httpx.post(f"{base}/signin", data={"token": token, "next": next_path}, follow_redirects=False)


def test_a_browser_is_sent_to_sign_in_and_reads_pages_after(private: str, corpus: Corpus) -> None:
    r = httpx.get(f"{private}/topics/ukraine-war?x=1", headers=PAGE, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/signin?next=%2Ftopics%2Fukraine-war%3Fx%3D1"
    form = httpx.get(f"{private}{r.headers['location']}")
    assert form.status_code == 200
    assert 'name="next" value="/topics/ukraine-war?x=1"' in form.text
    assert httpx.get(f"{private}/articles").status_code == 401  # API clients: the bearer token, as before
    # A client that takes HTML only as a last resort is an API client, not a browser to send to a form.
    lukewarm = {"Accept": "application/json, text/html;q=0.1"}
    assert httpx.get(f"{private}/topics/ukraine-war", headers=lukewarm, follow_redirects=False).status_code == 401
    wrong = sign_in(private, "nope")
    assert wrong.status_code == 401
    assert COOKIE not in wrong.cookies
    ok = sign_in(private, TOKEN, "/topics/ukraine-war")
    assert ok.status_code == 303
    assert ok.headers["location"] == "/topics/ukraine-war"
    set_cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in set_cookie
    assert "samesite=lax" in set_cookie
    cookies = {COOKIE: ok.cookies[COOKIE]}
    page = httpx.get(f"{private}/topics/ukraine-war", cookies=cookies, headers=PAGE)
    assert page.status_code == 200
    assert "War in Ukraine" in page.text
    assert TOKEN not in ok.cookies[COOKIE]  # the cookie names the session; it carries no credential
    assert httpx.get(f"{private}/topics/ukraine-war.atom", cookies=cookies).status_code == 200
    assert httpx.put(f"{private}/topics/x", cookies=cookies, json={"name": "X", "any": ["x"]}).status_code == 401
    out = httpx.post(f"{private}/signout", cookies=cookies, follow_redirects=False)
    assert out.status_code == 303
    assert 'newsmill_session=""' in out.headers["set-cookie"]


def test_a_private_feed_token_signs_in_until_revoked(private: str, corpus: Corpus, db: psycopg.Connection) -> None:
    created = subscriptions.create_subscription(db, "ed@example.org", ["ukraine-war"], [])
    assert created.token is not None
    ok = sign_in(private, created.token)
    assert ok.status_code == 303
    cookies = {COOKIE: ok.cookies[COOKIE]}
    assert httpx.get(f"{private}/", cookies=cookies, headers=PAGE).status_code == 200
    subscriptions.revoke(db, created.subscription.id)
    assert httpx.get(f"{private}/", cookies=cookies, headers=PAGE, follow_redirects=False).status_code == 303
    assert httpx.get(f"{private}/articles", cookies=cookies).status_code == 401
    assert sign_in(private, created.token).status_code == 401


def test_forged_expired_and_foreign_cookies_are_refused(private: str, corpus: Corpus) -> None:
    forged = seal(Session("admin", 0, int(time.time()) + 3600), "another-admin-token")
    expired = seal(Session("admin", 0, int(time.time()) - 1), TOKEN)
    good = seal(Session("admin", 0, int(time.time()) + 3600), TOKEN)
    payload, _, signature = good.partition(".")
    tampered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + signature
    for value in (forged, expired, tampered, "garbage", "."):
        r = httpx.get(f"{private}/articles", cookies={COOKIE: value})
        assert r.status_code == 401, value
        assert unseal(value, TOKEN, time.time()) is None
    assert httpx.get(f"{private}/articles", cookies={COOKIE: good}).status_code == 200


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"])
def test_the_form_never_redirects_off_site(private: str, target: str) -> None:
    assert sign_in(private, TOKEN, target).headers["location"] == "/"


def test_public_deployments_need_no_sign_in(db_url: str, corpus: Corpus) -> None:
    with serve_api(db_url) as base:
        assert httpx.get(f"{base}/", headers=PAGE).status_code == 200
        assert httpx.post(f"{base}/signin", data={"token": "x"}).status_code == 503  # no admin token to key it
