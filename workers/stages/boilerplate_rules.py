"""Boilerplate rules: the phrase rules of ``workers/stages/rules/boilerplate.yaml``, compiled once.

Every language's rules are applied to every text: the page's language is not known yet (language detection
runs on the *cleaned* text), sites mix languages (the seed is a French article whose trailer is the English
"Related News :"), and since a rule only ever matches a whole short line, a German prompt cannot match a
French sentence. Phrases are what structure cannot decide (workers/stages/clean.py tries the page's markup
and the site's template first); they stay data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from workers.stages.site_template import host_key

RULES_FILE = "boilerplate.yaml"


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
    host = host_key(host)
    if not host:
        return None
    sites = _raw_rules().get("sites", {})
    labels = host.split(".")
    for i in range(len(labels) - 1):
        candidate = ".".join(labels[i:])
        if candidate in sites:
            return candidate
    return None
