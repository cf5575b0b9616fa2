"""The shipped caching proxy (deploy/nginx/newsmill.conf) run by Debian's nginx on 127.0.0.1, for tests and
the serving benchmark: the same server block, with compose's upstream and Docker's resolver swapped for a
local API's address, and every path nginx writes moved into a temporary folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.embedded import free_port

CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "nginx" / "newsmill.conf"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def render(api_base: str, port: int, folder: Path, workers: int = 1) -> str:
    """A complete nginx.conf around the shipped server block, proxying to ``api_base``."""
    block = CONFIG.read_text(encoding="utf-8")
    for old, new in (
        ("resolver 127.0.0.11 valid=10s ipv6=off;", ""),
        ("set $newsmill_api http://api:8000;", f"set $newsmill_api {api_base};"),
        ("listen 8080;", f"listen 127.0.0.1:{port};"),
        ("/var/cache/nginx/newsmill", str(folder / "cache")),
    ):
        if old not in block:
            raise AssertionError(f"deploy/nginx/newsmill.conf no longer contains {old!r}")
        block = block.replace(old, new)
    user = "user root;" if os.geteuid() == 0 else ""  # workers must reach the 0700 temporary folder
    return f"""
daemon off;
{user}
worker_processes {workers};
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
{block}
}}
"""


def check(config: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on a rendered configuration."""
    assert NGINX is not None, "nginx is missing: `make services` (deploy/local-services.sh) installs Debian's nginx"
    argv = [NGINX, "-t", "-c", str(config), "-p", str(folder), "-e", str(folder / "error.log")]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


@contextmanager
def serve_proxy(api_base: str, workers: int = 1) -> Iterator[str]:
    """Run the proxy in front of ``api_base`` for the block; yields its base URL."""
    with tempfile.TemporaryDirectory(prefix="newsmill-nginx-") as tmp:
        folder = Path(tmp)
        port = free_port()
        config = folder / "nginx.conf"
        config.write_text(render(api_base, port, folder, workers), encoding="utf-8")
        checked = check(config, folder)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{checked.stderr}")
        assert NGINX is not None
        argv = [NGINX, "-c", str(config), "-p", str(folder), "-e", str(folder / "error.log")]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # see error.log
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(base, proc, folder / "error.log")
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def _wait_until_up(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited: {log.read_text(errors='replace') if log.exists() else ''}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise RuntimeError("nginx did not answer /healthz")
