"""A small published corpus for the API tests: the seed article, a syndicated copy on another site, an
article whose title and text carry markup and a CDATA terminator, and an English one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg

from harness.articles import article_html, load_seed_topics, publish_page

ROOT = Path(__file__).resolve().parents[2]
SEED_HTML = (ROOT / "tests" / "fixtures" / "seed" / "seed_page.html").read_text(encoding="utf-8")
SEED_TITLE = "Joe Biden autorise l’Ukraine à frapper la Russie avec des missiles à longue portée"
COPY_TITLE = "Missiles à longue portée : Washington donne son feu vert à Kiev"
COPY_SITE = "La Gazette Syndiquée"
HOSTILE_TITLE = "Ukraine war <script>alert(1)</script> ]]> & more"
HOSTILE_PARAGRAPH = "Kyiv said <script>alert(1)</script> troops ]]> held the line as the war entered its third winter."


@dataclass(frozen=True)
class Corpus:
    seed_id: int
    copy_id: int
    hostile_id: int
    english_id: int


def syndicated_copy(html: str) -> str:
    """The seed page as another site republishes it: its own name, headline and lead, the same body."""
    lead_start = html.index('<p class="chapo">')
    lead_end = html.index("</p>", lead_start)
    html = html[:lead_start] + '<p class="chapo">Une décision attendue depuis des mois à Kiev.' + html[lead_end:]
    return html.replace(SEED_TITLE, COPY_TITLE).replace("Le Quotidien du Monde", COPY_SITE)


def _escape(text: str) -> str:
    # Markup in an article's *text*: the page must carry it as characters, not as elements.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def hostile_html() -> str:
    paragraphs = [
        HOSTILE_PARAGRAPH,
        "Soldiers near Kharkiv reported heavy shelling overnight, and officials in Kyiv asked allies for more "
        "air defence weapons before the winter.",
        "The ministry said the counteroffensive would continue, while diplomats discussed a ceasefire that "
        "neither side expects soon.",
    ]
    return article_html(_escape(HOSTILE_TITLE), [_escape(p) for p in paragraphs], site="Hostile Gazette <b>")


def english_html() -> str:
    paragraphs = [
        "Ukraine's army said its troops repelled several assaults near Kharkiv on Tuesday as the war went on.",
        "Officials in Kyiv said new weapons deliveries from allies were expected within weeks, and that the "
        "soldiers on the front needed ammunition more than anything else.",
        "Talks about a ceasefire have stalled since the summer, diplomats in several capitals said.",
    ]
    return article_html("Ukrainian troops hold the line near Kharkiv", paragraphs, site="Example Wire", lang="en")


def publish_corpus(conn: psycopg.Connection) -> Corpus:
    """Publish the corpus through the real extract and enrich steps, in this order (the seed first, so
    the copy is its duplicate)."""
    load_seed_topics(conn)
    seed_id = publish_page(conn, "https://quotidien.example/monde/biden-missiles", SEED_HTML)
    copy_id = publish_page(
        conn, "https://gazette.example/2024/kiev-missiles", syndicated_copy(SEED_HTML),
        feed_url="http://gazette.example/feed.xml",
    )  # fmt: skip
    hostile_id = publish_page(conn, "https://hostile.example/war?a=1&b=2", hostile_html())
    english_id = publish_page(conn, "https://wire.example/kharkiv", english_html(), feed_url="http://wire.example/rss")
    return Corpus(seed_id, copy_id, hostile_id, english_id)


# Every field an entry carries, hostile at once: attributes that fire (onerror, onload), an end tag and a
# script, a comment opener that would swallow the text after it, character references that a browser would
# decode, and "AT&T", "5 < 6" that must stay as they are.
ONERROR_TITLE = "Ukraine war \"><img src=x onerror=alert('title')> AT&T &copy <!-- not a comment"
ONERROR_AUTHOR = "Ann <img src=x onerror=alert('author')> Lee &amp; co"
ONERROR_SITE = "Gazette <svg onload=alert('site')> </b><script>alert('site2')</script>"
ONERROR_URL = "https://onerror.example/war?x=1&y=\"><img src=x onerror=alert('url')>"
ONERROR_PARAGRAPHS = [
    "Kyiv said <img src=x onerror=alert('text')> troops held the line in the war near Kharkiv &lt; as agreed.",
    "Soldiers near Kharkiv reported heavy shelling overnight </p><script>alert('p')</script> officials in Kyiv "
    "asked allies for more air defence weapons <? before the winter.",
    "The ministry said the counteroffensive would continue, while diplomats discussed a ceasefire that neither "
    "side expects soon, 5 < 6 and AT&T & Q&A stay as they are ]]> &#60;b&#62; too.",
]


def publish_onerror_article(conn: psycopg.Connection) -> int:
    """An English Ukraine-war article whose stored title, author, site, URL and text all carry live-looking
    markup. Extraction sanitises much of it, so the fields are set after publication: the renderers must
    make any stored value safe, whatever a future extractor lets through."""
    page = article_html("Kyiv asks allies for air defence as the Ukraine war goes on", [
        "Ukraine's foreign minister asked European allies on Monday for more air defence systems to protect "
        "power stations in Kyiv and Odesa from missile strikes during the war.",
        "Engineers have repaired most of the damaged substations, the energy ministry said, but warned that "
        "rolling blackouts could return if the strikes continue through the cold months.",
        "Several governments promised to send launchers and interceptors before the end of the year.",
    ], site="Onerror Times")  # fmt: skip
    article_id = publish_page(conn, "https://onerror.example/war", page)
    conn.execute(
        "UPDATE articles SET title = %s, author = %s, site_name = %s, url = %s, text = %s WHERE id = %s",
        (ONERROR_TITLE, ONERROR_AUTHOR, ONERROR_SITE, ONERROR_URL, "\n".join(ONERROR_PARAGRAPHS), article_id),
    )
    return article_id
