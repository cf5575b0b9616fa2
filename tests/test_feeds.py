"""Feed parsing on bytes: good feeds, and the broken or hostile ones that must end as a named outcome."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.errors import Outcome, PermanentError
from workers.stages.feeds import parse_feed, strip_doctype

FEED_URL = "http://news.example/feed.xml"
RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel>
<title>Example News</title><link>http://news.example/</link><language>fr</language><ttl>30</ttl>
<item><title>First</title><link>http://news.example/a.html?utm_source=rss&amp;utm_medium=feed</link>
  <guid isPermaLink="false">a-1</guid><pubDate>Mon, 18 Nov 2024 10:15:00 +0100</pubDate>
  <author>jane@news.example (Jane Doe)</author></item>
<item><title>Relative</title><link>/b.html</link></item>
</channel></rss>"""


def test_rss_entries_are_typed_and_canonical() -> None:
    feed = parse_feed(RSS, FEED_URL, "application/rss+xml")
    assert feed.title == "Example News"
    assert feed.language == "fr"
    assert feed.ttl_seconds == 1800
    first, second = feed.entries
    assert first.guid == "a-1"
    assert first.url == "http://news.example/a.html?utm_source=rss&utm_medium=feed"
    assert first.canonical_url == "http://news.example/a.html"
    assert first.published_at == datetime(2024, 11, 18, 9, 15, tzinfo=UTC)
    assert first.language == "fr"
    assert second.url == "http://news.example/b.html"


def test_atom_feed() -> None:
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
    <entry><id>tag:x,2024:1</id><title>One</title><link href="http://x.example/1"/>
    <updated>2024-11-18T10:00:00Z</updated></entry></feed>"""
    feed = parse_feed(atom, "http://x.example/atom", "application/atom+xml")
    assert [e.url for e in feed.entries] == ["http://x.example/1"]
    assert feed.entries[0].guid == "tag:x,2024:1"


def test_html_instead_of_a_feed_is_not_a_feed() -> None:
    html = b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Welcome</p></body></html>"
    with pytest.raises(PermanentError) as err:
        parse_feed(html, FEED_URL, "text/html")
    assert err.value.outcome is Outcome.NOT_A_FEED


def test_malformed_xml_with_no_entries_is_not_a_feed() -> None:
    with pytest.raises(PermanentError) as err:
        parse_feed(b"<rss><channel><title>broken</chan", FEED_URL, "application/xml")
    assert err.value.outcome is Outcome.NOT_A_FEED


def test_malformed_xml_with_entries_keeps_what_it_can() -> None:
    broken = RSS.replace(b"</channel></rss>", b"<item><title>x</title>")
    feed = parse_feed(broken, FEED_URL, "application/rss+xml")
    assert len(feed.entries) == 2


def test_entries_without_links_are_a_recorded_error() -> None:
    feed = b'<rss version="2.0"><channel><title>t</title><item><title>no link</title></item>' + (
        b"<item><title>ftp</title><link>ftp://x.example/a</link></item></channel></rss>"
    )
    with pytest.raises(PermanentError) as err:
        parse_feed(feed, FEED_URL, "application/rss+xml")
    assert err.value.outcome is Outcome.NO_CONTENT
    assert "2 entries" in err.value.reason


def test_some_entries_without_links_are_skipped_and_counted() -> None:
    feed = RSS.replace(b"<item><title>Relative</title><link>/b.html</link></item>", b"<item><title>x</title></item>")
    parsed = parse_feed(feed, FEED_URL, "application/rss+xml")
    assert len(parsed.entries) == 1
    assert parsed.skipped_entries == 1


def test_quadratic_blowup_entity_is_never_expanded() -> None:
    big = b"A" * 100_000
    refs = b"&big;" * 2_000
    evil = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY big "' + big + b'">]>'
        b'<rss version="2.0"><channel><title>' + refs + b"</title><item><title>" + refs + b"</title>"
        b"<link>http://x.example/1</link></item></channel></rss>"
    )
    feed = parse_feed(evil, FEED_URL, "application/rss+xml")
    assert feed.entries[0].url == "http://x.example/1"
    assert len(feed.entries[0].title or "") <= 1_000
    assert "A" * 1000 not in (feed.title or "")


def test_billion_laughs_and_external_entities_are_stripped() -> None:
    laughs = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">
    <!ENTITY ext SYSTEM "file:///etc/passwd">]><rss version="2.0"><channel><title>&lol2;&ext;</title>
    <item><link>http://x.example/1</link></item></channel></rss>"""
    feed = parse_feed(laughs, FEED_URL, "application/rss+xml")
    assert "root:" not in (feed.title or "")
    assert "lollol" not in (feed.title or "")


def test_entity_declaration_outside_doctype_is_refused() -> None:
    with pytest.raises(PermanentError):
        strip_doctype(b'<rss><!ENTITY x "y"></rss>')


def test_lone_surrogate_does_not_crash() -> None:
    body = b'<rss version="2.0"><channel><title>&#xD800;</title><item><link>http://x.example/1</link></item></channel></rss>'
    # feedparser raises on the whole document for it; the reference becomes U+FFFD and the entries survive.
    feed = parse_feed(body, FEED_URL, "application/rss+xml")
    assert feed.title == "\ufffd"
    assert [e.url for e in feed.entries] == ["http://x.example/1"]


def test_entry_cap_bounds_a_huge_feed() -> None:
    items = b"".join(b"<item><link>http://x.example/%d</link></item>" % i for i in range(10_000))
    body = b'<rss version="2.0"><channel><title>t</title>' + items + b"</channel></rss>"
    feed = parse_feed(body, FEED_URL, "application/rss+xml", max_entries=1_000)
    assert len(feed.entries) == 1_000
    assert feed.skipped_entries == 9_000
