"""Serving the rendered demo site on 127.0.0.1 from a thread of the demo process, with ETags for re-polls."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cli.demo_site import Page


def _handler(pages: dict[str, Page]) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # the live display owns the terminal
            return

        def do_GET(self) -> None:
            page = pages.get(self.path.split("?")[0])
            if page is None:
                page = Page(b"not found", "text/plain")
                self.send_response(404)
            elif self.headers.get("If-None-Match") == page.etag:  # a re-poll of an unchanged feed
                self.send_response(304)
                self.send_header("ETag", page.etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            else:
                self.send_response(200)
                self.send_header("ETag", page.etag)
            self.send_header("Content-Type", page.content_type)
            self.send_header("Content-Length", str(len(page.body)))
            self.end_headers()
            self.wfile.write(page.body)

    return _Handler


@contextmanager
def serve_site(pages: dict[str, Page], port: int) -> Iterator[str]:
    """Serve ``pages`` on 127.0.0.1:``port`` in a thread until the block ends; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(pages))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="demo-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
