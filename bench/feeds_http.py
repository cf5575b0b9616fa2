"""Topic feed serving: `newsmill api` under 200 concurrent connections on loopback, with and without ETags.

A fresh database gets the seed topics and the saved pages published through the real extract and enrich
steps; the API runs as shipped (`newsmill api`, one uvicorn process); the topic with the most articles is
asked for as Atom, by wrk (Debian package) when installed, else by a bounded asyncio httpx client. The
conditional case sends the ETag of the first answer in If-None-Match, as a feed reader would (304s). When
nginx is installed, both cases run again through the caching proxy we ship (deploy/nginx/newsmill.conf).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
import time
from typing import Any

import httpx
import psycopg

from bench.infra import REPO, fresh_database, load_seed_topics
from bench.site import load_originals
from harness.articles import publish_page
from harness.nginx_proxy import NGINX, serve_proxy
from harness.processes import inherited_env
from shared.embedded import free_port

_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _publish(database_url: str, pages: int) -> str:
    """Publish saved pages; returns the slug of the topic with the most articles."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for k, html in enumerate(load_originals(pages)):
            try:
                publish_page(conn, f"http://news{k % 7}.example/story/{k}.html", html)
            except AssertionError:
                continue  # a page without article text ends failed, as in production
        row = conn.execute(
            "SELECT t.slug FROM article_topics a JOIN topics t ON t.id = a.topic_id GROUP BY 1 ORDER BY count(*) DESC"
        ).fetchone()
    if row is None:
        raise RuntimeError("no published article was tagged with a topic")
    return str(row[0])


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value.strip()).groups()  # type: ignore[union-attr]
    return float(number) * _UNIT[unit]


def run_wrk(url: str, connections: int, seconds: int, headers: dict[str, str]) -> dict[str, Any]:
    argv = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    if "50" not in latency:
        raise RuntimeError(f"wrk printed no latency distribution:\n{out}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)$", out, re.MULTILINE)
    return {
        "tool": "wrk", "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(latency["50"]), "p99_ms": _ms(latency["99"]),
        "non_2xx_3xx": int(non_2xx.group(1)) if non_2xx else 0, "socket_errors": errors.group(1) if errors else None,
    }  # fmt: skip


async def _client_load(url: str, connections: int, seconds: int, headers: dict[str, str]) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10, headers=headers) as client:

        async def one_connection() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.get(url)
                except httpx.TransportError:  # counted, as wrk counts its socket errors
                    statuses[0] = statuses.get(0, 0) + 1
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(one_connection() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    if not latencies:
        return {"tool": "httpx asyncio client", "requests_per_s": 0.0, "requests": 0, "p50_ms": 0.0, "p99_ms": 0.0,
                "statuses": statuses}  # fmt: skip
    return {"tool": "httpx asyncio client", "requests_per_s": len(latencies) / elapsed, "requests": len(latencies),
            "p50_ms": latencies[len(latencies) // 2], "p99_ms": latencies[int(len(latencies) * 0.99)],
            "statuses": statuses}  # fmt: skip


def load(url: str, connections: int, seconds: int, headers: dict[str, str]) -> dict[str, Any]:
    if shutil.which("wrk"):
        return run_wrk(url, connections, seconds, headers)
    return asyncio.run(_client_load(url, connections, seconds, headers))


def run_feed_serving(connections: int = 200, seconds: int = 15, pages: int = 200) -> dict[str, Any]:
    """Requests/s and latency of one topic's Atom feed, plain and conditional."""
    if not (REPO / "api" / "app.py").exists():
        return {"skipped": "the API (api/app.py) does not exist in this checkout"}
    with fresh_database() as db_url:
        load_seed_topics(db_url)
        slug = _publish(db_url, pages)
        port = free_port()
        env = inherited_env()
        env.update(NEWSMILL_DATABASE_URL=db_url, NEWSMILL_LOG_LEVEL="WARNING")
        api = subprocess.Popen(
            [sys.executable, "-m", "cli", "api", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}/topics/{slug}.atom"
            first = _wait_for(url, api)
            etag = first.headers.get("etag", "")
            result: dict[str, Any] = {"topic": slug, "url_path": f"/topics/{slug}.atom", "bytes": len(first.content),
                                      "connections": connections, "seconds": seconds}  # fmt: skip
            # A light concurrency first, for reference (a server that stalls under the asked one may not
            # recover within the run), then the asked one.
            for level in dict.fromkeys([min(connections, 20), connections]):
                key = "" if level == connections else f"_{level}_connections"
                result["plain" + key] = load(url, level, seconds, {})
                result["if_none_match" + key] = load(url, level, seconds, {"If-None-Match": etag}) if etag else None
            # The same load through the caching proxy we ship (deploy/nginx/newsmill.conf), when nginx is here.
            if NGINX is not None:
                with serve_proxy(f"http://127.0.0.1:{port}", workers=2) as proxy:
                    proxied = f"{proxy}/topics/{slug}.atom"
                    httpx.get(proxied, timeout=10)  # the first request fills the cache
                    result["proxy_plain"] = load(proxied, connections, seconds, {})
                    result["proxy_if_none_match"] = load(proxied, connections, seconds, {"If-None-Match": etag})
        finally:
            api.terminate()
            try:
                api.wait(15)
            except subprocess.TimeoutExpired:  # uvicorn waits for keep-alive connections to close
                api.kill()
                api.wait()
    return result


def _wait_for(url: str, api: subprocess.Popen[bytes], wait: float = 60) -> httpx.Response:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if api.poll() is not None:
            raise RuntimeError(f"newsmill api exited: {(api.stderr.read() if api.stderr else b'').decode()[-2000:]}")
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer 200 within {wait} s")
