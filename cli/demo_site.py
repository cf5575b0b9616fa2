"""The demo news site: sources, articles and templates read from seeds/demo/, rendered to pages and feeds."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from feedgen.feed import FeedGenerator
from jinja2 import Environment, FileSystemLoader, select_autoescape

DEMO_DIR = Path(__file__).resolve().parents[1] / "seeds" / "demo"


@dataclass(frozen=True)
class Expectation:
    """How the pipeline must publish an article for the demo to pass."""

    language: str
    topics: tuple[str, ...] = ()
    duplicate_of: str | None = None  # key of the original this one copies
    text_file: str | None = None  # the exact cleaned text, where we have it (the seed)


@dataclass(frozen=True)
class Feed:
    name: str
    source: str
    format: str  # rss | atom
    phase: int

    @property
    def path(self) -> str:
        return f"/{self.source}/{self.name}.{'rss' if self.format == 'rss' else 'atom'}.xml"


@dataclass(frozen=True)
class Source:
    slug: str
    name: str
    language: str
    template: str
    tagline: str
    feeds: tuple[Feed, ...]


@dataclass(frozen=True)
class Article:
    key: str  # file name without .md: unique, and the page's path
    source: str
    feed: str
    title: str
    lead: str | None
    paragraphs: tuple[str, ...]
    author: str
    published: datetime
    language: str
    section: str
    expect: Expectation

    @property
    def path(self) -> str:
        return f"/{self.source}/{self.key}.html"

    @property
    def description(self) -> str:
        return (self.lead or self.paragraphs[0])[:200]


@dataclass(frozen=True)
class Site:
    sources: tuple[Source, ...]
    articles: tuple[Article, ...]
    root: Path = field(default=DEMO_DIR)

    def feeds(self) -> list[Feed]:
        return [f for s in self.sources for f in s.feeds]

    def source(self, slug: str) -> Source:
        return next(s for s in self.sources if s.slug == slug)


def _front_matter(path: Path) -> tuple[dict[str, Any], str]:
    _, head, body = path.read_text(encoding="utf-8").split("---\n", 2)
    return yaml.safe_load(head), body


def _paragraphs(body: str) -> list[str]:
    return [" ".join(block.split()) for block in body.split("\n\n") if block.strip()]


def load_site(root: Path = DEMO_DIR) -> Site:
    """Read site.yaml and articles/*.md; bodies may come from a file (one paragraph per line) or another
    article (a syndicated copy: its own headline and lead, the original's body)."""
    doc = yaml.safe_load((root / "site.yaml").read_text(encoding="utf-8"))
    sources = tuple(
        Source(s["slug"], s["name"], s["language"], s["template"], s["tagline"],
               tuple(Feed(f["name"], s["slug"], f["format"], int(f["phase"])) for f in s["feeds"]))
        for s in doc["sources"]
    )  # fmt: skip
    raw = {p.stem: _front_matter(p) for p in sorted((root / "articles").glob("*.md"))}
    articles = []
    for key, (meta, body) in raw.items():
        if "body_file" in meta:
            paragraphs = [line.strip() for line in (root / meta["body_file"]).read_text("utf-8").splitlines()]
        elif "body_from" in meta:
            original_meta, original_body = raw[meta["body_from"]]
            paragraphs = _paragraphs(original_body)
            if "body_file" in original_meta:
                lines = (root / original_meta["body_file"]).read_text("utf-8").splitlines()
                paragraphs = [line.strip() for line in lines]
            paragraphs = paragraphs[int(meta.get("skip_paragraphs", 0)) :]
        else:
            paragraphs = _paragraphs(body)
        expect = meta.get("expect", {})
        articles.append(Article(
            key=key, source=meta["source"], feed=meta.get("feed", meta["source"]), title=meta["title"],
            lead=meta.get("lead"), paragraphs=tuple(p for p in paragraphs if p), author=meta["author"],
            published=datetime.fromisoformat(str(meta["published"])), language=meta["language"],
            section=meta.get("section", ""),
            expect=Expectation(expect.get("language", meta["language"]), tuple(expect.get("topics", ())),
                               expect.get("duplicate_of"), expect.get("text_file")),
        ))  # fmt: skip
    return Site(sources, tuple(articles), root)


@dataclass(frozen=True)
class Page:
    body: bytes
    content_type: str

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'


def _feed_document(site: Site, feed: Feed, base_url: str) -> bytes:
    """RSS or Atom with feedgen (never string templates): title, link, id, date, author, summary."""
    source = site.source(feed.source)
    fg = FeedGenerator()
    fg.id(base_url + feed.path)
    fg.title(source.name if feed.name == source.slug else f"{source.name} ({feed.name})")
    fg.link(href=base_url + feed.path, rel="self")
    fg.link(href=f"{base_url}/{source.slug}/", rel="alternate")
    fg.description(source.tagline)
    if source.language != "mul":
        fg.language(source.language)
    entries = sorted((a for a in site.articles if a.feed == feed.name), key=lambda a: a.published)
    # Dated by its newest entry, not by now: the same content is the same bytes, so a re-poll is "not modified".
    newest = entries[-1].published if entries else datetime(2024, 1, 1, tzinfo=UTC)
    fg.updated(newest)
    fg.lastBuildDate(newest)
    for a in entries:  # feedgen puts the last added first
        entry = fg.add_entry()
        entry.id(base_url + a.path)
        entry.guid(base_url + a.path, permalink=True)
        entry.title(a.title)
        entry.link(href=base_url + a.path)
        entry.published(a.published)
        entry.updated(a.published)
        entry.author({"name": a.author})
        entry.summary(a.description)
    return fg.atom_str(pretty=True) if feed.format == "atom" else fg.rss_str(pretty=True)


def render_site(site: Site, base_url: str) -> dict[str, Page]:
    """Every path the demo server answers: article pages, feeds, source home pages, robots.txt."""
    env = Environment(loader=FileSystemLoader(site.root / "templates"), autoescape=select_autoescape(["j2"]))
    html, xml = "text/html; charset=utf-8", "application/{}+xml; charset=utf-8"
    pages: dict[str, Page] = {"/robots.txt": Page(b"User-agent: *\nAllow: /\n", "text/plain")}
    for source in site.sources:
        own = [a for a in site.articles if a.source == source.slug]
        feed_url = base_url + source.feeds[0].path
        for a in own:
            related = [(o.title, base_url + o.path) for o in own if o.key != a.key][:4]
            page = env.get_template(source.template).render(
                source=source, article=_view(a, base_url), related=related, base_url=base_url,
                source_url=f"{base_url}/{source.slug}/", feed_url=feed_url,
            )  # fmt: skip
            pages[a.path] = Page(page.encode("utf-8"), html)
        for feed in source.feeds:
            pages[feed.path] = Page(_feed_document(site, feed, base_url), xml.format(feed.format))
    listing = [
        (s, [(f.name, base_url + f.path) for f in s.feeds], [_view(a, base_url) for a in site.articles
                                                           if a.source == s.slug])
        for s in site.sources
    ]  # fmt: skip
    index = env.get_template("index.html.j2")
    pages["/"] = Page(index.render(title="newsmill demo site", sources=listing, base_url=base_url).encode(), html)
    for s, feeds, views in listing:
        body = index.render(title=s.name, sources=[(s, feeds, views)], base_url=base_url)
        pages[f"/{s.slug}/"] = Page(body.encode("utf-8"), html)
    return pages


@dataclass(frozen=True)
class _ArticleView:
    """What a template sees: the article plus its absolute URL."""

    article: Article
    url: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.article, name)


def _view(a: Article, base_url: str) -> _ArticleView:
    return _ArticleView(a, base_url + a.path)
