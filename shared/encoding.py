"""Turn HTML bytes into text: BOM, HTTP charset, meta charset, detection, then UTF-8 — skipping sources that lie."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from email.message import Message
from typing import Literal

import charset_normalizer

Source = Literal["bom", "header", "meta", "detected", "fallback"]

# Longest BOMs first: the UTF-32 LE BOM begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Labels the WHATWG Encoding Standard maps elsewhere: browsers decode "latin1" pages as windows-1252,
# and authors write for browsers, so the C1 range (0x80-0x9F) holds curly quotes, not control codes.
_WHATWG_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-9": "cp1254",
    "latin5": "cp1254",
    "tis-620": "cp874",
    "x-sjis": "shift_jis",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}
_META_WINDOW = 4096  # WHATWG prescans 1024 bytes; real pages often put the meta tag after long scripts
_META_CHARSET = re.compile(rb"""<meta\s[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class DecodedHtml:
    """The page as text, the codec that decoded it and where that codec came from."""

    text: str
    charset: str
    source: Source


def codec_for(label: str | None) -> str | None:
    """Python's codec name for a charset label, or None when the label is unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    try:
        return codecs.lookup(_WHATWG_ALIASES.get(label, label)).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header value, if any (RFC 9110 §8.3.2)."""
    if not content_type:
        return None
    message = Message()
    message["content-type"] = content_type
    charset = message.get_param("charset")
    return charset if isinstance(charset, str) else None


def meta_charset(body: bytes) -> str | None:
    """The charset of the first ``<meta charset>`` or ``<meta http-equiv=content-type>`` near the top."""
    match = _META_CHARSET.search(body[:_META_WINDOW])
    if match is None:
        return None
    label = match.group(1).decode("ascii").lower()
    # A meta tag readable as ASCII cannot be UTF-16; WHATWG reads such a declaration as UTF-8.
    return "utf-8" if label.startswith("utf-16") else label


def _decode(body: bytes, codec: str | None) -> str | None:
    """``body`` decoded strictly with ``codec``, or None when the codec is unknown or the bytes contradict it."""
    if codec is None:
        return None
    try:
        text = body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None
    if codec != "utf-8" and not body.isascii() and _is_utf8(body):
        # Non-ASCII bytes that happen to be valid UTF-8 almost never are legacy text: the label is stale
        # (the classic case is a server default of ISO-8859-1 in front of UTF-8 pages).
        return None
    return text


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_html(body: bytes, content_type: str | None) -> DecodedHtml:
    """Decode an HTML page, trying each source of its charset in turn; never raises, never returns mojibake
    from a declaration the bytes disprove."""
    for bom, bom_codec in _BOMS:
        if body.startswith(bom):
            return DecodedHtml(body[len(bom) :].decode(bom_codec, errors="replace"), bom_codec, "bom")
    declared: list[tuple[str | None, Source]] = [
        (codec_for(header_charset(content_type)), "header"),
        (codec_for(meta_charset(body)), "meta"),
    ]
    for codec, source in declared:
        text = _decode(body, codec)
        if text is not None and codec is not None:
            return DecodedHtml(text, codec, source)
    best = charset_normalizer.from_bytes(body).best()
    if best is not None:
        guess = codec_for(best.encoding)
        text = _decode(body, guess)
        if text is not None and guess is not None:
            return DecodedHtml(text, guess, "detected")
    return DecodedHtml(body.decode("utf-8", errors="replace"), "utf-8", "fallback")
