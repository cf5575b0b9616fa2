"""fetch's limits against hostile local servers: sizes, compression bombs, drips and stalls."""

from __future__ import annotations

import functools
import gzip
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler

import pytest

from shared.errors import Outcome, StageError
from shared.http_client import FetchPolicy, fetch
from tests.support.http_server import LocalSite, Response, serve

MIB = 1024 * 1024
POLICY = FetchPolicy(
    connect_timeout=2.0,
    read_timeout=2.0,
    total_timeout=5.0,
    max_bytes=MIB,
    max_redirects=3,
    allow_private_hosts=True,  # the test server lives on 127.0.0.1
    user_agent="newsmill-test/1.0",
)
STOP = threading.Event()  # set at the end of each test so drips and stalls in server threads give up


@pytest.fixture(scope="module")
def served() -> Iterator[LocalSite]:
    with serve() as s:
        yield s


@pytest.fixture
def site(served: LocalSite) -> Iterator[LocalSite]:
    served.routes.clear()
    served.requests.clear()
    STOP.clear()
    yield served
    STOP.set()


def failure(url: str, policy: FetchPolicy = POLICY) -> StageError:
    with pytest.raises(StageError) as info:
        fetch(url, policy)
    return info.value


@functools.cache
def bomb(wbits: int, size: int = 128 * MIB) -> bytes:
    """``size`` zero bytes compressed (about 1000:1), built a megabyte at a time to keep the test light."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = bytes(MIB)
    return b"".join([compressor.compress(zeros) for _ in range(size // MIB)] + [compressor.flush()])


def streaming(headers: dict[str, str], chunks: Callable[[], Iterator[bytes]]) -> Callable[..., None]:
    """A handler sending ``headers`` then each chunk until the client goes away or the test ends."""

    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        for name, value in headers.items():
            h.send_header(name, value)
        h.end_headers()
        h.close_connection = True
        try:
            for chunk in chunks():
                if STOP.is_set():
                    return
                h.wfile.write(chunk)
                h.wfile.flush()
        except OSError:
            return  # the client hung up, as it should

    return handle


def closing(response: Response) -> Callable[[BaseHTTPRequestHandler], None]:
    """Serve ``response`` on a connection closed afterwards: the client hangs up mid-body, on purpose."""
    headers = {"Content-Length": str(len(response.body)), **response.headers}
    return streaming(headers, lambda: iter([response.body]))


def test_declared_content_length_over_the_limit_is_refused_before_reading(site: LocalSite) -> None:
    def nothing_yet() -> Iterator[bytes]:
        STOP.wait(5)
        yield b""

    started = time.monotonic()
    error = failure(site.add("/big", streaming({"Content-Length": str(10 * 1024**3)}, nothing_yet)))
    assert error.outcome is Outcome.TOO_LARGE
    assert time.monotonic() - started < 1.5  # did not wait for a body


def test_endless_body_stops_at_the_limit(site: LocalSite) -> None:
    def endless() -> Iterator[bytes]:
        while True:
            yield b"x" * 65536

    assert failure(site.add("/endless", streaming({}, endless))).outcome is Outcome.TOO_LARGE


def test_body_at_the_limit_is_fine_and_truncate_keeps_the_head(site: LocalSite) -> None:
    site.add("/exact", Response(b"a" * MIB))
    assert fetch(site.url("/exact"), POLICY).body == b"a" * MIB
    url = site.add("/over", closing(Response(b"b" * (MIB + 10))))
    assert failure(url).outcome is Outcome.TOO_LARGE
    assert fetch(url, POLICY, truncate=True).body == b"b" * MIB


@pytest.mark.parametrize(
    ("coding", "wbits"),
    [("gzip", 16 + zlib.MAX_WBITS), ("deflate", zlib.MAX_WBITS), ("deflate", -zlib.MAX_WBITS)],
    ids=["gzip", "zlib-deflate", "raw-deflate"],
)
def test_compression_bomb_is_refused_without_inflating(site: LocalSite, coding: str, wbits: int) -> None:
    payload = bomb(wbits)
    assert len(payload) < 300 * 1024  # a few hundred KB on the wire, 128 MiB inflated
    url = site.add("/bomb", closing(Response(payload, headers={"Content-Encoding": coding})))
    tracemalloc.start()
    try:
        error = failure(url)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert error.outcome is Outcome.TOO_LARGE
    assert peak < 8 * MIB  # the budget is 1 MiB; inflating the bomb would need 128


@pytest.mark.parametrize(
    ("coding", "encoded"),
    [
        ("gzip", gzip.compress(b"<rss>hello</rss>", mtime=0)),
        ("x-gzip", gzip.compress(b"<rss>hello</rss>", mtime=0)),
        (
            "gzip",
            gzip.compress(b"<rss>hel", mtime=0) + gzip.compress(b"lo</rss>", mtime=0),
        ),  # two members (RFC 1952 §2.2)
        ("deflate", zlib.compress(b"<rss>hello</rss>")),
        ("deflate", zlib.compress(b"<rss>hello</rss>", wbits=-zlib.MAX_WBITS)),
        ("identity", b"<rss>hello</rss>"),
    ],
)
def test_compressed_bodies_are_decoded(site: LocalSite, coding: str, encoded: bytes) -> None:
    url = site.add("/feed", Response(encoded, headers={"Content-Encoding": coding}))
    assert fetch(url, POLICY).body == b"<rss>hello</rss>"


@pytest.mark.parametrize(("coding", "body"), [("br", b"\x1b\x00"), ("gzip", b"not gzip at all"), ("zstd", b"x")])
def test_unsupported_or_corrupt_encoding_is_an_error(site: LocalSite, coding: str, body: bytes) -> None:
    error = failure(site.add("/feed", Response(body, headers={"Content-Encoding": coding})))
    assert (error.outcome, error.transient) == (Outcome.HTTP_ERROR, False)


def test_slow_drip_ends_at_the_total_deadline(site: LocalSite) -> None:
    def drip() -> Iterator[bytes]:
        while not STOP.wait(0.2):  # well inside the read timeout: only the overall deadline can stop it
            yield b"x"

    policy = replace(POLICY, total_timeout=1.0, read_timeout=2.0)
    started = time.monotonic()
    error = failure(site.add("/drip", streaming({"Content-Length": "1000"}, drip)), policy)
    assert (error.outcome, error.transient) == (Outcome.TIMEOUT, True)
    assert time.monotonic() - started < 2.5


def test_total_deadline_spans_redirects(site: LocalSite) -> None:
    def slow_redirect(target: str) -> Callable[[BaseHTTPRequestHandler], None]:
        def handle(h: BaseHTTPRequestHandler) -> None:
            STOP.wait(0.4)
            h.send_response(302)
            h.send_header("Location", target)
            h.send_header("Content-Length", "0")
            h.end_headers()

        return handle

    for hop in range(3):
        site.add(f"/r{hop}", slow_redirect(f"/r{hop + 1}"))
    site.add("/r3", Response(b"finally"))
    policy = replace(POLICY, total_timeout=1.0, read_timeout=2.0)
    started = time.monotonic()
    assert failure(site.url("/r0"), policy).outcome is Outcome.TIMEOUT
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("headers_first", [True, False], ids=["stall-in-body", "stall-before-status"])
def test_stalled_response_hits_the_read_timeout(site: LocalSite, headers_first: bool) -> None:
    def stall(h: BaseHTTPRequestHandler) -> None:
        if headers_first:
            h.send_response(200)
            h.send_header("Content-Length", "100")
            h.end_headers()
            h.wfile.write(b"partial")
            h.wfile.flush()
        STOP.wait(10)
        h.close_connection = True

    policy = replace(POLICY, read_timeout=0.3, total_timeout=5.0)
    started = time.monotonic()
    error = failure(site.add("/stall", stall), policy)
    assert error.outcome is Outcome.TIMEOUT
    assert "total" not in error.reason  # the read timeout fired, not the overall deadline
    assert time.monotonic() - started < 2.0
