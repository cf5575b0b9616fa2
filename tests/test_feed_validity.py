"""Every feed newsmill serves, in every format, passes the strictest offline checks that stand in for the
W3C validator (tests/support/feed_validity.py): schema-valid, and not one SecurityRisk, with hostile
articles published. The checks themselves catch what the W3C validator flagged in issue 18."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from harness.articles import publish_ukraine
from shared.db import subscriptions
from tests.support.api_data import publish_corpus, publish_onerror_article
from tests.support.api_server import serve_api
from tests.support.feed_validity import atom_problems, feed_problems, rss_problems
from workers.steps.search_index import index_new_articles

RSS = b'<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>t</title><link>http://x/</link>'
RSS_END = b"<description>d</description><atom:link rel='self' href='http://x/f'/>%s</channel></rss>"


def test_every_feed_in_every_format_is_valid_and_safe(db_url: str, db: psycopg.Connection) -> None:
    publish_corpus(db)
    publish_onerror_article(db)
    for n in range(3):
        publish_ukraine(db, n)
    index_new_articles(db)
    token = subscriptions.create_subscription(db, "ed@example.org", ["ukraine-war", "russia"], []).token
    paths = ["/topics/ukraine-war", "/topics/ukraine-war?limit=2&lang=en", "/topics", "/topics?limit=3",
             "/search?q=Ukraine", "/search?q=missiles&lang=fr", f"/subscriptions/{token}",
             "/topics/climate"]  # fmt: skip
    checked = 0
    with serve_api(db_url) as base, httpx.Client(base_url=base, timeout=30) as api:
        for path in paths:
            route, _, query = path.partition("?")
            for fmt in ("atom", "rss", "json"):
                url = f"{route}.{fmt}" + (f"?{query}" if query else "")
                r = api.get(url)
                assert r.status_code == 200, (url, r.text)
                assert feed_problems(r.content, r.headers["content-type"]) == [], url
                checked += 1
            if "limit=2" in path:  # the next page too
                next_url = api.get(f"{route}.json?{query}").json()["next_url"]
                assert feed_problems(api.get(next_url).content, "application/feed+json") == []
    assert checked == len(paths) * 3


@pytest.mark.parametrize(
    ("fragment", "risk"),
    [
        (
            b"<item><title>t</title><guid>g</guid><description>&lt;script&gt;alert(1)&lt;/script&gt;</description>"
            b"<pubDate>Sun, 17 Nov 2024 20:00:00 +0000</pubDate></item>",
            "<script>",
        ),  # issue 18, verbatim
        (
            b"<item><title>&lt;img src=x onerror=alert(1)&gt;</title><guid>g</guid>"
            b"<pubDate>Sun, 17 Nov 2024 20:00:00 +0000</pubDate></item>",
            "onerror",
        ),
        (
            b"<item><title>a &lt;b&gt;bold&lt;/b&gt;</title><guid>g</guid>"
            b"<pubDate>Sun, 17 Nov 2024 20:00:00 +0000</pubDate></item>",
            "plain-text field",
        ),
        (b"<item><title>t</title><guid>g</guid><pubDate>2024-11-17</pubDate></item>", "RFC 822"),
    ],
)
def test_the_checks_catch_what_the_validator_flagged(fragment: bytes, risk: str) -> None:
    problems = rss_problems(RSS + RSS_END % fragment)
    assert any(risk in p for p in problems), problems


def test_the_atom_schema_is_not_a_rubber_stamp() -> None:
    feed = (b'<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:x:1</id><title>t</title>'
            b"<updated>2024-11-17T20:00:00Z</updated><author><name>n</name></author>%s</feed>")  # fmt: skip
    good = b"<entry><id>urn:x:2</id><title>t</title><updated>2024-11-17T20:00:00Z</updated><content>c</content></entry>"
    assert atom_problems(feed % good) == []
    assert atom_problems(feed % good.replace(b"<updated>2024-11-17T20:00:00Z</updated>", b"")) != []  # required
    assert atom_problems(feed % good.replace(b"2024-11-17T20:00:00Z", b"17 Nov 2024")) != []  # not a dateTime
    assert atom_problems(feed % good.replace(b"<content>c</content>", b"")) != []  # no content, no link
    assert atom_problems(feed % (good + good)) != []  # one id twice
    assert atom_problems(feed % good.replace(b"<title>t</title>", b'<title type="html">&lt;script&gt;</title>'))
