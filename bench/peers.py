"""What a user would run instead, on the same fixture site in the same run: articles/s and CPU seconds.

- the trafilatura command line over the URL list, ``--parallel`` downloads (its per-host sleep set to 0, as
  newsmill's politeness delay is in these runs, and its SSRF guard off, the site being on loopback);
- the loop a user writes in an afternoon: feedparser, then httpx and ``trafilatura.extract`` per entry,
  one after the other;
- news-please (``NewsPlease.from_urls``, images off), when a Python with it installed is given: it pins old
  versions of newsmill's own dependencies, so it lives in its own virtualenv (see docs/performance.md).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import feedparser
import httpx
import trafilatura

_TRAFILATURA_CONFIG = """[DEFAULT]
DOWNLOAD_TIMEOUT = 30
MAX_FILE_SIZE = 20000000
MIN_FILE_SIZE = 10
SLEEP_TIME = 0
USER_AGENTS =
COOKIE =
MAX_REDIRECTS = 2
SSRF_PROTECTION = off
INSECURE_SSL_FALLBACK = off
MIN_EXTRACTED_SIZE = 250
MIN_OUTPUT_SIZE = 1
MIN_OUTPUT_COMM_SIZE = 1
MAX_TREE_SIZE =
EXTRACTION_TIMEOUT = 30
MIN_DUPLCHECK_SIZE = 100
MAX_REPETITIONS = 2
EXTENSIVE_DATE_SEARCH = on
EXTERNAL_URLS = off
"""

_NEWS_PLEASE = """
import json, sys
from newsplease import NewsPlease
urls = json.load(sys.stdin)
found = NewsPlease.from_urls(urls, request_args={"timeout": 30}, fetch_images=False)
print(json.dumps(sum(1 for a in found.values() if a is not None and (a.maintext or "").strip())))
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _row(name: str, articles: int, pages: int, seconds: float, cpu: float, **extra: Any) -> dict[str, Any]:
    return {"name": name, "articles": articles, "pages": pages, "seconds": seconds, "cpu_seconds": cpu,
            "articles_per_s": articles / seconds if seconds else 0.0, **extra}  # fmt: skip


def trafilatura_cli(urls: list[str], parallel: int = 16) -> dict[str, Any]:
    """`trafilatura -i urls.txt --parallel N --json`; an article is an output line with text.

    Documents go to stdout, one JSON line each: with ``-o DIR`` the file names are hashes of the text, so
    two pages with the same text would leave one file and be counted once."""
    with tempfile.TemporaryDirectory(prefix="nm-bench-traf-") as scratch:
        root = Path(scratch)
        (root / "urls.txt").write_text("\n".join(urls) + "\n", encoding="utf-8")
        (root / "settings.cfg").write_text(_TRAFILATURA_CONFIG, encoding="utf-8")
        argv = [str(Path(sys.executable).with_name("trafilatura")), "-i", "urls.txt", "--parallel", str(parallel),
                "--json", "--config-file", "settings.cfg"]  # fmt: skip
        cpu, started = _children_cpu(), time.perf_counter()
        done = subprocess.run(argv, cwd=root, capture_output=True, text=True, check=False)
        seconds, cpu = time.perf_counter() - started, _children_cpu() - cpu
    articles = sum(1 for line in done.stdout.splitlines() if line.strip() and json.loads(line).get("text"))
    return _row(f"trafilatura CLI (--parallel {parallel})", articles, len(urls), seconds, cpu,
                exit_code=done.returncode)  # fmt: skip


def sequential_loop(feed_urls: list[str]) -> dict[str, Any]:
    """feedparser + httpx + trafilatura.extract, one entry after another, in this process."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    pages = articles = 0
    with httpx.Client(timeout=30) as client:
        for feed_url in feed_urls:
            feed = feedparser.parse(client.get(feed_url).content)
            for entry in feed.entries:
                response = client.get(entry.link)
                pages += 1
                if response.status_code == 200 and trafilatura.extract(response.content, url=entry.link):
                    articles += 1
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return _row("feedparser + httpx + trafilatura loop", articles, pages, seconds, cpu)


def news_please(urls: list[str], python: str | None) -> dict[str, Any]:
    """news-please in its own interpreter; a row saying why when it is not available."""
    if not python or not Path(python).exists():
        return _row("news-please", 0, len(urls), 0.0, 0.0, skipped="no news-please interpreter given")
    cpu, started = _children_cpu(), time.perf_counter()
    done = subprocess.run([python, "-c", _NEWS_PLEASE], input=json.dumps(urls), capture_output=True,
                          text=True, check=False)  # fmt: skip
    seconds, cpu = time.perf_counter() - started, _children_cpu() - cpu
    if done.returncode != 0:
        return _row("news-please", 0, len(urls), seconds, cpu, error=done.stderr[-1000:])
    return _row("news-please (from_urls)", int(done.stdout.strip().splitlines()[-1]), len(urls), seconds, cpu)
