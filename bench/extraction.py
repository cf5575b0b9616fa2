"""Extraction benchmark: raw trafilatura vs our extraction before and after cleaning, on the same pages.

Run: ``uv run python -m bench.extraction [--devdata PATH] [--limit N] [--json OUT] [--workers N]``.
Scoring as in ../shared/devdata/README.md: a ``with`` snippet found is a true positive, one missing a false
negative, a ``without`` snippet found a false positive. Our "after cleaning" row goes through the real
command, ``newsmill extract --jsonl``, so it measures what users run (process start-up included).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import trafilatura

from cli.extract_batch import extract_lines
from shared.encoding import decode_html
from shared.errors import StageError
from workers.stages.extract import ExtractMode, extract_page

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DEVDATA = REPO.parent / "shared" / "devdata" / "trafilatura-eval"


@dataclass(frozen=True)
class Page:
    url: str
    html: str
    with_: list[str]
    without: list[str]


@dataclass
class Row:
    name: str
    tp: int
    fn: int
    fp: int
    seconds: float
    pages: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0


def load_pages(devdata: Path, limit: int | None) -> list[Page]:
    data = json.loads((devdata / "evaldata.json").read_text(encoding="utf-8"))
    pages = []
    for url, entry in list(data.items())[:limit]:
        body = (devdata / "pages" / entry["file"]).read_bytes()
        pages.append(Page(url, decode_html(body, None).text, entry["with"], entry["without"]))
    return pages


def score(name: str, pages: Sequence[Page], texts: Sequence[str], seconds: float) -> Row:
    row = Row(name, 0, 0, 0, seconds, len(pages))
    for page, text in zip(pages, texts, strict=True):
        found = sum(snippet in text for snippet in page.with_)
        row.tp += found
        row.fn += len(page.with_) - found
        row.fp += sum(snippet in text for snippet in page.without)
    return row


def timed(run: Callable[[], list[str]]) -> tuple[list[str], float]:
    start = time.perf_counter()
    texts = run()
    return texts, time.perf_counter() - start


def _jsonl(pages: Sequence[Page]) -> list[str]:
    return [json.dumps({"id": i, "url": p.url, "html": p.html}, ensure_ascii=False) for i, p in enumerate(pages)]


def _cli_command(workers: int) -> list[str]:
    args = ["extract", "--jsonl", "--workers", str(workers)]
    uv = shutil.which("uv")
    if uv:
        return [uv, "run", "--quiet", "newsmill", *args]
    return [sys.executable, "-m", "cli", *args]


def run_cli(pages: Sequence[Page], workers: int) -> list[str]:
    """Our whole path: the `newsmill extract --jsonl` command in its own process."""
    stdin = "".join(line + "\n" for line in _jsonl(pages))
    done = subprocess.run(_cli_command(workers), input=stdin, capture_output=True, text=True, cwd=REPO, check=True)
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["id"] for r in records] == list(range(len(pages))), "output out of order or incomplete"
    return [r.get("text") or "" for r in records]


def run_before_cleaning(pages: Sequence[Page], workers: int) -> list[str]:
    return [r.get("text") or "" for r in extract_lines(_jsonl(pages), workers=workers, clean=False)]


def run_raw(pages: Sequence[Page]) -> list[str]:
    return [trafilatura.extract(p.html, url=p.url) or "" for p in pages]


def run_mode(pages: Sequence[Page], mode: ExtractMode) -> tuple[list[str], float]:
    """extract_page (metadata, cleaning) in this process under one NEWSMILL_EXTRACT_MODE: texts, CPU seconds."""
    texts = []
    started = time.process_time()
    for page in pages:
        try:
            texts.append(extract_page(page.html, page.url, mode=mode).text)
        except StageError:
            texts.append("")
    return texts, time.process_time() - started


def cleaning_changes(pages: Sequence[Page], before: Sequence[str], after: Sequence[str]) -> list[str]:
    """Pages where cleaning lost a wanted snippet or removed an unwanted one, for tuning the rules."""
    notes = []
    for page, b, a in zip(pages, before, after, strict=True):
        lost = [s for s in page.with_ if s in b and s not in a]
        gone = [s for s in page.without if s in b and s not in a]
        if lost:
            notes.append(f"LOST  {page.url}: {lost}")
        if gone:
            notes.append(f"fixed {page.url}: {gone}")
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devdata", type=Path, default=DEFAULT_DEVDATA)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, dest="json_out")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--verbose", action="store_true", help="List what cleaning changed, page by page.")
    args = parser.parse_args(argv)

    pages = load_pages(args.devdata, args.limit)
    raw, raw_s = timed(lambda: run_raw(pages))
    before, before_s = timed(lambda: run_before_cleaning(pages, args.workers))
    after, after_s = timed(lambda: run_cli(pages, args.workers))
    rows = [
        score("trafilatura defaults (1 process)", pages, raw, raw_s),
        score(f"ours before cleaning ({args.workers} processes)", pages, before, before_s),
        score(f"ours after cleaning: CLI ({args.workers} processes)", pages, after, after_s),
    ]
    print(f"{len(pages)} pages from {args.devdata}")
    print(f"{'':48} {'precision':>9} {'recall':>7} {'F1':>7} {'tp':>5} {'fn':>4} {'fp':>4} {'pages/s':>8}")
    for row in rows:
        print(f"{row.name:48} {row.precision:9.4f} {row.recall:7.4f} {row.f1:7.4f} "
              f"{row.tp:5d} {row.fn:4d} {row.fp:4d} {row.pages_per_second:8.1f}")  # fmt: skip
    ratio = rows[2].pages_per_second / rows[0].pages_per_second if rows[0].pages_per_second else 0.0
    _, startup = timed(lambda: run_cli([], args.workers))
    print(f"speed, ours (CLI, start-up included) / trafilatura: {ratio:.2f}x; CLI start-up alone {startup:.2f} s")
    delta = rows[2].f1 - rows[1].f1
    verdict = "ok" if delta >= 0 else "CLEANING LOWERED F1"
    print(f"F1 change from cleaning: {delta:+.4f} ({verdict})")
    raw_cpu = time.process_time()
    run_raw(pages)
    raw_cpu = time.process_time() - raw_cpu
    print(f"\nextraction modes, one process, CPU per page (trafilatura defaults: {1000 * raw_cpu / len(pages):.1f} ms)")
    modes = {}
    for mode in ("auto", "full", "fast"):
        texts, cpu = run_mode(pages, mode)
        row = score(f"mode={mode}", pages, texts, cpu)
        modes[mode] = {"f1": row.f1, "cpu_ms_per_page": 1000 * cpu / len(pages), "cpu_ratio_to_raw": cpu / raw_cpu}
        print(f"  {row.name:12} F1 {row.f1:.4f}  {1000 * cpu / len(pages):6.1f} ms/page  {cpu / raw_cpu:.2f}x raw")
    notes = cleaning_changes(pages, before, after)
    if args.verbose:
        print("\n".join(notes))
    if args.json_out:
        result = {
            "pages": len(pages),
            "rows": [asdict(r) | {"precision": r.precision, "recall": r.recall, "f1": r.f1,
                                  "pages_per_second": r.pages_per_second} for r in rows],
            "speed_ratio": ratio,
            "cli_startup_seconds": startup,
            "cleaning_f1_delta": delta,
            "cleaning_changes": notes,
            "modes": modes,
        }  # fmt: skip
        args.json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0 if delta >= 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
