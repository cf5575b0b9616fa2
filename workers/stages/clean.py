"""Cleaning stage: drop the boilerplate lines trafilatura keeps around and inside an article's text.

Evidence comes first, phrases last, and every removed line carries the name of what removed it
(``newsmill extract --explain`` prints them):

- ``template``: a line the site printed on several earlier pages (workers/stages/site_template.py);
- ``signal:<name>``: the page's markup marks the line as a widget: a share box, a form, a caption, a list of
  links or its heading (workers/stages/page_signals.py);
- ``date-line`` / ``byline``: a standalone date or author line at an edge repeating the metadata
  (workers/stages/metadata_lines.py);
- ``headline``: the title repeated as the first line;
- ``rule:<kind>``: a phrase rule of workers/stages/rules/boilerplate.yaml (workers/stages/boilerplate_rules.py).

Widgets, template lines and ``anywhere`` rules go wherever they stand; a list of links only at an edge of the
text (in the middle it may be the article's own list); edge rules within the short lines at either end.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime

from workers.stages.boilerplate_rules import Rules, load_rules, site_key
from workers.stages.metadata_lines import is_byline, is_date_line
from workers.stages.page_signals import PageSignals
from workers.stages.site_template import line_hash

# Splitting "Headline | Site" or "Headline - Site" titles: a first line equal to either part is the headline.
_TITLE_SEPARATORS = re.compile(r"\s+[|–—:-]\s+|\s+::\s+")
_ANYWHERE_SIGNALS = ("share", "form", "caption")
HEADLINE_SLACK = 1.5  # a line repeating the title may carry extra punctuation and spacing, not more words
MIN_BESIDE_TEMPLATE_CHARS = 80  # what a page must hold besides its host's template lines for them to go
_SENTENCE_END = (".", "!", "?", "…", ":", ";", ",", "。", "！", "？", "।", "؟", '"', "”", "»", "“")


@dataclass(frozen=True)
class Removal:
    """One removed line and the rule or signal that removed it."""

    line: str
    reason: str


@dataclass(frozen=True)
class PageContext:
    """What is known of the page besides its text; every field is optional evidence."""

    title: str | None = None
    site: str | None = None  # the page's host
    signals: PageSignals = field(default_factory=PageSignals)
    template: frozenset[int] = frozenset()  # line keys the host printed on several earlier pages
    published_at: datetime | None = None
    author: str | None = None


@dataclass(frozen=True)
class Cleaned:
    text: str
    removed: tuple[Removal, ...]


def _norm(text: str) -> str:
    """Casefolded words without punctuation: how a headline is compared with a line."""
    kept = "".join(" " if unicodedata.category(ch)[0] in "PSZ" else ch for ch in text.casefold())
    return " ".join(kept.split())


def is_headline(line: str, title: str) -> bool:
    """Whether ``line`` is the title, or the headline part of a "Headline | Site" title."""
    if len(line) > HEADLINE_SLACK * len(title) + 10:
        return False  # far longer than the title: a paragraph (and normalising it costs)
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
    return len(line) <= rules.block_line_max and not line.endswith(_SENTENCE_END)


def _trailer_start(lines: list[str], rules: Rules, signals: PageSignals) -> tuple[int, str] | None:
    """A trailer heading (by rule or by markup) followed only by link titles, scanning from the end."""
    stop = max(-1, len(lines) - 2 - rules.block_max_lines)
    for i in range(len(lines) - 1, stop, -1):
        if rules.is_heading(lines[i]):
            return i, "rule:trailer-heading"
        if signals.of(lines[i]) == "link-list-heading":
            return i, "signal:link-list-heading"
        if not _is_link_title(lines[i], rules):
            return None
    return None


def _anywhere(line: str, rules: Rules, context: PageContext) -> str | None:
    """Why ``line`` goes wherever it stands, or None."""
    signal = context.signals.of(line)
    if signal in _ANYWHERE_SIGNALS:
        return f"signal:{signal}"
    if context.template and line_hash(line) in context.template:
        return "template"
    if rules.is_anywhere(line):
        return "rule:anywhere"
    return None


def _edge(line: str, rules: Rules, context: PageContext, first: bool) -> str | None:
    """Why ``line`` goes when it stands at the start (``first``) or the end of the text, or None."""
    signal = context.signals.of(line)
    if signal == "link-list" or (signal == "link-list-heading" and not first):
        return f"signal:{signal}"  # a heading at the start is more often the article's own (its links: bylines)
    if is_date_line(line, context.published_at):
        return "date-line"
    if is_byline(line, context.author):
        return "byline"
    if first and context.title and is_headline(line, context.title):
        return "headline"
    if rules.is_edge(line) or (first and rules.is_heading(line)):
        return "rule:edge"
    return None


def _edge_zone(lines: list[str], rules: Rules) -> list[int]:
    """Indexes of the short lines at either end of the text (where widgets sit), in ascending order."""
    head = next((i for i, line in enumerate(lines) if len(line) > rules.edge_max), len(lines))
    tail = next((i for i in range(len(lines) - 1, -1, -1) if len(lines[i]) > rules.edge_max), -1)
    return sorted(set(range(head)) | set(range(tail + 1, len(lines))))


def clean_page(text: str, context: PageContext) -> Cleaned:
    """Remove boilerplate lines from an extracted text, with the reason for each; see the module docstring."""
    rules = load_rules(site_key(context.site))
    removed: list[Removal] = []
    # Whitespace inside a line is collapsed (non-breaking spaces included) so patterns see plain words.
    lines = [" ".join(line.split()) for line in text.splitlines()]
    kept = _drop_anywhere(lines, rules, context, removed)
    if context.template and sum(map(len, kept)) < MIN_BESIDE_TEMPLATE_CHARS:
        # Next to nothing but template lines: the host published this page before (or copies it), it did not
        # wrap a new story in its template. Keep the lines; deduplication will see a copy.
        removed.clear()
        kept = _drop_anywhere(lines, rules, replace(context, template=frozenset()), removed)
    changed = True
    while changed and kept:
        before = len(kept)
        _drop_edges(kept, rules, context, removed)
        found = _trailer_start(kept, rules, context.signals)
        if found is not None:
            removed += [Removal(line, found[1]) for line in kept[found[0] :]]
            del kept[found[0] :]
        changed = len(kept) != before
    return Cleaned("\n".join(kept), tuple(removed))


def _drop_anywhere(lines: list[str], rules: Rules, context: PageContext, removed: list[Removal]) -> list[str]:
    kept = []
    for line in lines:
        reason = _anywhere(line, rules, context) if line else None
        if reason:
            removed.append(Removal(line, reason))
        elif line:
            kept.append(line)
    return kept


def _drop_edges(lines: list[str], rules: Rules, context: PageContext, removed: list[Removal]) -> None:
    """The first and the last line while they are boilerplate; then edge rules among the short end lines."""
    while lines and (reason := _edge(lines[0], rules, context, first=True)):
        removed.append(Removal(lines.pop(0), reason))
    while lines and (reason := _edge(lines[-1], rules, context, first=False)):
        removed.append(Removal(lines.pop(), reason))
    # A known share line followed by a line no rule knows is still at the edge: look past the unknown one.
    for i in reversed(_edge_zone(lines, rules)):
        if rules.is_edge(lines[i]):
            removed.append(Removal(lines.pop(i), "rule:edge"))


def clean_text(text: str, *, title: str | None = None, site: str | None = None) -> str:
    """Remove boilerplate lines from an extracted text by phrase rules alone (no page markup, no template)."""
    return clean_page(text, PageContext(title=title, site=site)).text
