"""The benchmark suite in one command: ``uv run python -m bench [--smoke] [--only NAME ...] [--json OUT]``.

Runs, in this order and on one fixture site: raw trafilatura in 2 processes (the bound), the fleet end to
end, raw trafilatura again (the faster of the two runs is the bound), the peers; then polling scale,
topic-feed serving (when the API exists) and memory under a longer ingest. Prints a table and writes every
figure as JSON (default: bench/results/bench-<UTC time>.json).
``--smoke`` runs each part on a few pages or feeds, to keep the harness working (tests/test_bench_smoke.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import peers, report
from bench.feeds_http import run_feed_serving
from bench.pipeline import raw_extraction, run_pipeline
from bench.polling import run_polling
from bench.site import add_article_feeds, article_site, page_url, serve
from bench.stage_costs import stage_costs

REPO = Path(__file__).resolve().parents[1]
PARTS = ("ingest", "peers", "polling", "serving", "memory")


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()
    except FileNotFoundError:  # no git: a source tarball
        return ""


def _machine() -> dict[str, Any]:
    return {
        "commit": _git("rev-parse", "HEAD") or "unknown", "dirty_tree": bool(_git("status", "--porcelain")),
        "cpus": os.cpu_count(),
        "python": platform.python_version(), "platform": platform.platform(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_before": os.getloadavg(),
    }  # fmt: skip


def ingest_and_peers(
    pages: int, parts: set[str], news_please: str | None, profile_to: Path | None, rounds: int = 1
) -> dict[str, Any]:
    """Raw extraction, the fleet and the peers against one served site, one after the other; with ``rounds``
    above 1 the fleet and the bound after it are run again, each round's ratio taken against the bound on its
    two sides (``rounds`` in the result; the first round is the one reported in full)."""
    site = article_site(pages)
    feed_urls: list[str] = []
    out: dict[str, Any] = {}
    with serve(site, lambda s: feed_urls.extend(add_article_feeds(s))) as site_pid:
        urls = [page_url(site, k) for k in range(site.pages)]
        before = raw_extraction(site)
        if "ingest" in parts:
            out["stages"] = stage_costs(feed_urls)
            out["ingest"] = run_pipeline(site, feed_urls, site_pid, profile_to=profile_to)
            # The machine's speed drifts between runs (a shared host): the bound is measured on both sides
            # of the fleet and the faster of the two is the one the ratio is taken against.
            after = raw_extraction(site)
            out["raw"] = {**max(before, after, key=lambda r: r["articles_per_s"]), "runs": [before, after]}
            out["rounds"] = [_round(out["ingest"], before, after)]
            out["ingest"]["ratio_to_raw"] = out["rounds"][0]["ratio_to_raw"]
            if fleet := out["ingest"].get("cpu_ms_per_article"):
                own = out["stages"]["cpu_ms_per_article"] + out["stages"].get("postgres_cpu_ms_per_article", 0.0)
                out["ingest"]["share_outside_stages"] = max(0.0, 1 - own / fleet)
            for _ in range(rounds - 1):
                before, again = after, run_pipeline(site, feed_urls, site_pid)
                after = raw_extraction(site)
                out["rounds"].append(_round(again, before, after))
        else:
            out["raw"] = {**before, "runs": [before]}
        if "peers" in parts:
            out["peers"] = [
                peers.trafilatura_cli(urls),
                peers.sequential_loop(feed_urls),
                peers.news_please(urls, news_please),
            ]
    out["load_average_after"] = os.getloadavg()
    return out


def _round(ingest: dict[str, Any], before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """One fleet run against the faster of the bounds measured just before and just after it."""
    bound = max(before["articles_per_s"], after["articles_per_s"])
    return {
        "articles_per_s": ingest["articles_per_s"], "bound": bound,
        "ratio_to_raw": ingest["articles_per_s"] / bound if bound else 0.0,
        "cpu_ms_per_article": ingest.get("cpu_ms_per_article", 0.0), "published": ingest.get("published", 0),
    }  # fmt: skip


def memory_run(pages: int) -> dict[str, Any]:
    site = article_site(pages)
    feed_urls: list[str] = []
    with serve(site, lambda s: feed_urls.extend(add_article_feeds(s))) as site_pid:
        return run_pipeline(site, feed_urls, site_pid, timeout=3600)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a few pages and feeds: checks the harness only")
    parser.add_argument("--only", nargs="+", choices=PARTS, help="run only these parts")
    parser.add_argument("--pages", type=int, default=600, help="article pages of the ingest run")
    parser.add_argument("--feeds", type=int, default=10_000, help="feeds of the polling run")
    parser.add_argument("--memory-pages", type=int, default=10_000, help="article pages of the memory run")
    parser.add_argument("--connections", type=int, default=200, help="concurrent connections of the serving run")
    parser.add_argument("--serve-seconds", type=int, default=15, help="seconds of load per serving case")
    parser.add_argument("--news-please-python", default=os.environ.get("NEWSMILL_BENCH_NEWS_PLEASE_PYTHON"),
                        help="a Python with news-please installed (its own virtualenv)")  # fmt: skip
    parser.add_argument("--profile", action="store_true", help="py-spy the CPU worker during the ingest run")
    parser.add_argument("--rounds", type=int, default=1,
                        help="ingest: run the fleet this many times, each between two bounds")  # fmt: skip
    parser.add_argument("--json", type=Path, dest="json_out", help="where to write the results")
    args = parser.parse_args(argv)
    # Smoke runs skip the memory part unless asked: it is the ingest run again, longer.
    parts = set(args.only or (set(PARTS) - {"memory"} if args.smoke else PARTS))
    if args.smoke:
        args.pages, args.feeds, args.memory_pages, args.serve_seconds, args.connections = 12, 40, 30, 1, 20

    results: dict[str, Any] = {"machine": _machine(), "smoke": args.smoke}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    json_out = args.json_out or REPO / "bench" / "results" / f"bench-{stamp}.json"
    json_out.parent.mkdir(parents=True, exist_ok=True)
    profile_to = json_out.with_suffix(".pyspy.txt") if args.profile else None
    runs: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("ingest", lambda: ingest_and_peers(args.pages, parts, args.news_please_python, profile_to, args.rounds)),
        ("polling", lambda: {"polling": run_polling(args.feeds)}),
        ("serving", lambda: {"serving": run_feed_serving(args.connections, args.serve_seconds,
                                                          pages=12 if args.smoke else 200)}),
        ("memory", lambda: {"memory": memory_run(args.memory_pages)}),
    ]  # fmt: skip
    for name, run in runs:
        if name in parts or (name == "ingest" and "peers" in parts):
            try:
                results.update(run())
            except Exception as exc:  # noqa: BLE001 - one failed part must not lose the others' figures
                results.setdefault("errors", {})[name] = traceback.format_exc()
                print(f"{name} failed: {exc!r}")
            results["machine"]["load_average_after"] = os.getloadavg()
            json_out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(report.table(results))
    print(f"\nJSON: {json_out}")
    return 0 if report.healthy(results) and "errors" not in results else 1


if __name__ == "__main__":
    raise SystemExit(main())
