"""Language tags: one normaliser for every hint, rule and query (pages, feeds, topic rules, the API).

Everything that names a language is compared in one vocabulary: the ISO 639-1 code where one exists (what
langdetect answers), else the ISO 639-3 code. BCP 47 ("fr-FR"), POSIX ("fr_FR"), ISO 639-2 ("fra", "fre"),
withdrawn codes ("iw") and English language names ("English", as some feeds write it) all come out the same.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import langcodes

UNDETERMINED = "und"
# Norwegian Bokmål and Nynorsk are both written Norwegian, which language detection knows only as the
# macrolanguage 'no'; langcodes turns the 639-1 code 'tl' into 'fil', which langdetect never answers.
_SAME_AS = {"nb": "no", "nn": "no", "fil": "tl"}
MAX_TAG_CHARS = 64  # a header or attribute longer than this names no language


@functools.lru_cache(maxsize=4096)
def normalise_language(value: str | None) -> str | None:
    """The code of the language ``value`` names ("fr-FR", "fra", "nb-NO", "English" → fr, fr, no, en), or None
    for what names none ("x-default", "xx", "und", "{{lang}}"). Lists such as "fr, en" give their first entry."""
    if not value:
        return None
    first = value.split(",")[0].split(";")[0].strip()
    if not first or len(first) > MAX_TAG_CHARS:
        return None
    import langcodes  # noqa: PLC0415 - ~35 ms to import; every command loads this module, few use it

    language: langcodes.Language | None
    try:
        language = langcodes.Language.get(first.replace("_", "-"), normalize=True)
    except (langcodes.tag_parser.LanguageTagError, ValueError):
        language = _by_name(first)
    if language is None or not language.is_valid():
        return None
    code = language.language
    if not code or not code.isalpha() or code == UNDETERMINED or "qaa" <= code <= "qtz":  # qaa-qtz: private use
        return None
    return _SAME_AS.get(code, code)


def _by_name(name: str) -> langcodes.Language | None:
    """A language named in English or in itself ("English", "Français"); None when the words name none."""
    import langcodes  # noqa: PLC0415 - see normalise_language

    if not all(part.isalpha() for part in name.split()):
        return None
    try:
        return langcodes.find(name)
    except LookupError:
        return None


def normalise_languages(values: list[str]) -> list[str]:
    """Distinct codes of several tags, in the order given; ValueError names the first that names no language."""
    codes: dict[str, None] = {}
    for value in values:
        code = UNDETERMINED if value.strip().lower() == UNDETERMINED else normalise_language(value)
        if code is None:
            raise ValueError(f"{value!r} is not a language tag (ISO 639 code or BCP 47 tag, e.g. fr, pt-BR)")
        codes[code] = None
    return list(codes)
