"""The real API (uvicorn + create_app) on a free port of 127.0.0.1, in a thread, for the duration of a block."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from api.app import create_app
from shared.settings import Settings


@contextmanager
def serve_api(database_url: str, **settings: Any) -> Iterator[str]:
    """Yield the base URL (``http://127.0.0.1:PORT``) of a running API; extra keyword arguments are
    Settings fields (admin_token, ...). public_url is the server's own address, so feed links resolve."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(Settings(database_url=database_url, public_url=base, **settings))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
