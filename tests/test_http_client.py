"""fetch against a real local server: statuses, redirects, headers and content types."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from typing import Literal

import pytest

from shared.errors import Outcome, PermanentError, StageError, TransientError
from shared.http_client import FetchPolicy, FetchResult, check_content_type, fetch
from shared.settings import Settings
from tests.support.http_server import LocalSite, Response, serve

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>a</title></item></channel></rss>'
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

POLICY = FetchPolicy(
    connect_timeout=2.0,
    read_timeout=2.0,
    total_timeout=5.0,
    max_bytes=1024 * 1024,
    max_redirects=3,
    allow_private_hosts=True,  # the test server lives on 127.0.0.1
    user_agent="newsmill-test/1.0 (+https://example.org/bot)",
)


@pytest.fixture(scope="module")
def served() -> Iterator[LocalSite]:
    with serve() as s:
        yield s


@pytest.fixture
def site(served: LocalSite) -> LocalSite:
    """One server per module (its shutdown takes half a second), emptied for each test."""
    served.routes.clear()
    served.requests.clear()
    return served


def failure(url: str, policy: FetchPolicy = POLICY, **kwargs: object) -> StageError:
    with pytest.raises(StageError) as info:
        fetch(url, policy, **kwargs)  # type: ignore[arg-type]
    return info.value


def test_ok_fetch_sends_user_agent_and_accept_encoding(site: LocalSite) -> None:
    url = site.add("/feed", Response(RSS, headers={"Content-Type": "application/rss+xml", "ETag": '"v1"'}))
    result = fetch(
        url, POLICY, headers={"accept": "application/rss+xml", "user-agent": "spoof", "Accept-Encoding": "br"}
    )
    assert (result.url, result.status, result.body) == (url, 200, RSS)
    assert result.headers["etag"] == '"v1"'
    assert result.headers["content-type"] == "application/rss+xml"
    sent = site.requests[0][1]
    assert sent["user-agent"] == POLICY.user_agent
    assert sent["accept-encoding"] == "gzip, deflate"
    assert sent["accept"] == "application/rss+xml"


def test_not_modified_returns_empty_304(site: LocalSite) -> None:
    def conditional(h: BaseHTTPRequestHandler) -> None:
        matches = h.headers.get("If-None-Match") == '"v1"'
        h.send_response(304 if matches else 200)
        h.send_header("Content-Length", "0" if matches else str(len(RSS)))
        h.end_headers()
        if not matches:
            h.wfile.write(RSS)

    url = site.add("/feed", conditional)
    result = fetch(url, POLICY, headers={"If-None-Match": '"v1"'})
    assert (result.status, result.body) == (304, b"")
    assert fetch(url, POLICY).status == 200


def test_redirect_chain_is_followed_to_the_final_url(site: LocalSite) -> None:
    site.add("/a", Response(status=301, headers={"Location": "/b"}))
    site.add("/b", Response(status=302, headers={"Location": site.url("/c")}))
    site.add("/c", Response(status=307, headers={"Location": "d?x=1"}))
    final = site.add("/d", Response(RSS))
    result = fetch(site.url("/a"), POLICY)
    assert result.url == final + "?x=1"
    assert result.body == RSS
    assert all(headers["user-agent"] == POLICY.user_agent for _, headers in site.requests)


@pytest.mark.parametrize(
    ("routes", "expected"),
    [
        ({"/a": "/b", "/b": "/a"}, "loop"),
        ({"/a": "/b", "/b": "/c", "/c": "/d", "/d": "/e", "/e": "/f"}, "more than 3"),
        ({"/a": None}, "without Location"),
        ({"/a": "http://[::1"}, "unparsable"),
    ],
)
def test_bad_redirects(site: LocalSite, routes: dict[str, str | None], expected: str) -> None:
    for path, target in routes.items():
        site.add(path, Response(status=302, headers={"Location": target} if target else {}))
    error = failure(site.url("/a"))
    assert isinstance(error, PermanentError)
    assert error.outcome is Outcome.BAD_REDIRECT
    assert expected in error.reason


def test_redirect_to_other_scheme_is_refused(site: LocalSite) -> None:
    site.add("/a", Response(status=302, headers={"Location": "file:///etc/passwd"}))
    assert failure(site.url("/a")).outcome is Outcome.BLOCKED_ADDRESS


@pytest.mark.parametrize("status", [404, 410, 403, 500])
def test_error_status_with_a_valid_feed_body_is_an_error(site: LocalSite, status: int) -> None:
    url = site.add("/feed", Response(RSS, status, {"Content-Type": "application/rss+xml"}))
    error = failure(url)
    expected = Outcome.SERVER_ERROR if status >= 500 else Outcome.HTTP_ERROR
    assert error.outcome is expected
    assert error.transient is (status >= 500)


@pytest.mark.parametrize(
    ("status", "outcome"), [(503, Outcome.SERVER_ERROR), (500, Outcome.SERVER_ERROR), (429, Outcome.RATE_LIMITED)]
)
def test_retry_after_is_carried(site: LocalSite, status: int, outcome: Outcome) -> None:
    url = site.add("/x", Response(b"slow down", status, {"Retry-After": "120"}))
    error = failure(url)
    assert isinstance(error, TransientError)
    assert (error.outcome, error.retry_after) == (outcome, 120.0)


def test_408_is_transient_without_retry_after(site: LocalSite) -> None:
    error = failure(site.add("/x", Response(b"", 408)))
    assert (error.outcome, error.retry_after) == (Outcome.SERVER_ERROR, None)


@pytest.mark.parametrize("response", [Response(b"", 200), Response(b"", 204)])
def test_empty_responses(site: LocalSite, response: Response) -> None:
    assert failure(site.add("/x", response)).outcome is Outcome.EMPTY


def test_connection_reset_is_a_network_error(site: LocalSite) -> None:
    def reset(h: BaseHTTPRequestHandler) -> None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.connection.close()
        h.close_connection = True

    error = failure(site.add("/x", reset))
    assert (error.outcome, error.transient) == (Outcome.NETWORK_ERROR, True)


def test_bad_status_line_is_a_network_error(site: LocalSite) -> None:
    def garbage(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"NONSENSE\r\n\r\n")
        h.close_connection = True

    assert failure(site.add("/x", garbage)).outcome is Outcome.NETWORK_ERROR


def test_unresolvable_host_is_transient() -> None:
    error = failure("http://newsmill-test.invalid/feed")
    assert (error.outcome, error.transient) == (Outcome.NETWORK_ERROR, True)


def test_non_http_scheme_is_refused() -> None:
    for url in ("ftp://example.org/feed", "file:///etc/passwd", "gopher://example.org/"):
        assert failure(url).outcome is Outcome.BLOCKED_ADDRESS


def test_png_served_as_html_is_refused(site: LocalSite) -> None:
    result = fetch(site.add("/page", Response(PNG, headers={"Content-Type": "text/html"})), POLICY)
    kinds: tuple[Literal["html", "feed"], ...] = ("html", "feed")
    for kind in kinds:
        with pytest.raises(PermanentError) as info:
            check_content_type(result, kind)
        assert info.value.outcome is Outcome.BAD_CONTENT_TYPE


@pytest.mark.parametrize(
    ("content_type", "body", "kind", "ok"),
    [
        ("application/rss+xml; charset=utf-8", RSS, "feed", True),
        ("text/html", RSS, "feed", True),
        (None, RSS, "feed", True),
        ("image/jpeg", RSS, "feed", False),
        ("application/pdf", b"%PDF-1.7 ...", "feed", False),
        ("text/xml", b"GIF89a....", "feed", False),
        ("text/html; charset=utf-8", b"<!doctype html><p>hi", "html", True),
        ("application/xhtml+xml", b"<html/>", "html", True),
        (None, b"\n <html><p>hi", "html", True),
        ("text/plain", b"just words", "html", False),
        ("application/json", b"{}", "html", False),
        ("text/html", b"\xff\xd8\xff\xe0JFIF", "html", False),
        ("text/html", b"PK\x03\x04zip", "html", False),
    ],
)
def test_check_content_type(content_type: str | None, body: bytes, kind: str, ok: bool) -> None:
    headers = {"content-type": content_type} if content_type else {}
    result = FetchResult("http://example.org/", 200, headers, body)
    if ok:
        check_content_type(result, kind)  # type: ignore[arg-type]
    else:
        with pytest.raises(PermanentError, match="bad_content_type"):
            check_content_type(result, kind)  # type: ignore[arg-type]


def test_policy_from_settings() -> None:
    settings = Settings(private_allowlist="10.0.0.0/8, 192.168.1.5", max_redirects=2)
    policy = FetchPolicy.from_settings(settings)
    assert policy.max_redirects == 2
    assert policy.max_bytes == settings.max_response_bytes
    assert [str(n) for n in policy.allowlist] == ["10.0.0.0/8", "192.168.1.5/32"]
    assert replace(policy, allowlist=()).allow_private_hosts is False
