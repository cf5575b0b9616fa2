"""Scale-out under compose: one site through 1, 2 and 3 worker-extract containers, every worker at half a CPU.

``uv run python -m bench.compose_scale [--pages 400] [--replicas 1 2 3] [--json OUT]`` (as root, like
`make compose-test`, whose engine, images and override it uses, plus bench/compose_scale.yaml). For each
count a fresh fleet (`down --volumes`, `up --scale worker-extract=N`) ingests the site's pages from RSS feeds
of 50 (the pages of NEWSMILL_BENCH_PAGES_DIR, copies beyond them; bench/site.py), and we read:

- articles/s: articles published / (last one published - first item discovered), from the database;
- CPU per article: the worker-extract containers' CPU time (from their cgroups) over the articles, and the
  whole fleet's (every container: workers, beat, api, PostgreSQL, Redis, not the site);
- publication lock: mean wait and hold of ``newsmill_publish_lock_seconds`` on worker-enrich, and the articles
  published per hold (a batch publishes together);
- database bytes per article, by table (tables, TOAST and indexes; the small ones left out).

Prints a table (docs/operations.md, "Scale-out, measured", keeps the last one) and writes JSON if asked.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.site import PAGES_DIR
from tests.support.compose_images import build_images
from tests.support.compose_project import OVERRIDE, SITE, Fleet, wait_until, write_env
from tests.support.docker_engine import DockerEngine, own_engine

SCALE_OVERRIDE = Path(__file__).with_name("compose_scale.yaml")
WORKERS = ("worker-feeds", "worker-fetch", "worker-extract", "worker-enrich", "worker-deliver")
PER_FEED = 50


def log(message: str) -> None:
    print(f"[compose-scale] {message}", flush=True)


def _ping(fleet: Fleet, service: str, index: int) -> bool:
    try:
        fleet.exec(service, "newsmill", "healthcheck", "worker", service.removeprefix("worker-"), index=index)
    except AssertionError:
        return False
    return True


def _running(fleet: Fleet) -> dict[str, str]:
    """Running containers' ids → service, the site excepted (it is the load, not the system under test)."""
    return {c["Id"]: c["Config"]["Labels"]["com.docker.compose.service"]
            for c in fleet.containers() if c["State"]["Status"] == "running"
            and c["Config"]["Labels"]["com.docker.compose.service"] != "site"}  # fmt: skip


def _cpu(engine: DockerEngine, containers: dict[str, str]) -> dict[str, float]:
    return {cid: engine.cpu_seconds(cid) for cid in containers}


def measure(fleet: Fleet, pages: int, replicas: int) -> dict[str, Any]:
    fleet.compose("down", "--volumes", "--timeout", "30")
    fleet.compose("up", "-d", "--scale", f"worker-extract={replicas}")
    fleet.wait_healthy(unchecked=frozenset({*WORKERS, "beat", "api"}))
    for service in WORKERS:
        for index in range(1, (replicas if service == "worker-extract" else 1) + 1):
            wait_until(lambda s=service, i=index: _ping(fleet, s, i), 180, f"{service} #{index} answering")
    containers = _running(fleet)
    before, load_before = _cpu(fleet.engine, containers), os.getloadavg()
    feeds = [f"{SITE}/feeds/{n}.xml" for n in range(math.ceil(pages / PER_FEED))]
    fleet.exec("beat", "newsmill", "feeds", "add", *feeds)
    pending = "SELECT count(*) FROM items WHERE state NOT IN ('published', 'failed')"
    wait_until(lambda: fleet.sql("SELECT count(*) FROM items")[0][0] == str(pages)
               and fleet.sql(pending)[0][0] == "0", 1800, "every item published or failed", every=2)  # fmt: skip
    after = _cpu(fleet.engine, containers)
    span = ("SELECT count(*), extract(epoch FROM max(updated_at) - (SELECT min(created_at) FROM items)),"
            " (SELECT count(*) FROM items WHERE state = 'failed') FROM newsmill.articles_published")  # fmt: skip
    published, seconds, failed = fleet.sql(span)[0]
    sizes = fleet.sql("SELECT relname, pg_total_relation_size(oid) FROM pg_class"
                      " WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace")  # fmt: skip
    lock = fleet.metrics("worker-enrich")
    used = {cid: after[cid] - before[cid] for cid in containers}
    extract_cpu = sum(v for cid, v in used.items() if containers[cid] == "worker-extract")

    def mean(phase: str) -> float:
        count = lock[f'newsmill_publish_lock_seconds_count{{phase="{phase}"}}']
        return lock[f'newsmill_publish_lock_seconds_sum{{phase="{phase}"}}'] / count * 1000 if count else 0.0

    result = {
        "extract_containers": replicas, "articles": int(published), "failed": int(failed),
        "seconds": float(seconds), "articles_per_s": int(published) / float(seconds),
        "extract_cpu_ms_per_article": extract_cpu / int(published) * 1000,
        "fleet_cpu_ms_per_article": sum(used.values()) / int(published) * 1000,
        "cpu_by_service_s": {s: round(sum(v for c, v in used.items() if containers[c] == s), 1)
                             for s in sorted(set(containers.values()))},
        "lock_wait_ms": mean("wait"), "lock_hold_ms": mean("hold"),
        "articles_per_lock": int(published) / max(lock['newsmill_publish_lock_seconds_count{phase="hold"}'], 1),
        "db_bytes_per_article": {name: int(size) // int(published) for name, size in sizes if int(size) > 65536},
        "load_average": [load_before, os.getloadavg()],
    }  # fmt: skip
    log(json.dumps(result))
    return result


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| worker-extract containers (0.5 CPU each) | articles/s | extract CPU per article | fleet CPU per article"
        " | publication lock wait (mean) | lock hold (mean) | articles per hold |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ms = [r[k] for k in ("extract_cpu_ms_per_article", "fleet_cpu_ms_per_article", "lock_wait_ms", "lock_hold_ms")]
        cells = [str(r["extract_containers"]), f"{r['articles_per_s']:.1f}", *(f"{v:.1f} ms" for v in ms)]
        lines.append("| " + " | ".join([*cells, f"{r['articles_per_lock']:.1f}"]) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    began = time.monotonic()
    results = []
    with own_engine(log) as engine, tempfile.TemporaryDirectory(prefix="nmct-scale-") as directory:
        images = build_images(engine, log)
        # No politeness delay: the test paces its one host so its feeds are still flowing when it kills a
        # worker; here the site must not be what limits the rate.
        write_env(Path(directory) / ".env", images, args.pages, pages_dir=PAGES_DIR, NEWSMILL_HOST_MIN_DELAY="0")
        fleet = Fleet(engine, Path(directory), overrides=(OVERRIDE, SCALE_OVERRIDE))
        try:
            for replicas in args.replicas:
                results.append(measure(fleet, args.pages, replicas))
        finally:
            fleet.compose("down", "--volumes", "--timeout", "30")
    print(f"\n{args.pages} pages from {PAGES_DIR}, {time.monotonic() - began:.0f} s in all\n")
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps({"pages": args.pages, "pages_dir": str(PAGES_DIR), "runs": results}, indent=2))


if __name__ == "__main__":
    main()
