"""The benchmark suite's smoke mode: every part runs end to end on a few pages and reports sane fields.

No timing is asserted (speed is what the benchmark measures, on a quiet machine); only that the harness
still works: the fleet published every page, the peers extracted them, every feed was polled, the API
answered under load and revalidated with 304s, directly and through the caching proxy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.fleet import ROOT

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(900)
def test_bench_smoke_runs_every_part(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=880, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "== ingest" in done.stdout
    r = json.loads(out.read_text(encoding="utf-8"))

    assert r["smoke"] is True
    assert len(r["machine"]["commit"]) == 40
    assert r["raw"]["pages"] == r["raw"]["with_text"] == 12
    assert r["raw"]["articles_per_s"] > 0
    assert r["raw"]["articles_per_s"] == max(run["articles_per_s"] for run in r["raw"]["runs"])
    assert len(r["raw"]["runs"]) == 2

    ingest = r["ingest"]
    assert ingest["fleet_exit_code"] == 0
    assert ingest["published"] == 12
    assert ingest["items_by_state"] == {"published": 12}
    assert ingest["ratio_to_raw"] > 0
    assert ingest["cpu_ms_per_article"] > 0
    assert [one["ratio_to_raw"] for one in r["rounds"]] == [ingest["ratio_to_raw"]]  # --rounds 1: this run

    stages = r["stages"]  # the same pages through the same steps, in one process
    assert stages["feeds"] == 1
    assert stages["items"] == stages["published"] == 12
    assert set(stages["cpu_ms"]) == {"poll", "fetch", "extract", "enrich", "index"}
    # The stages' PostgreSQL backend is on this machine: its CPU is read, and publication costs it some.
    assert set(stages["postgres_cpu_ms"]) == set(stages["cpu_ms"])
    assert stages["postgres_cpu_ms_per_article"] > 0
    assert 0 <= ingest["share_outside_stages"] < 1
    assert all(ms > 0 for ms in stages["cpu_ms"].values())
    assert ingest["cpu_seconds_by_role"]["worker-cpu pool"] > 0
    assert ingest["memory"]["worker-cpu pool"]["max_mib"] > 10

    by_name = {row["name"].split(" (")[0]: row for row in r["peers"]}
    assert by_name["trafilatura CLI"]["articles"] == 12
    assert by_name["feedparser + httpx + trafilatura loop"]["articles"] == 12
    assert "news-please" in by_name  # skipped or run, it is reported

    polling = r["polling"]
    assert polling["polled"] == polling["feeds"] == 40
    assert polling["outcomes"] == {"not_modified": 36, "ok": 4}
    assert polling["new_items"] == 0
    assert polling["feeds_per_s"] > 0

    serving = r["serving"]
    assert serving["plain"]["requests"] > 0
    assert serving["plain"]["p99_ms"] >= serving["plain"]["p50_ms"] > 0
    assert serving["if_none_match"]["requests"] > 0
    # Through the caching proxy we ship (nginx, installed by `make services` like the test of its config).
    assert serving["proxy_plain"]["requests"] > 0
    assert serving["proxy_if_none_match"]["requests"] > 0


def test_rounds_are_each_taken_against_the_bound_on_their_two_sides() -> None:
    from bench.__main__ import _round  # noqa: PLC0415 - the suite's entry module, imported for its helper
    from bench.report import _ingest_lines  # noqa: PLC0415

    rounds = [
        _round({"articles_per_s": 40.0}, {"articles_per_s": 50.0}, {"articles_per_s": 80.0}),
        _round({"articles_per_s": 45.0}, {"articles_per_s": 80.0}, {"articles_per_s": 60.0}),
        _round({"articles_per_s": 54.0}, {"articles_per_s": 60.0}, {"articles_per_s": 50.0}),
    ]
    assert [one["bound"] for one in rounds] == [80.0, 80.0, 60.0]
    assert [round(one["ratio_to_raw"], 4) for one in rounds] == [0.5, 0.5625, 0.9]
    printed = "\n".join(_ingest_lines({"rounds": rounds}))
    assert "3 rounds, each fleet run against the bound on its two sides: ratios 0.50 0.56 0.90, median 0.56" in printed
