"""decode_html: each charset source in turn, and declarations the bytes disprove are skipped."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.encoding import codec_for, decode_html, header_charset, meta_charset

RUSSIAN = "Новости дня: правительство объявило о новых мерах поддержки экономики и науки."
FRENCH = "Élève, déjà là: l'été à Noël, où ça coûte « très » cher — naïveté et cœur."


def page(text: str, head: str = "") -> str:
    return f"<!doctype html><html><head>{head}<title>t</title></head><body><p>{text}</p></body></html>"


def test_windows_1251_declared_only_in_meta() -> None:
    body = page(RUSSIAN, '<meta charset="windows-1251">').encode("cp1251")
    decoded = decode_html(body, "text/html")
    assert (decoded.charset, decoded.source) == ("cp1251", "meta")
    assert RUSSIAN in decoded.text


def test_http_equiv_meta_is_read() -> None:
    head = '<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">'
    decoded = decode_html(page(RUSSIAN, head).encode("koi8-r"), None)
    assert (decoded.charset, decoded.source) == ("koi8-r", "meta")
    assert RUSSIAN in decoded.text


def test_latin1_declared_in_the_header() -> None:
    body = page(FRENCH.replace("—", "-").replace("œ", "oe")).encode("latin-1")
    decoded = decode_html(body, "text/html; charset=ISO-8859-1")
    assert decoded.source == "header"
    assert decoded.charset == "cp1252"  # what browsers use for the "latin1" labels (WHATWG Encoding)
    assert "Élève, déjà là" in decoded.text


def test_header_wins_over_meta() -> None:
    body = page(RUSSIAN, '<meta charset="utf-8">').encode("cp1251")
    decoded = decode_html(body, 'text/html; charset="windows-1251"')
    assert (decoded.source, decoded.charset) == ("header", "cp1251")


def test_page_lying_about_utf8_falls_through() -> None:
    body = page(RUSSIAN, '<meta charset="utf-8">').encode("cp1251")
    decoded = decode_html(body, "text/html; charset=utf-8")
    assert decoded.source == "detected"
    assert RUSSIAN in decoded.text


def test_bogus_label_falls_through_to_meta() -> None:
    body = page(FRENCH, '<meta charset="utf-8">').encode("utf-8")
    decoded = decode_html(body, "text/html; charset=x-no-such-charset")
    assert (decoded.source, decoded.charset) == ("meta", "utf-8")
    assert FRENCH in decoded.text


def test_stale_legacy_label_in_front_of_utf8_is_skipped() -> None:
    body = page(RUSSIAN).encode("utf-8")
    decoded = decode_html(body, "text/html; charset=iso-8859-1")
    assert decoded.charset == "utf-8"
    assert RUSSIAN in decoded.text


@pytest.mark.parametrize(
    ("bom", "codec"),
    [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")],
)
def test_bom_wins(bom: bytes, codec: str) -> None:
    body = bom + page(FRENCH).encode(codec)
    decoded = decode_html(body, "text/html; charset=windows-1251")
    assert (decoded.source, decoded.charset) == ("bom", codec)
    assert FRENCH in decoded.text
    assert not decoded.text.startswith("\ufeff")


def test_undeclared_page_is_detected() -> None:
    decoded = decode_html(page(RUSSIAN * 3).encode("cp1251"), None)
    assert decoded.source == "detected"
    assert RUSSIAN in decoded.text


def test_empty_body_falls_back_to_utf8() -> None:
    decoded = decode_html(b"", None)
    assert (decoded.text, decoded.charset) == ("", "utf-8")


@pytest.mark.parametrize(
    ("content_type", "charset"),
    [
        ("text/html; charset=UTF-8", "UTF-8"),
        ('text/html; charset="windows-1251"', "windows-1251"),
        ("text/html;charset=utf-8;foo=bar", "utf-8"),
        ("text/html", None),
        (None, None),
    ],
)
def test_header_charset(content_type: str | None, charset: str | None) -> None:
    assert header_charset(content_type) == charset


@pytest.mark.parametrize(
    ("head", "label"),
    [
        (b'<meta charset="Shift_JIS">', "shift_jis"),
        (b"<META CHARSET=utf-8>", "utf-8"),
        (b"<meta http-equiv='content-type' content='text/html; charset=gb2312'>", "gb2312"),
        (b'<meta charset="utf-16">', "utf-8"),  # readable as ASCII, so not really UTF-16
        (b'<meta name="viewport" content="width=device-width">', None),
    ],
)
def test_meta_charset(head: bytes, label: str | None) -> None:
    assert meta_charset(b"<html><head>" + head + b"</head>") == label


def test_meta_charset_far_down_the_page_is_ignored() -> None:
    assert meta_charset(b"<html><head>" + b" " * 5000 + b'<meta charset="koi8-r">') is None


@pytest.mark.parametrize(
    ("label", "codec"),
    [("utf8", "utf-8"), ("Windows-1251", "cp1251"), ("latin1", "cp1252"), ("x-bogus", None), ("", None)],
)
def test_codec_for(label: str, codec: str | None) -> None:
    assert codec_for(label) == codec


@given(st.text(), st.sampled_from(["utf-8", "cp1251", "latin-1", None]), st.binary(max_size=64))
def test_decode_never_raises(text: str, label: str | None, noise: bytes) -> None:
    body = text.encode("utf-8") + noise
    decoded = decode_html(body, f"text/html; charset={label}" if label else None)
    assert isinstance(decoded.text, str)
    assert codec_for(decoded.charset) is not None
