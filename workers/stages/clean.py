"""Cleaning stage: drop the boilerplate lines trafilatura keeps around an article's text.

The rules are data (``workers/stages/rules/boilerplate.yaml``). Every language's rules are applied to every text:
the page's language is not known yet (language detection runs on the *cleaned* text), sites mix languages
(the seed is a French article whose trailer is the English "Related News :"), and since a rule only ever
matches a whole short line, a German prompt cannot match a French sentence. Lines are removed from the two
ends of the text, repeatedly; in the middle only lines matching an ``anywhere`` rule go.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

RULES_FILE = "boilerplate.yaml"
# Splitting "Headline | Site" or "Headline - Site" titles: a first line equal to either part is the headline.
_TITLE_SEPARATORS = re.compile(r"\s+[|–—:-]\s+|\s+::\s+")


@dataclass(frozen=True)
class Rules:
    """Compiled rules: one alternation per kind, matched against whole lines only."""

    heading: re.Pattern[str]
    edge: re.Pattern[str]
    anywhere: re.Pattern[str]
    heading_max: int
    block_line_max: int
    block_max_lines: int
    edge_max: int
    anywhere_max: int

    def is_heading(self, line: str) -> bool:
        return len(line) <= self.heading_max and self.heading.fullmatch(_key(line)) is not None

    def is_edge(self, line: str) -> bool:
        return len(line) <= self.edge_max and self.edge.fullmatch(_key(line)) is not None

    def is_anywhere(self, line: str) -> bool:
        return len(line) <= self.anywhere_max and self.anywhere.fullmatch(_key(line)) is not None


def _key(line: str) -> str:
    # trafilatura writes a table cell as "| text |": the rules see the text.
    return line.strip("| ") or line


def _alternation(patterns: list[str]) -> re.Pattern[str]:
    # A rule list may be empty for a kind; "(?!)" never matches.
    body = "|".join(f"(?:{p})" for p in patterns) or "(?!)"
    return re.compile(body, re.IGNORECASE)


@cache
def _raw_rules() -> dict[str, Any]:
    text = resources.files("workers.stages").joinpath("rules", RULES_FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


@cache
def load_rules(site: str | None = None) -> Rules:
    """The rules of every language, plus those of ``site`` (a host key of the ``sites`` section) if given."""
    data = _raw_rules()
    sections = list(data["languages"].values())
    if site is not None:
        sections.append(data.get("sites", {}).get(site, {}))
    kinds: dict[str, list[str]] = {"trailer_headings": [], "edge": [], "anywhere": []}
    for section in sections:
        for kind, patterns in kinds.items():
            patterns.extend(section.get(kind, []))
    limits = data["limits"]
    return Rules(
        heading=_alternation(kinds["trailer_headings"]),
        edge=_alternation(kinds["edge"]),
        anywhere=_alternation(kinds["anywhere"]),
        heading_max=limits["heading_max_chars"],
        block_line_max=limits["block_line_max_chars"],
        block_max_lines=limits["block_max_lines"],
        edge_max=limits["edge_max_chars"],
        anywhere_max=limits["anywhere_max_chars"],
    )


def site_key(host: str | None) -> str | None:
    """The ``sites`` key that applies to ``host`` (the host itself or a parent domain), if any."""
    if not host:
        return None
    host = host.lower().split(":")[0].removeprefix("www.")
    sites = _raw_rules().get("sites", {})
    labels = host.split(".")
    for i in range(len(labels) - 1):
        candidate = ".".join(labels[i:])
        if candidate in sites:
            return candidate
    return None


def _norm(text: str) -> str:
    """Casefolded words without punctuation: how a headline is compared with a line."""
    kept = "".join(" " if unicodedata.category(ch)[0] in "PSZ" else ch for ch in text.casefold())
    return " ".join(kept.split())


def is_headline(line: str, title: str) -> bool:
    """Whether ``line`` is the title, or the headline part of a "Headline | Site" title."""
    target = _norm(line)
    if not target:
        return False
    if target == _norm(title):
        return True
    # Of "Headline | Site" the longest part is the headline; the site's name is left alone.
    longest = max((_norm(part) for part in _TITLE_SEPARATORS.split(title)), key=len)
    return target == longest


def _is_link_title(line: str, rules: Rules) -> bool:
    # Headlines and dates do not end with a full stop; a paragraph does, so one stops a trailer's block.
    return len(line) <= rules.block_line_max and not line.endswith((".", "…", ":", ";", ","))


def _trailer_start(lines: list[str], rules: Rules) -> int | None:
    """Index of a trailer heading followed only by link titles (a related-links block), scanning from the end."""
    stop = max(-1, len(lines) - 2 - rules.block_max_lines)
    for i in range(len(lines) - 1, stop, -1):
        if rules.is_heading(lines[i]):
            return i
        if not _is_link_title(lines[i], rules):
            return None
    return None


def clean_text(text: str, *, title: str | None = None, site: str | None = None) -> str:
    """Remove boilerplate lines from an extracted text; ``site`` is the page's host, ``title`` its headline."""
    rules = load_rules(site_key(site))
    # Whitespace inside a line is collapsed (non-breaking spaces included) so patterns see plain words.
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line and not rules.is_anywhere(line)]
    changed = True
    while changed and lines:
        before = len(lines)
        if title and is_headline(lines[0], title):
            del lines[0]
        # A trailer heading at the very start labels a box before the article: the label goes.
        if lines and (rules.is_edge(lines[0]) or rules.is_heading(lines[0])):
            del lines[0]
        if lines and rules.is_edge(lines[-1]):
            del lines[-1]
        start = _trailer_start(lines, rules)
        if start is not None:
            del lines[start:]
        changed = len(lines) != before
    return "\n".join(lines)
