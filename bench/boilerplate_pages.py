"""News pages for the boilerplate benchmark: UDHR article bodies wrapped in varied templates with trailers.

Bodies come from bench/udhr.py (text nobody here wrote). Each page carries the widgets trafilatura lets
through on real sites, in the body's language: a related-links heading with links to other articles of the
site, share buttons (share-intent URLs), a newsletter sign-up form, a caption with a photo credit, an ad
label, a date line and a byline. The phrases below are this benchmark's; for the languages marked ``False``
in ``RULED`` the rules file has no phrase at all (bench/boilerplate.py checks it), so only structure can
remove their widgets. Shapes A-D are the tuning templates, E and F are held out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from html import escape
from pathlib import Path

import yaml

from bench import udhr

PHRASES_FILE = Path(__file__).resolve().parent / "data" / "boilerplate_phrases.yaml"
PHRASE_KINDS = ("related", "more", "share", "prompt", "button", "ad", "photo")
PHRASES: dict[str, tuple[str, ...]] = {
    lang: tuple(str(p[kind]) for kind in PHRASE_KINDS)
    for lang, p in yaml.safe_load(PHRASES_FILE.read_text(encoding="utf-8")).items()
}
SHAPES = {"tuning": "ABCD", "held-out": "EFG"}  # G was written after the cleaner and never tuned on
NAMES = ["Anna Kovač", "Jonas Weber", "Mira Haddad", "Tomas Novak", "Ines Costa", "Kofi Mensah", "Lena Nilsen"]
SHARE_LINKS = [
    ("Facebook", "https://www.facebook.com/sharer/sharer.php?u={u}"), ("X", "https://twitter.com/intent/tweet?url={u}"),
    ("WhatsApp", "whatsapp://send?text={u}"), ("E-mail", "mailto:?subject=news&body={u}"),
    ("LinkedIn", "https://www.linkedin.com/sharing/share-offsite/?url={u}"), ("Telegram", "https://t.me/share/url?url={u}"),
]  # fmt: skip
PARIS = timezone(timedelta(hours=1))


@dataclass(frozen=True)
class Page:
    language: str
    shape: str
    part: udhr.Part
    url: str
    html: str
    body: tuple[str, ...]  # the article's paragraphs: all of them must survive
    trailer: tuple[str, ...]  # related heading and links, share labels, newsletter prompt: none may survive
    short: tuple[str, ...]  # caption, credit, ad label, date line, byline: short lines that must go too


def _link_titles(rng: random.Random, language: str, exclude: set[int], n: int) -> list[str]:
    pool = [s for s in udhr.sections() if s.language == language and s.index not in exclude]
    titles = []
    for section in rng.sample(pool, n):
        words = section.paragraphs[0].split()
        titles.append(
            " ".join(words[: rng.randint(6, 10)]).rstrip(",.;:") if len(words) > 3 else section.paragraphs[0][:24]
        )
    return titles


def _share(u: str, rng: random.Random, label: str | None, tag: str = "div", cls: str = "share") -> str:
    links = "".join(f'<a href="{escape(h.format(u=u))}">{n}</a> ' for n, h in rng.sample(SHARE_LINKS, 4))
    return f'<{tag} class="{cls}">{f"<span>{escape(label)}</span> " if label else ""}{links}</{tag}>'


def make_page(rng: random.Random, language: str, sections: list[udhr.Section], shape: str, n: int) -> Page:
    related, more, share, prompt, button, ad, photo = PHRASES[language]
    host = f"news-{language}-{n // 100}.example"  # one host per cycle through the part's sections
    url = f"https://{host}/{n}/article"
    title = sections[0].heading or f"{language} {n}"
    body = [p for s in sections for p in s.paragraphs][:8]
    published = datetime(
        2024, rng.randint(1, 12), rng.randint(1, 28), rng.randint(6, 22), rng.choice((0, 5, 30)), tzinfo=PARIS
    )
    date_line = rng.choice(["%d.%m.%Y", "%d/%m/%Y %H:%M", "%Y-%m-%d", "%d.%m.%Y, %H.%M"])
    date_text = published.strftime(date_line)
    author = rng.choice(NAMES)
    others = [s for s in udhr.sections() if s.language == language and s not in sections]
    caption = " ".join(rng.choice(others).paragraphs[-1].split()[:7])  # never a paragraph of this body
    credit = f"{photo}: {rng.choice(NAMES)}"
    titles = _link_titles(rng, language, {s.index for s in sections}, 4)
    links = [(t, f"/{n + i + 1}/article") for i, t in enumerate(titles)]
    paras = [f"<p>{escape(p)}</p>" for p in body]
    figure = f'<figure><img src="/i/{n}.jpg" alt=""><figcaption>{escape(caption)} <span class="credit">{escape(credit)}</span></figcaption></figure>'
    ad_slot = f'<div class="ad-slot"><span>{escape(ad)}</span></div>'
    head = (f'<html lang="{language}"><head><meta charset="utf-8"><title>{escape(title)} | News {language}</title>'
            f'<meta property="article:published_time" content="{published.isoformat()}"><meta name="author" content="{escape(author)}">'
            f'<meta property="og:site_name" content="News {language}"></head><body>'
            f'<header><nav><a href="/">Home</a> <a href="/a/">{escape(more)}</a></nav></header>')  # fmt: skip
    meta = f'<p class="date">{escape(date_text)}</p><p class="byline">{escape(author)}</p>'
    trailer = [related, *titles]
    items = "".join(f'<li><a href="{h}">{escape(t)}</a></li>' for t, h in links)
    newsletter = f'<div class="box"><p>{escape(prompt)}</p><form><input type="email"><button>{escape(button)}</button></form></div>'
    mid = len(paras) // 2
    # Widgets sit inside the article's own container, as many CMSs put them: that is where trafilatura keeps them.
    link_ps = "".join(f'<p><a href="{h}">{escape(t)}</a></p>' for t, h in links)
    if shape == "A":
        main = (
            f"<article><h1>{escape(title)}</h1><div class='entry-content'>{meta}{_share(url, rng, share)}{''.join(paras[:mid])}"
            f"{figure}{''.join(paras[mid:])}<p><strong>{escape(related)}</strong></p>{link_ps}{newsletter}</div></article>"
        )
    elif shape == "B":
        main = (
            f"<article><h1>{escape(title)}</h1><div class='content'>{meta}{''.join(paras[:mid])}{ad_slot}{''.join(paras[mid:])}"
            f"<p><strong>{escape(related)}</strong></p><ul class='rel'>{items}</ul>{_share(url, rng, share)}"
            f"{newsletter}</div></article>"
        )
    elif shape == "C":
        buttons = (
            f'<div class="sharebar"><button>{escape(share)}</button><button>Facebook</button><button>X</button></div>'
        )
        main = (
            f"<main><h1>{escape(title)}</h1><div class='text'>{meta}{''.join(paras[:mid])}{figure}{''.join(paras[mid:])}"
            f"{buttons}<h3>{escape(more)}</h3>{link_ps}"
            f"<section><h4>{escape(prompt)}</h4><form><label>E-mail</label><input><button>{escape(button)}</button></form></section></div></main>"
        )
        trailer = [more, *titles]
    elif shape == "D":
        inline = _share(url, rng, share, "p", "inline-share")
        main = (
            f"<article><h1>{escape(title)}</h1><div class='story'>{meta}{''.join(paras[:mid])}{inline}{ad_slot}"
            f"{''.join(paras[mid:])}{inline}<h2>{escape(related)}</h2><ol>{items}</ol>"
            f"{newsletter}</div></article>"
        )
    elif shape == "E":
        cards = "".join(f'<div class="card"><h3><a href="{h}">{escape(t)}</a></h3></div>' for t, h in links)
        social = (
            "<ul class='social'>"
            + "".join(f'<li><a href="{escape(hh.format(u=url))}">{nn}</a></li>' for nn, hh in SHARE_LINKS[:4])
            + "</ul>"
        )
        main = (
            f"<div id='page'><h1>{escape(title)}</h1><div class='article-body'>{meta}{''.join(paras[:mid])}{figure}"
            f"{''.join(paras[mid:])}<p>{escape(share)}</p>{social}<h2>{escape(related)}</h2>{cards}"
            f"<div id='nl'><strong>{escape(prompt)}</strong><form><input><input type='submit' value='{escape(button)}'></form></div></div></div>"
        )
    elif shape == "G":
        teasers = "".join(
            f'<div class="teaser"><a href="{h}"><img src="/t.jpg" alt=""><span>{escape(t)}</span></a></div>'
            for t, h in links
        )
        social = "".join(f'<a href="{escape(hh.format(u=url))}">{nn}</a>' for nn, hh in SHARE_LINKS[2:5])
        main = (
            f"<article><header><h1>{escape(title)}</h1>{meta}</header><section class='body'>{''.join(paras[:mid])}"
            f"{figure}{''.join(paras[mid:])}<div class='tools'><em>{escape(share)}</em> {social}</div></section>"
            f"<section class='teasers'><span class='title'>{escape(related)}</span>{teasers}</section>"
            f"<div class='nl'><h5>{escape(prompt)}</h5><a class='btn' href='/newsletter'>{escape(button)}</a></div></article>"
        )
    else:  # F
        brs = "<br>".join(f'<a href="{h}">{escape(t)}</a>' for t, h in links)
        main = (
            f"<div class='body'><h1>{escape(title)}</h1>{meta}{''.join(paras[:mid])}{ad_slot}{''.join(paras[mid:])}"
            f"{_share(url, rng, share, 'p', 'tools')}<p><b>{escape(more)}</b><br>{brs}</p>"
            f"<form class='signup'><p>{escape(prompt)}</p><input><button>{escape(button)}</button></form></div>"
        )
        trailer = [more, *titles]
    html = f"{head}{main}<footer><p>© 2024 News {language}</p></footer></body></html>"
    short = [caption, credit, ad, date_text, author]
    return Page(
        language, shape, sections[0].part, url, html, tuple(body), (*trailer, share, prompt, button), tuple(short)
    )


def pages(seed: int = 15, per_language: int = 12) -> list[Page]:
    """``per_language`` pages per language and part, cycling through the part's shapes."""
    rng = random.Random(seed)
    made = []
    for language in PHRASES:
        for part in udhr.PARTS:
            groups = [s for s in udhr.sections() if s.language == language and s.part == part]
            for n in range(per_language):
                # Consecutive pages of one host never share a section: a host does not print one story twice.
                cycle, start = divmod(3 * n, len(groups) - 2)
                shape = SHAPES[part][n % len(SHAPES[part])]
                number = 100 * cycle + n + (1000 if part == "held-out" else 0)
                made.append(make_page(rng, language, groups[start : start + 3], shape, number))
    return made
