"""Boilerplate benchmark: trailer residue, short-line residue and body recall on pages nobody here wrote.

Run: ``uv run python -m bench.boilerplate [--per-language 12] [--devdata PATH] [--json OUT]``.
Pages: bench/boilerplate_pages.py (UDHR bodies in 19 languages, six templates with related links, share
buttons, newsletter forms, captions, ad labels, date lines and bylines; templates E and F and UDHR articles
16-30 are held out). For each page:

- trailer residue: a line of the related-links block, a share label or the newsletter prompt/button survives;
- short-line residue: output lines that are not body paragraphs, over all output lines;
- body recall: body paragraphs found whole in the output.

Rows: raw trafilatura, ours without site history (each page alone: markup and phrases only), and ours with
the host's template learned page by page in arrival order (as the extract step does with Postgres).
Also printed: which languages the rules file has no phrase for, and the cost of cleaning per page (CPU time of
reading the page's signals and cleaning, after trafilatura), here and on the dev pages (bench.extraction's).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import trafilatura
from trafilatura.utils import load_html

from bench.boilerplate_pages import PHRASES, Page, pages
from bench.extraction import DEFAULT_DEVDATA, load_pages
from workers.stages.boilerplate_rules import load_rules
from workers.stages.extract import EntryHints, clean_document, extract_page, main_text
from workers.stages.page_metadata import page_metadata
from workers.stages.page_signals import line_key
from workers.stages.site_template import MIN_PAGES, host_key, page_line_keys

SEED = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "seed"
SEED_URL = "https://www.lequotidiendumonde.example/monde/2024/11/17/biden-autorise-ukraine-missiles-longue-portee/"
TARGET_RESIDUE = 0.02
TARGET_RECALL = 0.99
TARGET_SHORT = 0.04


def rule_free_languages() -> list[str]:
    """Languages none of whose benchmark phrases any rule of boilerplate.yaml matches."""
    rules = load_rules()
    return [
        lang for lang, phrases in PHRASES.items()
        if not any(rules.is_heading(p) or rules.is_edge(p) or rules.is_anywhere(p) for p in phrases)
    ]  # fmt: skip


class TemplateMemory:
    """shared/db/site_templates.py's record and load, in memory: line key -> pages of the host holding it."""

    def __init__(self) -> None:
        self.pages: dict[str, Counter[int]] = defaultdict(Counter)

    def template(self, host: str) -> frozenset[int]:
        return frozenset(k for k, n in self.pages[host].items() if n >= MIN_PAGES)

    def record(self, host: str, keys: Sequence[int]) -> None:
        self.pages[host].update(set(keys))


def run_ours(page: Page, memory: TemplateMemory | None) -> tuple[str, float]:
    """Our text of a page and the CPU seconds of cleaning it (signals + clean, trafilatura excluded)."""
    tree = load_html(page.html)
    found = main_text(tree, page.url, "auto")
    text = found.text
    if not text:
        return "", 0.0
    host = host_key(page.url.split("/")[2]) or ""
    template = memory.template(host) if memory else frozenset()
    meta = page_metadata(tree, page.url, EntryHints())
    started = time.process_time()
    cleaned = clean_document(text, found.source, url=page.url, meta=meta, hints=EntryHints(), template=template)
    spent = time.process_time() - started
    if memory:
        memory.record(host, page_line_keys(text.splitlines()))
    return cleaned.text, spent


def measure(page: Page, text: str) -> tuple[bool, int, int, int, list[str]]:
    """(trailer left?, body paragraphs found, output lines, residue lines, the residue lines)."""
    out = [line_key(line) for line in text.splitlines() if line.strip()]
    body = {line_key(p) for p in page.body}
    residue = [line for line in out if line not in body]
    trailer = [line_key(t) for t in page.trailer]
    left = any(t == line or (len(t) > 12 and t in line) for line in residue for t in trailer)
    found = sum(line_key(p) in set(out) for p in page.body)
    return left, found, len(out), len(residue), residue


def report(name: str, made: list[Page], texts: list[str], verbose: bool) -> dict[str, object]:
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])  # pages, left, found, body, lines, residue
    for page, text in zip(made, texts, strict=True):
        left, found, lines, residue, residue_lines = measure(page, text)
        for key in (f"part:{page.part}", f"lang:{page.language}", "all"):
            r = rows[key]
            r[0] += 1
            r[1] += left
            r[2] += found
            r[3] += len(page.body)
            r[4] += lines
            r[5] += residue
        if verbose and residue_lines:
            print(f"    {name} {page.language}{page.shape} residue: {residue_lines[:4]}")
    table = {key: {"pages": r[0], "trailer_residue": r[1] / r[0], "body_recall": r[2] / r[3],
                   "short_line_residue": r[5] / r[4] if r[4] else 0.0} for key, r in rows.items()}  # fmt: skip
    by_lang = " ".join(f"{k[5:]} {v['trailer_residue']:.0%}" for k, v in table.items() if k.startswith("lang:"))
    for key in ("part:tuning", "part:held-out", "all"):
        v = table[key]
        print(f"  {name:<34}{key[5:] if key != 'all' else 'all':<10}{v['pages']:>6} {v['trailer_residue']:>8.1%}"
              f" {v['short_line_residue']:>8.1%} {v['body_recall']:>9.4f}")  # fmt: skip
    print(f"    trailer residue by language: {by_lang}")
    return table


