"""A hostile HTTP server on 127.0.0.1 for tests: raw sockets, so it can drip, stall, lie and never end.

Each route is a behaviour writing whatever bytes it likes to the socket. A ``Canary`` listens on every
local address on another port: redirects and entities point at it, and it must never see a connection,
which proves the address guard refuses before connecting rather than after.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

Behaviour = Callable[[socket.socket, threading.Event], None]
_HEAD_LIMIT = 64 * 1024
_ZEROS = bytes(1024 * 1024)


def _head(status: int, headers: Mapping[str, str | bytes]) -> bytes:
    """The status line and headers; a bytes value goes on the wire as it is (UTF-8 in an ETag, say)."""
    lines = [f"HTTP/1.1 {status} Hostile".encode()]
    for name, value in {**headers, "Connection": "close"}.items():
        lines.append(name.encode("latin-1") + b": " + (value if isinstance(value, bytes) else value.encode("latin-1")))
    return b"\r\n".join(lines) + b"\r\n\r\n"


def respond(status: int, body: bytes = b"", headers: Mapping[str, str | bytes] | None = None) -> Behaviour:
    """A complete response; Content-Length is the real one unless ``headers`` says otherwise."""

    def run(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(_head(status, {"Content-Length": str(len(body)), **(headers or {})}))
        conn.sendall(body)

    return run


def redirect(location: str | None, status: int = 302) -> Behaviour:
    return respond(status, b"", {} if location is None else {"Location": location})


def drip(content_type: str, every: float = 0.3) -> Behaviour:
    """A byte at a time, each soon enough to beat any read timeout: only a total deadline ends it."""

    def run(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(_head(200, {"Content-Type": content_type, "Content-Length": "100000"}))
        while not stop.wait(every):
            conn.sendall(b"<")

    return run


def stall(content_type: str, *, headers_first: bool) -> Behaviour:
    """Headers and a first chunk (or nothing at all), then silence until the server stops."""

    def run(conn: socket.socket, stop: threading.Event) -> None:
        if headers_first:
            conn.sendall(_head(200, {"Content-Type": content_type, "Content-Length": "100000"}) + b"<html><p>")
        stop.wait(60)

    return run


def endless(content_type: str) -> Behaviour:
    """A body without Content-Length that never ends (the connection's close would delimit it)."""
    chunk = b"<p>" + b"endless " * 8000 + b"</p>"

    def run(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(_head(200, {"Content-Type": content_type}))
        while not stop.is_set():
            conn.sendall(chunk)

    return run


def bomb(coding: str, content_type: str) -> Behaviour:
    """An unending compression bomb: ~1 KB on the wire per MiB of zeros once inflated."""
    wbits = 16 + zlib.MAX_WBITS if coding == "gzip" else zlib.MAX_WBITS

    def run(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(_head(200, {"Content-Type": content_type, "Content-Encoding": coding}))
        packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
        while not stop.is_set():
            conn.sendall(packer.compress(_ZEROS) + packer.flush(zlib.Z_SYNC_FLUSH))

    return run


class _Listener:
    """Accepts connections in a thread, counts them, and hands each to ``serve_one`` in its own thread."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.port = sock.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        # OSError: the client gave up (limit reached, deadline passed), which is what the tests are after.
        with conn, contextlib.suppress(OSError):
            self.serve_one(conn)

    def serve_one(self, conn: socket.socket) -> None:
        conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


class HostileServer(_Listener):
    """Routes by path (query ignored) on 127.0.0.1; records every requested path; 404 for the rest."""

    def __init__(self) -> None:
        super().__init__(socket.create_server(("127.0.0.1", 0)))
        self.routes: dict[str, Behaviour] = {}
        self.paths: list[str] = []

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add(self, path: str, behaviour: Behaviour) -> str:
        self.routes[path] = behaviour
        return self.url(path)

    def serve_one(self, conn: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < _HEAD_LIMIT:
            data = conn.recv(4096)
            if not data:
                return
            head += data
        target = head.split(b"\r\n", 1)[0].split(b" ")
        path = target[1].decode("latin-1") if len(target) > 1 else "/"
        self.paths.append(path)
        route = self.routes.get(path.split("?", 1)[0], respond(404, b"no such route", {"Content-Type": "text/plain"}))
        route(conn, self.stop)


class Canary(_Listener):
    """Listens on every local address (IPv4 and IPv6) of one port; any connection is a guard failure."""

    def __init__(self) -> None:
        super().__init__(socket.create_server(("::", 0), family=socket.AF_INET6, dualstack_ipv6=True))


@contextmanager
def hostile() -> Iterator[tuple[HostileServer, Canary]]:
    """A hostile server and a canary, running until the block ends."""
    server, canary = HostileServer(), Canary()
    server.start()
    canary.start()
    try:
        yield server, canary
    finally:
        server.close()
        canary.close()
