"""The strictest checks of feeds available offline, standing in for the W3C Feed Validation Service.

The W3C validator (w3c/feedvalidator) is not published on PyPI or npm, so it cannot be installed here; these
checks cover what it reports as errors and as SecurityRisk warnings for our feeds:

- Atom: RELAX NG validation against RFC 4287 Appendix B (tests/fixtures/atom.rnc), plus the RFC's Schematron
  rules lxml does not run (an author for every entry, content or an alternate link, unique ids);
- RSS 2.0: the required channel and item elements, RFC 822 dates, the atom:link self reference;
- JSON Feed 1.1: its JSON schema (tests/fixtures/jsonfeed-1.1.schema.json);
- SecurityRisk, as the validator defines it: after XML parsing, no <script>, <meta>, <embed> or <object>
  and no on* event handler in any field (its safeHtml check), and no end tag at all in a plain-text field
  (its nonhtml check, ContainsHTML).
"""

from __future__ import annotations

import json
import re
from email.utils import parsedate_to_datetime
from functools import cache
from html.parser import HTMLParser
from typing import Any

import jsonschema
import rnc2rng
from lxml import etree

from tests.conftest import FIXTURES

ATOM = "{http://www.w3.org/2005/Atom}"
_UNSAFE_TAG = re.compile(r"<(script|meta|embed|object)[>\s]", re.IGNORECASE)
_END_TAG = re.compile(r"</\w+>")
# The validator's RFC 822 date pattern (validators.py, rfc822).
_RFC822 = re.compile(
    r"(((Mon)|(Tue)|(Wed)|(Thu)|(Fri)|(Sat)|(Sun)), *)?\d\d? +((Jan)|(Feb)|(Mar)|(Apr)|(May)|(Jun)|(Jul)|(Aug)|"
    r"(Sep)|(Oct)|(Nov)|(Dec)) +\d\d(\d\d)? +\d\d:\d\d(:\d\d)? +(([+-]?\d\d\d\d)|(UT)|(GMT)|(EST)|(EDT)|(CST)|"
    r"(CDT)|(MST)|(MDT)|(PST)|(PDT)|\w)$"
)
# Fields a reader may treat as HTML by definition; every other text field is plain text.
_HTML_FIELDS = {"description", "{http://purl.org/rss/1.0/modules/content/}encoded", f"{ATOM}content",
                f"{ATOM}summary", f"{ATOM}title", f"{ATOM}subtitle"}  # fmt: skip


class _EventHandlers(HTMLParser):
    def __init__(self, fragment: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.feed(fragment)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [f"<{tag} {name}>" for name, _ in attrs if name.lower().startswith("on")]


def security_risks(where: str, value: str, *, html_field: bool) -> list[str]:
    """What the validator would flag in one field's parsed value (SecurityRisk, or ContainsHTML in text)."""
    risks = [f"{where}: {m[0]}" for m in _UNSAFE_TAG.finditer(value)]
    risks += [f"{where}: {handler}" for handler in _EventHandlers(value).found]
    if not html_field and _END_TAG.search(value):
        risks.append(f"{where}: HTML in a plain-text field")
    return risks


@cache
def _atom_schema() -> etree.RelaxNG:
    grammar = rnc2rng.dumps(rnc2rng.load(str(FIXTURES / "atom.rnc")))
    # rnc2rng declares the empty namespace as a prefix (xmlns:local=""), which XML forbids; nsName ns="" is
    # how the grammar refers to it, so the declaration is not needed.
    return etree.RelaxNG(etree.fromstring(grammar.replace('xmlns:local=""', "").encode()))


def _xml_risks(root: etree._Element) -> list[str]:
    risks = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        is_html = element.tag in _HTML_FIELDS and (not element.tag.startswith(ATOM) or element.get("type") == "html")
        if element.text:
            risks += security_risks(element.tag, element.text, html_field=is_html)
        for name, value in element.attrib.items():
            risks += security_risks(f"{element.tag}@{name}", value, html_field=False)
    return risks


def atom_problems(body: bytes) -> list[str]:
    root = etree.fromstring(body)
    schema = _atom_schema()
    problems = [] if schema.validate(root) else [str(e) for e in schema.error_log]
    entries = root.findall(f"{ATOM}entry")
    feed_has_author = root.find(f"{ATOM}author") is not None
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    if len(set(ids)) != len(ids):
        problems.append("two entries with one id")
    for entry in entries:
        if not feed_has_author and entry.find(f"{ATOM}author") is None:
            problems.append(f"entry {entry.findtext(f'{ATOM}id')} has no author")
        alternate = [link for link in entry.findall(f"{ATOM}link") if link.get("rel", "alternate") == "alternate"]
        if entry.find(f"{ATOM}content") is None and not alternate:
            problems.append(f"entry {entry.findtext(f'{ATOM}id')} has neither content nor an alternate link")
    return problems + _xml_risks(root)


def rss_problems(body: bytes) -> list[str]:
    root = etree.fromstring(body)
    problems = [] if root.tag == "rss" and root.get("version") == "2.0" else ["not RSS 2.0"]
    channel = root.find("channel")
    if channel is None:
        return [*problems, "no channel"]
    problems += [f"channel has no {name}" for name in ("title", "link", "description") if not channel.findtext(name)]
    if not any(link.get("rel") == "self" for link in channel.findall(f"{ATOM}link")):
        problems.append("no atom:link rel=self")
    for item in channel.findall("item"):
        if not (item.findtext("title") or item.findtext("description")):
            problems.append("an item without title or description")
        guid = item.find("guid")
        if guid is None or not guid.text:
            problems.append("an item without guid")
        date = item.findtext("pubDate") or ""
        if not _RFC822.match(date) or parsedate_to_datetime(date) is None:
            problems.append(f"pubDate {date!r} is not an RFC 822 date")
    return problems + _xml_risks(root)


def json_feed_problems(body: bytes) -> list[str]:
    doc = json.loads(body)
    schema = json.loads((FIXTURES / "jsonfeed-1.1.schema.json").read_text(encoding="utf-8"))
    try:
        jsonschema.validate(doc, schema)
        problems: list[str] = []
    except jsonschema.ValidationError as exc:
        problems = [exc.message]

    def walk(value: Any, where: str) -> list[str]:
        if isinstance(value, str):
            return security_risks(where, value, html_field=where.endswith("content_html"))
        if isinstance(value, dict):
            return [r for k, v in value.items() for r in walk(v, f"{where}/{k}")]
        if isinstance(value, list):
            return [r for i, v in enumerate(value) for r in walk(v, f"{where}[{i}]")]
        return []

    return problems + walk(doc, "")


def feed_problems(body: bytes, content_type: str) -> list[str]:
    """Every problem of a feed document of any of our formats; an empty list for a valid, safe feed."""
    if content_type.startswith("application/atom+xml"):
        return atom_problems(body)
    if content_type.startswith("application/rss+xml"):
        return rss_problems(body)
    if content_type.startswith("application/feed+json"):
        return json_feed_problems(body)
    return [f"not a feed: {content_type}"]
