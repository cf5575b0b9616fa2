"""The benchmarks' fixture site: saved article pages and feeds served from a separate process on loopback.

Pages come from ../shared/devdata/trafilatura-eval/pages (200 real news pages in many languages), else from
tests/fixtures/pages (7 pages, in a fresh clone), or NEWSMILL_BENCH_PAGES_DIR; then the 7 saved pages of the
tests (real sites outside the evaluation set) and generated pages in 19 languages (UDHR text in varied site
templates, bench/boilerplate_pages.py): 245 originals in all with the evaluation set. A run that
needs more than the originals serves copy ``c`` of page ``i`` at its own URL, with one extra paragraph naming the copy
inserted after the page's longest plain paragraph (inside the extracted text on 150 of the 200 pages):
distinct documents and URLs, the same article otherwise, like a story syndicated across sites. Near-duplicate
detection marks such copies as duplicates; they are still extracted, enriched and published, so the work
per article is the same. Copy bodies are made per request, so 10,000 pages cost no more memory than 200.

The server is a small asyncio HTTP/1.1 server (keep-alive, ``If-None-Match`` → 304) in its own process,
listening on several loopback addresses (127.0.0.11, .12, ...): each is a "host" for politeness and for
tools that download one URL per host at a time. Its CPU is measured apart from the system under test.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import signal
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parents[1]
DEVDATA_PAGES = REPO.parent / "shared" / "devdata" / "trafilatura-eval" / "pages"
# A fresh clone has no ../shared: the smoke run (and CI) then uses the saved pages the tests carry.
FIXTURE_PAGES = REPO / "tests" / "fixtures" / "pages"
PAGES_DIR = Path(
    os.environ.get("NEWSMILL_BENCH_PAGES_DIR") or (DEVDATA_PAGES if DEVDATA_PAGES.is_dir() else FIXTURE_PAGES)
)
_PARAGRAPH = re.compile(rb"<p[\s>][^<]{80,}?</p\s*>", re.IGNORECASE)
HTML_TYPE = b"text/html"
RSS_TYPE = b"application/rss+xml; charset=utf-8"


@dataclass(frozen=True)
class Route:
    """A response: fixed ``body``, or page ``page`` of the originals with copy number ``copy`` inserted."""

    content_type: bytes
    body: bytes = b""
    page: int = -1
    copy: int = 0
    etag: bytes | None = None


@dataclass
class Site:
    """Every path is served on every host; URLs spread pages over the hosts."""

    hosts: list[str]
    originals: list[bytes] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)  # where a copy's paragraph goes, per original
    routes: dict[bytes, Route] = field(default_factory=dict)
    ports: list[int] = field(default_factory=list)
    pages: int = 0
    per_feed: int = 50

    def base(self, host_index: int) -> str:
        return f"http://{self.hosts[host_index]}:{self.ports[host_index]}"

    def body(self, route: Route) -> bytes:
        if route.page < 0:
            return route.body
        html, at = self.originals[route.page], self.offsets[route.page]
        if route.copy == 0:
            return html
        extra = f"<p>Copy {route.copy} of this story, carried by partner site number {route.copy}.</p>".encode()
        return html[:at] + extra + html[at:]


def load_originals(limit: int | None = None, directory: Path = PAGES_DIR, generated: int = 1) -> list[bytes]:
    """The saved pages of ``directory``, then the test fixtures' saved pages (real sites not in the evaluation
    set), then ``generated`` article pages per language and part built from text nobody here wrote
    (bench/boilerplate_pages.py: UDHR articles in 19 languages, in varied site templates with trailers)."""
    from bench.boilerplate_pages import pages as generated_pages  # noqa: PLC0415 - builds them from data

    files = sorted(directory.glob("*.html"))
    if directory != FIXTURE_PAGES:
        files += sorted(FIXTURE_PAGES.glob("*.html"))
    saved = [p.read_bytes() for p in files]
    made = [page.html.encode("utf-8") for page in generated_pages(per_language=generated)] if generated else []
    return (saved + made)[:limit]


def article_site(pages: int, hosts: int = 10, per_feed: int = 50, originals: list[bytes] | None = None) -> Site:
    """``pages`` article pages spread over ``hosts`` hosts, listed by RSS feeds of ``per_feed`` entries each."""
    site = Site([f"127.0.0.{11 + h}" for h in range(hosts)], originals or load_originals())
    for html in site.originals:
        longest = max(_PARAGRAPH.finditer(html), key=lambda m: m.end() - m.start(), default=None)
        site.offsets.append(longest.end() if longest else len(html))
    site.routes[b"/robots.txt"] = Route(b"text/plain", b"User-agent: *\nAllow: /\n")
    n = len(site.originals)
    for k in range(pages):
        site.routes[f"/a/{k}.html".encode()] = Route(HTML_TYPE, page=k % n, copy=k // n)
    site.pages = pages
    site.per_feed = per_feed
    return site


def add_article_feeds(site: Site) -> list[str]:
    """RSS feeds listing the site's pages, ``per_feed`` each (call once the ports are known); their URLs."""
    urls = []
    for f, start in enumerate(range(0, site.pages, site.per_feed)):
        entries = [(f"Story {k}", page_url(site, k)) for k in range(start, min(start + site.per_feed, site.pages))]
        path = f"/feeds/{f}.xml"
        site.routes[path.encode()] = Route(RSS_TYPE, rss(f"Bench feed {f}", entries))
        urls.append(site.base(f % len(site.hosts)) + path)
    return urls


