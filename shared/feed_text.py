"""Untrusted text made safe for every field of a feed, however a reader interprets that field.

Feed formats disagree, and readers disagree with the formats: RSS never says whether ``<title>`` is text or
HTML, and many readers render a JSON Feed ``title`` or an Atom ``type="text"`` field as HTML anyway (issue 18:
a title carrying ``"><img src=x onerror=…>`` fired in such a reader). So every text field carries
:func:`inert` text: the text itself, except that a ``<`` which would open a tag or comment and an ``&`` which
would start a character reference are written ``&lt;`` and ``&amp;``. Read as HTML it shows exactly the
original characters and nothing runs; read as text it is the original wherever the original was not
markup-like ("AT&T", "a < b", "<3" and quotes stay as they are). Atom fields are declared ``type="html"``,
so a conforming Atom reader shows the exact original too.
"""

from __future__ import annotations

import html
import re

# XML 1.0 §2.2 Char: no C0 controls but tab/newline/return, no surrogates, no U+FFFE/U+FFFF.
_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# WHATWG HTML §13.2.5.1 (data state): "<" followed by a letter, "/", "!" or "?" opens a tag, an end tag, a
# comment or a bogus comment (which swallows the text up to the next ">"); any other "<" is a character.
_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")
# §13.2.5.72: "&" followed by alphanumerics or "#" may start a character reference.
_REFERENCE_LIKE = re.compile(r"&[#A-Za-z0-9]+;?")
# ASCII a URL never carries unencoded (RFC 3986 §2) and that could end or break an HTML attribute value:
# controls, space, double quotes, angle brackets and the like. Other characters (IRIs' non-ASCII) are left alone,
# so an id that was already clean stays byte for byte the same.
_URL_UNSAFE = re.compile('[\x00-\x20"<>\\\\^`{|}\x7f]')


def xml_safe(text: str | None) -> str:
    """``text`` without the characters XML 1.0 forbids (lxml refuses them); U+0000 is not text in HTML either."""
    return _NOT_XML_CHAR.sub("", text or "")


def _escape_reference(match: re.Match[str]) -> str:
    candidate = match[0]
    # html.unescape implements the HTML5 rules (legacy names without ";" included): escape exactly the
    # ampersands a browser would decode, so "AT&T" or "Q&A" stay readable in readers that treat it as text.
    return "&amp;" + candidate[1:] if html.unescape(candidate) != candidate else candidate


def inert(text: str | None) -> str:
    """``text`` for a plain-text field some readers render as HTML (see the module docstring)."""
    cleaned = xml_safe(text)
    return _TAG_OPEN.sub("&lt;", _REFERENCE_LIKE.sub(_escape_reference, cleaned))


def html_text(text: str | None) -> str:
    """``text`` as HTML that displays exactly these characters: for fields declared (or specified) as HTML."""
    return html.escape(xml_safe(text), quote=True)


def safe_url(url: str | None) -> str:
    """An http(s) URL with any character that could break out of an HTML attribute percent-encoded;
    anything else (javascript:, data:, empty) becomes "#": escaping does not make such a URL harmless."""
    if not url or not url.lower().startswith(("http://", "https://")):
        return "#"
    return _URL_UNSAFE.sub(lambda m: f"%{ord(m[0]):02X}", xml_safe(url))