def cleaning_cost_on_dev_pages(devdata: Path) -> tuple[float, float]:
    """Average CPU milliseconds per dev page of signals + cleaning, and of trafilatura's extraction before it."""
    spent, extracting, counted = 0.0, 0.0, 0
    for page in load_pages(devdata, None):
        started = time.process_time()
        tree = load_html(page.html)
        if tree is None:
            continue
        found = main_text(tree, page.url, "auto")
        text = found.text
        extracted = time.process_time()
        if not text:
            continue
        meta = page_metadata(tree, page.url, EntryHints())
        cleaning = time.process_time()  # the metadata is not cleaning's cost
        clean_document(text, found.source, url=page.url, meta=meta, hints=EntryHints(), template=frozenset())
        spent += time.process_time() - cleaning
        extracting += extracted - started
        counted += 1
    return 1000 * spent / max(counted, 1), 1000 * extracting / max(counted, 1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-language", type=int, default=12, help="pages per language and part")
    parser.add_argument("--devdata", type=Path, default=DEFAULT_DEVDATA)
    parser.add_argument("--json", type=Path, default=None, dest="json_out")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)

    made = pages(per_language=args.per_language)
    free = rule_free_languages()
    print(f"{len(made)} pages, {len(PHRASES)} languages; no phrase in the rules for: {' '.join(free)}")
    print(f"  {'':<34}{'part':<10}{'pages':>6} {'trailer':>8} {'short':>8} {'recall':>9}")
    raw = [trafilatura.extract(p.html, url=p.url) or "" for p in made]
    tables = {"raw trafilatura": report("raw trafilatura", made, raw, False)}
    alone = [run_ours(p, None) for p in made]
    tables["ours, no site history"] = report("ours, no site history", made, [t for t, _ in alone], args.verbose)
    memory = TemplateMemory()
    learned = [run_ours(p, memory) for p in made]
    tables["ours, site template learned"] = report("ours, site template learned", made, [t for t, _ in learned], False)
    cost_here = 1000 * sum(s for _, s in alone) / len(made)
    cost_dev, trafilatura_dev = cleaning_cost_on_dev_pages(args.devdata) if args.devdata.exists() else (0.0, 0.0)
    print(f"cleaning cost (signals + rules, CPU): {cost_here:.2f} ms/page here, {cost_dev:.2f} ms/page on dev pages "
          f"(trafilatura's parse + extraction there: {trafilatura_dev:.1f} ms/page, cleaning = "
          f"{cost_dev / trafilatura_dev if trafilatura_dev else 0:.1%} of it)")  # fmt: skip
    expected = (SEED / "expected.txt").read_text(encoding="utf-8").splitlines()
    seed_ok = {
        name: extract_page((SEED / name).read_text(encoding="utf-8"), SEED_URL).text.split("\n") == expected
        for name in ("seed_page.html", "seed_page_date_line.html")
    }
    ours = tables["ours, no site history"]
    met_langs = [lang for lang in PHRASES if ours[f"lang:{lang}"]["trailer_residue"] <= TARGET_RESIDUE]
    checks = {
        "trailer residue <= 2% (all pages)": ours["all"]["trailer_residue"] <= TARGET_RESIDUE,
        f"languages at <= 2%: {len(met_langs)} (>= 12), rule-free {len(set(met_langs) & set(free))} (>= 4)":
            len(met_langs) >= 12 and len(set(met_langs) & set(free)) >= 4,
        "body recall >= 0.99": ours["all"]["body_recall"] >= TARGET_RECALL,
        "short-line residue <= 4%": ours["all"]["short_line_residue"] <= TARGET_SHORT,
        "the seed page and its date-line variant give exactly the seed text": all(seed_ok.values()),
    }  # fmt: skip
    for check, ok in checks.items():
        print(f"{'ok    ' if ok else 'MISSED'} {check}")
    if args.json_out:
        result = {"tables": tables, "rule_free_languages": free, "checks": checks,
                  "cleaning_ms_per_page": cost_here, "cleaning_ms_per_dev_page": cost_dev,
                  "trafilatura_ms_per_dev_page": trafilatura_dev}  # fmt: skip
        args.json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
