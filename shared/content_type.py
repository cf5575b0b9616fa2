"""Decide whether a body is plausibly a feed or an HTML page, from its declared type and its first bytes."""

from __future__ import annotations

from typing import Literal

from shared.errors import Outcome, PermanentError

# Signatures of binary formats servers have been seen to label text/html or text/xml
# (the WHATWG MIME Sniffing Standard §6 lists the same patterns).
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"%PDF-", "PDF document"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"PK\x05\x06", "ZIP archive"),
    (b"\x1f\x8b\x08", "gzip data"),  # compressed twice, or a .gz file served as a page
    (b"BM", "BMP image"),
    (b"\x00\x00\x01\x00", "icon"),
    (b"OggS\x00", "Ogg media"),
    (b"ID3", "MP3 audio"),
    (b"\x1aE\xdf\xa3", "WebM/Matroska video"),
    (b"wOFF", "web font"),
    (b"wOF2", "web font"),
    (b"\x00asm", "WebAssembly"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
)

_FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/xml",
        "application/json",
        "application/feed+json",
        "application/octet-stream",  # common for feeds served from object stores
    }
)
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/xml", "text/xml"})
# Labels that say nothing: accept them when the bytes look like markup.
_VAGUE_TYPES = frozenset({"", "text/plain", "application/octet-stream", "application/unknown"})


def sniff_binary(body: bytes) -> str | None:
    """The name of the binary format ``body`` starts with, if any."""
    for magic, name in _MAGIC:
        if body.startswith(magic):
            return name
    if body[:4] == b"RIFF" and body[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return "RIFF media"
    if body[4:8] == b"ftyp":
        return "MP4/QuickTime media"
    return None


def media_type(content_type: str | None) -> str:
    """The essence of a Content-Type value: lower-cased type/subtype without parameters (RFC 9110 §8.3.1)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _looks_like_markup(body: bytes) -> bool:
    head = body[:512].lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n")
    return head.startswith(b"<")


def check_media(content_type: str | None, body: bytes, kind: Literal["feed", "html"]) -> None:
    """Raise PermanentError(BAD_CONTENT_TYPE) unless ``body`` may be a ``kind`` document."""
    binary = sniff_binary(body)
    if binary is not None:
        raise PermanentError(Outcome.BAD_CONTENT_TYPE, f"body is a {binary} (declared {content_type!r})")
    essence = media_type(content_type)
    if kind == "feed":
        # Feeds wear many labels (text/html and text/plain included); the feed parser is the real judge.
        ok = essence in _FEED_TYPES or essence.startswith("text/") or essence.endswith(("+xml", "+json"))
        ok = ok or essence == ""
    else:
        ok = essence in _HTML_TYPES or (essence in _VAGUE_TYPES and _looks_like_markup(body))
    if not ok:
        raise PermanentError(Outcome.BAD_CONTENT_TYPE, f"{essence or 'no type'} is not a {kind} document")
