"""A real HTTP server on 127.0.0.1 for tests: static routes or handler callables (GET and POST), in a thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Response:
    """A canned response; ``body`` is sent as is (already encoded)."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class RequestHandler(BaseHTTPRequestHandler):
    """What a handler route is given: the request, and ``body``, the bytes a POST sent (empty for a GET)."""

    body: bytes = b""


Handler = Callable[[RequestHandler], None]
Route = Response | Handler


class LocalSite:
    """Routes by path (query string ignored); records every request path it was asked for."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url(path)

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p.split("?")[0] == path)


def _make_handler(site: LocalSite) -> type[RequestHandler]:
    class _Handler(RequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            self.body = b""  # one handler serves every request of a keep-alive connection
            self._answer()

        def do_POST(self) -> None:
            # Read the body first, so a canned answer leaves the keep-alive connection clean.
            self.body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self._answer()

        def _answer(self) -> None:
            site.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = site.routes.get(self.path.split("?")[0])
            if route is None:
                route = Response(b"not found", 404, {"Content-Type": "text/plain"})
            if callable(route):
                route(self)
                return
            self.send_response(route.status)
            headers = {"Content-Length": str(len(route.body)), **route.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if route.body:
                self.wfile.write(route.body)

    return _Handler


@contextmanager
def serve(site: LocalSite | None = None) -> Iterator[LocalSite]:
    """Serve ``site`` on a free port of 127.0.0.1 until the block ends."""
    site = site or LocalSite()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(site))
    server.daemon_threads = True
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