def page_url(site: Site, k: int) -> str:
    return f"{site.base(k % len(site.hosts))}/a/{k}.html"


def rss(title: str, entries: list[tuple[str, str]], pub_date: str = "Mon, 18 Nov 2024 10:15:00 +0000") -> bytes:
    """An RSS 2.0 document of (title, link) entries; the link is the GUID."""
    body = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(u)}</link><guid>{escape(u)}</guid>"
        f"<pubDate>{pub_date}</pubDate></item>"
        for t, u in entries
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{escape(title)}</title>'
        f"<link>http://example.invalid/</link><description>bench</description>{body}</channel></rss>"
    ).encode()


def _reply(site: Site, route: Route | None, request_etag: bytes | None, keep_alive: bool) -> bytes:
    conn = b"keep-alive" if keep_alive else b"close"
    if route is None:
        return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: " + conn + b"\r\n\r\n"
    etag = b"ETag: " + route.etag + b"\r\n" if route.etag else b""
    if route.etag is not None and request_etag == route.etag:
        return b"HTTP/1.1 304 Not Modified\r\n" + etag + b"Connection: " + conn + b"\r\n\r\n"
    body = site.body(route)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n%sConnection: %s\r\n\r\n" % (
        route.content_type, len(body), etag, conn,
    )  # fmt: skip
    return head + body


class _Http(asyncio.Protocol):
    def __init__(self, site: Site) -> None:
        self.site = site
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:  # GET only: no request bodies
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            parts = lines[0].split(b" ")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])}
            keep = headers.get(b"connection", b"").lower() != b"close" and parts[-1] == b"HTTP/1.1"
            route = self.site.routes.get(parts[1].split(b"?")[0]) if len(parts) == 3 else None
            self.transport.write(_reply(self.site, route, headers.get(b"if-none-match"), keep))
            if not keep:
                self.transport.close()
                return


async def _serve(site: Site, sockets: list[socket.socket]) -> None:
    loop = asyncio.get_running_loop()
    for sock in sockets:
        await loop.create_server(lambda: _Http(site), sock=sock, backlog=4096)
    await asyncio.Event().wait()


def _child(site: Site, sockets: list[socket.socket]) -> None:
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    asyncio.run(_serve(site, sockets))


@contextmanager
def serve(site: Site, prepare: Callable[[Site], object] | None = None, port: int = 0) -> Iterator[int]:
    """Serve ``site`` from a forked process until the block ends; yields the server's pid.

    The sockets are bound first (on ``port``, by default any free one), so ``site.ports`` is known to
    ``prepare`` (which adds routes naming them, such as feeds) before the server process takes its copy of
    the routes."""
    sockets = []
    for host in site.hosts:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(4096)
        sockets.append(sock)
    site.ports = [s.getsockname()[1] for s in sockets]
    if prepare is not None:
        prepare(site)
    process = multiprocessing.get_context("fork").Process(target=_child, args=(site, sockets), daemon=True)
    process.start()
    for sock in sockets:
        sock.close()  # the child has its own copies
    try:
        assert process.pid is not None
        yield process.pid
    finally:
        process.terminate()
        process.join(10)
