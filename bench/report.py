"""The suite's printed table, from the same dict that is written as JSON, and the harness's health check."""

from __future__ import annotations

import statistics
from typing import Any


def _f(value: Any, digits: int = 1) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else str(value)


def _ingest_lines(r: dict[str, Any]) -> list[str]:
    raw, ingest = r.get("raw"), r.get("ingest")
    lines = ["== ingest: articles/s on one site, same run"]
    if raw:
        runs = " and ".join(_f(r["articles_per_s"]) for r in raw.get("runs", []))
        lines.append(
            f"  {'raw trafilatura.extract (no comments), 2 processes':52} {_f(raw['articles_per_s']):>8}"
            + (f"   (faster of {runs}: before and after the fleet)" if len(raw.get("runs", [])) > 1 else "")
        )
    if ingest:
        lines.append(f"  {'newsmill fleet, first poll to last published row':52} {_f(ingest['articles_per_s']):>8}"
                     f"   ratio {_f(ingest.get('ratio_to_raw', 0), 2)}"
                     f"   ({ingest['published']} published, {ingest['duplicates']} near-duplicates)")  # fmt: skip
        if ingest.get("fleet_wall_seconds"):
            with_start = ingest["published"] / ingest["fleet_wall_seconds"]
            ratio = with_start / raw["articles_per_s"] if raw and raw["articles_per_s"] else 0.0
            lines.append(f"  {'newsmill fleet, start-up to exit (`newsmill run --until-idle`)':52} {_f(with_start):>8}"
                         f"   ratio {_f(ratio, 2)}   (start to first poll {_f(ingest.get('startup_seconds', 0))} s,"
                         f" last row to exit {_f(ingest.get('shutdown_seconds', 0))} s)")  # fmt: skip
        lines.append(f"    fleet CPU per article, first poll to last row: {_f(ingest.get('cpu_ms_per_article', 0))} ms")
        cpu = ingest.get("cpu_seconds_in_window_by_role") or ingest.get("cpu_seconds_by_role", {})
        lines.append("    CPU s by process, first poll to last row: "
                     + ", ".join(f"{k} {v:.1f}" for k, v in sorted(cpu.items())))  # fmt: skip
        lat = ingest.get("latency_seconds", {})
        lines.append("    p50 s between stages (queue wait + task): "
                     + ", ".join(f"{k} {v['p50']:.2f}" for k, v in lat.items()))  # fmt: skip
    if len(rounds := r.get("rounds", [])) > 1:
        median = statistics.median(one["ratio_to_raw"] for one in rounds)
        lines.append(f"    {len(rounds)} rounds, each fleet run against the bound on its two sides: ratios "
                     + " ".join(_f(one["ratio_to_raw"], 2) for one in rounds)
                     + f", median {_f(median, 2)}; fleet "
                     + " ".join(_f(one["articles_per_s"]) for one in rounds) + " articles/s, bound "
                     + " ".join(_f(one["bound"]) for one in rounds))  # fmt: skip
    if stages := r.get("stages"):
        each = ", ".join(f"{stage} {ms:.1f}" for stage, ms in stages["cpu_ms"].items())
        lines.append(f"    each stage alone, one process, no Celery: {_f(stages['cpu_ms_per_article'])} ms CPU"
                     f" per article ({each}; poll per feed); publication lock held"
                     f" {_f(stages.get('publish_lock_hold_ms', 0), 2)} ms an article"
                     f" ({_f(stages.get('publish_lock_hold_ms_per_batch', 0), 2)} ms a batch)")  # fmt: skip
        if stages.get("postgres_cpu_ms"):
            server = ", ".join(f"{stage} {ms:.1f}" for stage, ms in stages["postgres_cpu_ms"].items())
            lines.append(f"    and their PostgreSQL backend: {_f(stages['postgres_cpu_ms_per_article'])} ms CPU per"
                         f" article ({server})")  # fmt: skip
        if ingest and "share_outside_stages" in ingest:
            lines.append(f"    share of the fleet's CPU outside the stages' own work (theirs and their backend's):"
                         f" {100 * ingest['share_outside_stages']:.1f} %")  # fmt: skip
    for row in r.get("peers", []):
        note = row.get("skipped") or row.get("error", "")[:60]
        lines.append(f"  {row['name']:52} {_f(row['articles_per_s']):>8}   {row['articles']}/{row['pages']} articles"
                     f", CPU {_f(row['cpu_seconds'])} s {note}")  # fmt: skip
    if ingest and r.get("peers"):
        ahead = ", ".join(f"{row['name'].split(',')[0]} {ingest['articles_per_s'] / row['articles_per_s']:.2f}x"
                          for row in r["peers"] if row.get("articles_per_s"))  # fmt: skip
        lines.append(f"  newsmill fleet against each peer (first poll to last row): {ahead}")
    return lines


