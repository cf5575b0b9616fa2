"""A WebSub subscriber on 127.0.0.1 for tests: confirms (or refuses) verification requests by echoing the
challenge, and records every content distribution it receives with the time it arrived."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from tests.support.http_server import RequestHandler, serve

CALLBACK_PATH = "/websub/callback"


@dataclass
class Push:
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival


@dataclass
class Subscriber:
    confirm: bool = True  # echo the challenge (confirm the intent), or answer 404
    answer: int = 200  # the status content distributions get
    verifications: list[dict[str, str]] = field(default_factory=list)
    pushes: list[Push] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: RequestHandler) -> None:
        if request.command == "GET":
            query = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
            with self.lock:
                self.verifications.append(query)
            body = query.get("hub.challenge", "").encode() if self.confirm else b"no"
            status = 200 if self.confirm else 404
        else:
            with self.lock:
                self.pushes.append(Push({k.lower(): v for k, v in request.headers.items()}, request.body,
                                        time.monotonic()))  # fmt: skip
            body, status = b"", self.answer
        request.send_response(status)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


@contextmanager
def subscribed(subscriber: Subscriber) -> Iterator[str]:
    """Serve ``subscriber``; yields its callback URL."""
    with serve() as site:
        yield site.add(CALLBACK_PATH, subscriber.handle)
