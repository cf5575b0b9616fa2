"""Site template: lines that one host prints on many of its pages are the site's, not the article's.

A sign-off, a standing disclaimer, a "follow us" prompt, a related-links heading in a language no rule
knows: each is the same line on page after page of one host, while an article's lines are its own. The
extract step records the keys of each page's lines per host (shared/db/site_templates.py) and hands the
keys seen on at least ``MIN_PAGES`` earlier pages back as a set; cleaning drops those lines. Keys are 64-bit
hashes of the casefolded line, so the table holds no text and a key fits a bigint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from workers.stages.page_signals import line_key

MIN_PAGES = 3  # earlier pages of the host holding the line; two stories quoting one sentence are not a template
MIN_KEY_CHARS = 2  # a key of one character ("-", "|") is no line


def _key64(text: str) -> int:
    """A signed 64-bit hash of ``text``: fits a bigint column."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def line_hash(line: str) -> int:
    """The signed 64-bit key of a line (bigint-sized), equal for lines differing in case or spacing only."""
    return _key64(line_key(line))


def page_key(url: str) -> int:
    """The signed 64-bit key of a page (its URL): a page re-extracted or retried is counted once."""
    return _key64(url)


def page_line_keys(lines: Iterable[str]) -> tuple[int, ...]:
    """The distinct keys of a page's lines, in a stable (sorted) order: what is recorded for its host."""
    keys = (line_key(line) for line in lines)
    return tuple(sorted({_key64(key) for key in keys if len(key) >= MIN_KEY_CHARS}))


def host_key(host: str | None) -> str | None:
    """The host a template belongs to: lower case, no port, no leading ``www.``."""
    if not host:
        return None
    return host.lower().split(":")[0].removeprefix("www.") or None