def table(results: dict[str, Any]) -> str:
    m = results["machine"]
    dirty = " (dirty tree)" if m["dirty_tree"] else ""
    load = f"load average before {m['load_average_before'][0]:.2f}, after {m['load_average_after'][0]:.2f}"
    lines = [f"commit {m['commit'][:12]}{dirty}, {m['cpus']} CPUs, {load}"]
    if "raw" in results:
        lines += _ingest_lines(results)
    if p := results.get("polling"):
        lines.append(f"== polling: {p['polled']}/{p['feeds']} feeds ({p['outcomes']})")
        lines.append(f"  feeds/s {_f(p['feeds_per_s'])}, CPU {_f(p['fleet_cpu_ms_per_poll_in_window'], 2)} ms/poll "
                     f"while polling (with start-up {_f(p['fleet_cpu_ms_per_poll'], 2)}) "
                     f"(IO worker {_f(p['io_worker_cpu_ms_per_poll'], 2)}, "
                     f"Postgres {_f(p['postgres_cpu_ms_per_poll'], 2)})")  # fmt: skip
    if s := results.get("serving"):
        lines.append("== topic feed serving" + (f": {s['skipped']}" if "skipped" in s else f" {s['url_path']}"))
        for case in (
            "plain",
            "if_none_match",
            "plain_20_connections",
            "if_none_match_20_connections",
            "proxy_plain",
            "proxy_if_none_match",
        ):
            if c := s.get(case):
                rate, p50, p99 = _f(c["requests_per_s"], 0), _f(c["p50_ms"]), _f(c["p99_ms"])
                level = case.split("_")[-2] if case.endswith("connections") else s["connections"]
                errors = f", {c['non_2xx_3xx']} non-2xx/3xx, socket errors: {c['socket_errors']}" if c.get(
                    "non_2xx_3xx") or c.get("socket_errors") else ""  # fmt: skip
                lines.append(f"  {case.split('_2')[0]:20} {rate:>7} req/s  p50 {p50} ms  p99 {p99} ms"
                             f"  ({level} connections, {c['tool']}{errors})")  # fmt: skip
    if mem := results.get("memory"):
        lines.append(f"== memory: {mem['published']} articles published at {_f(mem['articles_per_s'])}/s")
        for role, v in sorted(mem.get("memory", {}).items()):
            lines.append(f"  {role:18} max {v['max_mib']:.0f} MiB, after warm-up {v['after_warmup_mib']:.0f}, "
                         f"end {v['end_mib']:.0f}")  # fmt: skip
    return "\n".join(lines)


def healthy(results: dict[str, Any]) -> bool:
    """Did every part that ran finish its job (not: was it fast)?"""
    runs = [results.get(k) for k in ("ingest", "memory")]
    ok = all(r["fleet_exit_code"] == 0 and r["published"] > 0 for r in runs if r)
    if stages := results.get("stages"):
        ok = ok and stages["published"] > 0
    if p := results.get("polling"):
        ok = ok and p["fleet_exit_code"] == 0 and p["polled"] == p["feeds"]
    return ok
