"""Hostile servers and inputs of the reliability cases (issue 19): delays that would hold a host back for a
year, validators that cannot be sent back, conditional feeds, and the files a user might hand the CLI."""

from __future__ import annotations

import threading

from harness.articles import article_html
from tests.support.hostile_server import HostileServer, respond
from tests.support.http_server import LocalSite, RequestHandler, Response

RSS_TYPE = "application/rss+xml; charset=utf-8"
HTML = {"Content-Type": "text/html; charset=utf-8"}

# Retry-After values seen from real and hostile servers; what each must become is in the tests.
RETRY_AFTER_BOMBS: dict[str, str] = {
    "a-year": "31536000",
    "year-9999": "Fri, 31 Dec 9999 23:59:59 GMT",
    "twenty-nines": "99999999999999999999",
    "5000-digits": "9" * 5_000,
    "negative": "-5",
    "garbage": "after lunch",
    "fractional": "1.5",
}
# The ones that name a delay longer than any cap.
HUGE = frozenset({"a-year", "year-9999", "twenty-nines", "5000-digits"})


def rss(entries: list[tuple[str, str]], title: str = "Feed", channel_extra: str = "") -> bytes:
    items = "".join(f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid></item>" for t, link in entries)
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>{channel_extra}{items}</channel></rss>'
    ).encode()


def retry_after_routes(server: HostileServer, prefix: str, status: int = 429) -> dict[str, str]:
    """{case: url} of routes answering ``status`` with each Retry-After of RETRY_AFTER_BOMBS."""
    return {
        name: server.add(f"/{prefix}/{name}", respond(status, b"slow down", {"Retry-After": value}))
        for name, value in RETRY_AFTER_BOMBS.items()
    }


def hint_bomb_feed(server: HostileServer) -> str:
    """A good feed whose Cache-Control max-age and <ttl> are each five thousand digits long."""
    body = rss([("Story", "http://news.example/hint-bomb")], channel_extra=f"<ttl>{'9' * 5_000}</ttl>")
    return server.add(
        "/feed/hint-bomb", respond(200, body, {"Content-Type": RSS_TYPE, "Cache-Control": f"max-age={'9' * 5_000}"})
    )


# Validators a server may send that cannot go back in a request header as they are.
BAD_VALIDATORS: dict[str, dict[str, str | bytes]] = {
    "utf8-etag": {"ETag": '"caf\u00e9-\u65b0\u805e"'.encode()},  # raw UTF-8 on the wire
    "latin1-last-modified": {"Last-Modified": b"Mon, 01 Jan 2024 00:00:00 GMT \xe9t\xe9"},
    "4kb-etag": {"ETag": '"' + "x" * 4_000 + '"'},
}


def bad_validator_feeds(server: HostileServer) -> dict[str, str]:
    """{case: url} of good feeds, each sending one unusable validator of BAD_VALIDATORS."""
    return {
        name: server.add(
            f"/feed/{name}",
            respond(200, rss([(name, f"http://news.example/{name}")]), {"Content-Type": RSS_TYPE, **headers}),
        )
        for name, headers in BAD_VALIDATORS.items()
    }


def conditional_feeds(site: LocalSite) -> tuple[str, str]:
    """Two feeds of the same entries: one answers a matching If-None-Match with 304, the other sends no
    validators and the very same 200 body every time. Returns (url of the first, url of the second)."""
    body = rss([("Tram line opens", "http://news.example/tram")])

    def honours_etag(request: RequestHandler) -> None:
        matched = request.headers.get("If-None-Match") == '"v1"'
        request.send_response(304 if matched else 200)
        request.send_header("ETag", '"v1"')
        request.send_header("Content-Type", RSS_TYPE)
        request.send_header("Content-Length", "0" if matched else str(len(body)))
        request.end_headers()
        if not matched:
            request.wfile.write(body)

    def always_200(request: RequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", RSS_TYPE)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    return site.add("/etag.xml", honours_etag), site.add("/plain.xml", always_200)


def alias_bomb_yaml(levels: int = 9) -> str:
    """A 'billion laughs' YAML document of a few hundred bytes: each level refers to the last one nine times."""
    lines = ['a0: &a0 ["lol"]']
    for n in range(1, levels + 1):
        lines.append(f"a{n}: &a{n} [{', '.join(f'*a{n - 1}' for _ in range(9))}]")
    return "\n".join(lines) + "\n"


def hostile_opml() -> bytes:
    """An OPML file mixing good feeds with entries an import must report rather than skip in silence."""
    outlines = [
        ('xmlUrl="https://news.example/rss.xml"', "good"),
        ('xmlUrl="HTTP://Example.COM/Feed"', "good, upper-case scheme and host"),
        ('xmlUrl="ftp://news.example/feed.xml"', "not http"),
        ('xmlUrl="javascript:alert(1)"', "not http"),
        ('xmlUrl="http://news.example:99999/feed"', "bad port"),
        ('xmlUrl="http:///no-host"', "no host"),
        ('xmlUrl="http://news.example/a feed"', "space"),
        ('type="rss" title="no url at all"', "no xmlUrl"),
        ('title="a folder"', "not a feed: not reported"),
    ]
    body = "".join(f'<outline {attrs} text="{what}"/>' for attrs, what in outlines)
    return f'<?xml version="1.0"?><opml version="2.0"><head/><body>{body}</body></opml>'.encode()


def _story(n: int) -> bytes:
    towns = ["Arden", "Belmont", "Corran", "Dunmore", "Eskdale", "Fenwick", "Glenrock", "Harlow"]
    town = towns[n % len(towns)]
    paragraphs = [
        f"Report {n}: the council of {town} voted on plan number {n * 37} for the river bank late on Tuesday.",
        f"Residents of {town} asked for {n + 3} new crossings and a ferry timetable that suits early workers.",
        f"The vote in {town} ends a debate that began {n + 2} years ago, the mayor told reporters afterwards.",
    ]
    return article_html(f"{town} council vote {n}", paragraphs).encode()


def busy_news_site(site: LocalSite, stories: int, *, limited: str | None = None) -> str:
    """A feed of ``stories`` articles on the site's host (127.0.0.1), all fetched through its host limiter;
    with ``limited`` (a base URL of the same server under another host name, e.g. http://localhost:PORT),
    one more article there answers 429 with a Retry-After of an hour. Returns the feed's URL."""
    links = []
    for n in range(stories):
        links.append((f"Story {n}", site.add(f"/story/{n}.html", Response(_story(n), 200, HTML))))
    if limited is not None:
        site.add("/limited.html", Response(b"come back later", 429, {"Retry-After": "3600"}))
        links.append(("Limited", f"{limited}/limited.html"))
    return site.add("/busy.xml", Response(rss(links), 200, {"Content-Type": RSS_TYPE}))


def held_news_site(site: LocalSite, release: threading.Event) -> tuple[str, str]:
    """A feed of three articles, one of which is held until ``release`` is set (a fetch stays in flight).
    Returns (feed URL, path of the held page)."""

    def held(request: RequestHandler) -> None:
        release.wait(timeout=600)
        body = _story(99)
        request.send_response(200)
        request.send_header("Content-Type", HTML["Content-Type"])
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    links = [(f"Story {n}", site.add(f"/story/{n}.html", Response(_story(n), 200, HTML))) for n in range(2)]
    links.append(("Held", site.add("/held.html", held)))
    return site.add("/held.xml", Response(rss(links), 200, {"Content-Type": RSS_TYPE})), "/held.html"
