"""Metadata lines: a standalone date or byline at the edge of a text that only repeats the article's metadata.

Pages print the publication date and the author above or below the story ("17 novembre 2024", "Par Claire
Dumas", "November 17, 2024 at 9:05 pm"); they are already stored as ``published_at`` and ``author``. The test
is language-free: a date line's numbers must all be parts of ``published_at`` (day, month, year, hour,
minute), with the day and the year (or the month's number) among them, and its words few and short (a month's or a
weekday's name, "à", "Updated"); a byline must hold the author's name and at most a few other words.
"""

from __future__ import annotations

import re
from datetime import datetime

MAX_LINE_CHARS = 80
MAX_WORDS = 5  # besides the numbers: weekday, month name, "at", "Updated", a time zone
MAX_WORD_CHARS = 12  # "septiembre", "Aktualisiert"; a sentence's words would soon exceed both limits
LETTERS_PER_DIGIT = 2.5
MAX_BYLINE_EXTRA_WORDS = 3  # "Par", "By", "Von" + "and", "Staff writer" …

_NUMBER = re.compile(r"\d+")
_WORD = re.compile(r"[^\W\d_]+")


def is_date_line(line: str, published_at: datetime | None) -> bool:
    """Whether ``line`` is nothing but the publication date (and time) written out."""
    if published_at is None or len(line) > MAX_LINE_CHARS:
        return False
    numbers = [int(n) for n in _NUMBER.findall(line)]
    words = _WORD.findall(line)
    if not numbers or len(words) > MAX_WORDS or any(len(w) > MAX_WORD_CHARS for w in words):
        return False
    # Mostly figures: "17 novembre 2024 à 21h05" has more digits than letters; "17 people were injured in 2024"
    # has three times as many letters.
    if sum(map(len, words)) > LETTERS_PER_DIGIT * sum(c.isdigit() for c in line):
        return False
    p = published_at
    allowed = {p.day, p.month, p.year, p.year % 100, p.hour, p.hour % 12 or 12, p.minute, 0}
    if not set(numbers) <= allowed:
        return False
    # The day, and the year or the month as a number: "17 novembre 2024", "17.11.2024", "11/17/24".
    if p.day not in numbers:
        return False
    return p.year in numbers or p.year % 100 in numbers[1:] or (p.month in numbers and len(numbers) >= 2)


def is_byline(line: str, author: str | None) -> bool:
    """Whether ``line`` is the author's name with at most a few words around it ("Par Claire Dumas")."""
    if not author or len(line) > MAX_LINE_CHARS:
        return False
    folded, name = line.casefold(), " ".join(author.split()).casefold()
    if not name or name not in folded:
        return False
    rest = folded.replace(name, " ")
    words = _WORD.findall(rest)
    return len(words) <= MAX_BYLINE_EXTRA_WORDS and not _NUMBER.search(rest)
