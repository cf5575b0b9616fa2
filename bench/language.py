"""Language benchmark: accuracy and speed of ``detect_language`` against raw seeded langdetect, same texts.

Run: ``uv run python -m bench.language [--json OUT] [--repeat N]``.
The data set (bench/data/language/*.yaml) is original news-style text: per language, news-length paragraphs,
one-sentence snippets, and paragraphs carrying one sentence in another language (labelled with the main one).
Speed is measured in the same process for both, after warm-up (profile loading is reported separately), on
the data set as it is and on article-length texts (a language's paragraphs joined), where the prefix counts.
Determinism: the answers of this run are compared with those of a fresh process.

Then the same on text nobody here wrote (bench/udhr.py: the UDHR in 55 languages), one-sentence texts and
article-length texts, each for the tuning part and the held-out part, with the issue-15 targets
(one sentence >= 0.98 over >= 25 languages, long texts >= 0.995).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import langdetect
import yaml
from langdetect import DetectorFactory
from langdetect.lang_detect_exception import LangDetectException

from bench import udhr
from workers.stages.language import detect_language

DATA = Path(__file__).resolve().parent / "data" / "language"
CATEGORIES = ("paragraphs", "sentences", "mixed", "headlines")
TARGETS = {"sentence": 0.98, "long": 0.995}
MIN_LANGUAGES = 25


@dataclass(frozen=True)
class Sample:
    category: str
    language: str
    text: str


def load_samples(directory: Path = DATA) -> list[Sample]:
    samples = []
    for path in sorted(directory.glob("*.yaml")):
        for language, groups in yaml.safe_load(path.read_text(encoding="utf-8")).items():
            samples += [Sample(c, str(language), t) for c in CATEGORIES for t in groups.get(c, [])]
    return samples


def ours(text: str) -> str:
    return detect_language(text).language


def raw(text: str) -> str:
    try:
        found = langdetect.detect(text)
    except LangDetectException:
        return "und"
    return "zh" if found.startswith("zh") else found


def throughput(detect: Callable[[str], str], texts: Sequence[str], repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        for text in texts:
            detect(text)
    return repeat * len(texts) / (time.perf_counter() - started)


def accuracy(samples: Sequence[Sample], answers: Sequence[str]) -> dict[str, dict[str, float | int]]:
    table = {}
    for category in CATEGORIES:
        pairs = [(s, a) for s, a in zip(samples, answers, strict=True) if s.category == category]
        right, undecided = sum(s.language == a for s, a in pairs), sum(a == "und" for _, a in pairs)
        table[category] = {
            "right": right, "undecided": undecided, "wrong": len(pairs) - right - undecided, "total": len(pairs),
            "accuracy": right / len(pairs) if pairs else 0.0,
            "precision": right / (len(pairs) - undecided) if len(pairs) > undecided else 0.0,
        }  # fmt: skip
    return table


def articles(samples: Sequence[Sample]) -> list[str]:
    """One long text per language: its paragraphs and mixed paragraphs, three times over (≈ 5-10k chars)."""
    by_language: dict[str, list[str]] = defaultdict(list)
    for s in samples:
        if s.category != "sentences":
            by_language[s.language].append(s.text)
    return ["\n\n".join(texts * 3) for texts in by_language.values()]


def udhr_accuracy(repeat: int) -> tuple[dict[str, dict[str, float | int]], bool]:
    """Accuracy of ours on UDHR sentences and long texts, per part; whether every target is met."""
    table: dict[str, dict[str, float | int]] = {}
    met = True
    for part in udhr.PARTS:
        for kind, samples in (("sentence", udhr.sentences(part)), ("long", udhr.long_texts(part, 1200))):
            answers = [ours(text) for _, text in samples]
            right = sum(a == lang for (lang, _), a in zip(samples, answers, strict=True))
            undecided = answers.count("und")
            langs = len({lang for lang, _ in samples})
            speed = throughput(ours, [text for _, text in samples], max(repeat // 5, 1))
            row = {"texts": len(samples), "languages": langs, "right": right, "undecided": undecided,
                   "accuracy": right / len(samples), "texts_per_s": speed}  # fmt: skip
            ok = row["accuracy"] >= TARGETS[kind] and langs >= MIN_LANGUAGES
            met = met and ok
            table[f"{part}/{kind}"] = row
            wrong = Counter(f"{lang}->{a}" for (lang, _), a in zip(samples, answers, strict=True) if a != lang)
            print(
                f"  {part:<9}{kind:<9}{right:>5}/{len(samples):<5} accuracy {row['accuracy']:7.2%} over {langs} "
                f"languages, und {undecided:>3}, {row['texts_per_s']:.0f} texts/s "
                f"(target {TARGETS[kind]:.3f}: {'ok' if ok else 'MISSED'})"
            )
            if wrong:
                print("    misses:", ", ".join(f"{k} ×{n}" for k, n in wrong.most_common(12)))
    return table, met


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    parser.add_argument("--repeat", type=int, default=5, help="passes over the texts when timing")
    parser.add_argument("--answers", action="store_true", help=argparse.SUPPRESS)  # the fresh-process run
    args = parser.parse_args(argv)
    samples = load_samples()
    if args.answers:
        print(json.dumps([ours(s.text) for s in samples]))
        return 0

    started = time.perf_counter()
    first = [ours(s.text) for s in samples]  # the first call per script loads its profiles
    load_seconds = time.perf_counter() - started
    DetectorFactory.seed = 0  # raw langdetect, seeded the documented way, as a caller would
    raw_answers = [raw(s.text) for s in samples]
    second = [ours(s.text) for s in samples]
    fresh = subprocess.run(
        [sys.executable, "-m", "bench.language", "--answers"], capture_output=True, text=True, check=True
    )
    identical_in_process = first == second
    identical_across_processes = first == json.loads(fresh.stdout)

    texts, long_texts = [s.text for s in samples], articles(samples)
    speed = {
        "ours_texts_per_s": throughput(ours, texts, args.repeat),
        "raw_texts_per_s": throughput(raw, texts, args.repeat),
        "ours_articles_per_s": throughput(ours, long_texts, args.repeat),
        "raw_articles_per_s": throughput(raw, long_texts, args.repeat),
    }
    ours_table, raw_table = accuracy(samples, first), accuracy(samples, raw_answers)
    wrong = Counter(
        (s.category, s.language, a) for s, a in zip(samples, first, strict=True) if a not in (s.language, "und")
    )
    undecided = Counter(f"{s.category}/{s.language}" for s, a in zip(samples, first, strict=True) if a == "und")
    languages = sorted({s.language for s in samples})
    print(f"{len(samples)} texts, {len(languages)} languages: {' '.join(languages)}")
    print(f"first pass incl. profile loading: {load_seconds:.2f} s")
    print("accuracy = right / all; precision = right / decided ('und' is no answer, not a wrong one)")
    for name, table in (("ours", ours_table), ("raw langdetect", raw_table)):
        print(f"{name}:")
        for c, row in table.items():
            print(
                f"  {c:<11}{row['right']:>4}/{row['total']:<4} accuracy {row['accuracy']:>7.2%}"
                f"  und {row['undecided']:>3}  wrong {row['wrong']:>2}  precision {row['precision']:>7.2%}"
            )
    for (category, expected, got), n in sorted(wrong.items()):
        print(f"  ours wrong: {category} {expected} -> {got} ×{n}")
    if undecided:
        print("  ours 'und':", ", ".join(f"{k} ×{n}" for k, n in sorted(undecided.items())))
    for s, a in zip(samples, raw_answers, strict=True):
        if a not in (s.language, "und"):
            print(f"  raw wrong: {s.category} {s.language} -> {a}: {s.text[:60]!r}")
    print(
        f"data set: ours {speed['ours_texts_per_s']:.0f} texts/s, raw {speed['raw_texts_per_s']:.0f} texts/s, "
        f"ratio {speed['ours_texts_per_s'] / speed['raw_texts_per_s']:.2f}"
    )
    average = sum(map(len, long_texts)) // len(long_texts)
    ours_s, raw_s = speed["ours_articles_per_s"], speed["raw_articles_per_s"]
    print(f"articles ({average} chars avg): ours {ours_s:.0f}/s, raw {raw_s:.0f}/s, ratio {ours_s / raw_s:.2f}")
    print(f"identical answers: same process {identical_in_process}, fresh process {identical_across_processes}")
    print(f"UDHR, text nobody here wrote ({len(udhr.languages())} languages; held-out part never tuned on):")
    udhr_table, udhr_met = udhr_accuracy(args.repeat)

    if args.json:
        report = {
            "texts": len(samples), "languages": languages, "accuracy": ours_table, "raw_accuracy": raw_table,
            "undecided": dict(sorted(undecided.items())),
            "wrong": [{"category": c, "expected": e, "got": g, "count": n} for (c, e, g), n in sorted(wrong.items())],
            "speed": speed, "profile_load_seconds": load_seconds,
            "identical_in_process": identical_in_process, "identical_across_processes": identical_across_processes,
            "udhr": udhr_table, "udhr_targets_met": udhr_met,
        }  # fmt: skip
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0 if identical_in_process and identical_across_processes and udhr_met else 1


if __name__ == "__main__":
    raise SystemExit(main())
