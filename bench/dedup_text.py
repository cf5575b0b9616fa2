"""Synthetic news text for the dedup benchmarks: articles from a grammar, briefs, and syndicated copies."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass

FIRST = [
    "Anna", "Marek", "Sofia", "Daniel", "Lena", "Omar", "Claire", "Jonas", "Priya", "Tomas", "Elena", "Victor",
    "Ines", "Kofi", "Mira", "Paul", "Hana", "Luis",
]  # fmt: skip
LAST = [
    "Kovac", "Brandt", "Moreau", "Haddad", "Lindqvist", "Okafor", "Rossi", "Novak", "Tanaka", "Silva", "Weber",
    "Dubois", "Petrov", "Costa", "Nilsen",
]  # fmt: skip
PLACES = [
    "Riverton", "Kessel", "Aldmoor", "Port", "Vane", "Sandvik", "Corvella", "Marlow", "Tessin", "Ostrava",
    "Belcourt", "Dunmere", "Ivar",
]  # fmt: skip
ORGS = [
    "the transport ministry", "the regional council", "the central bank", "the port authority", "the health agency",
    "the energy regulator", "the teachers union", "the chamber of commerce", "the national rail operator",
    "the water board", "the defence ministry", "the competition authority", "the statistics office",
]  # fmt: skip
THEMES = [
    ("rail strike", "trains", "wages"), ("flooding", "river levels", "evacuations"), ("budget", "taxes", "spending"),
    ("election", "ballots", "turnout"), ("drought", "harvests", "water restrictions"), ("data breach", "servers",
    "customer records"), ("hospital closures", "emergency wards", "waiting lists"), ("port expansion", "cargo",
    "dredging"), ("wildfires", "firefighters", "evacuation orders"), ("housing shortage", "rents", "building permits"),
    ("energy prices", "gas bills", "subsidies"), ("school reform", "exams", "teachers"),
]  # fmt: skip
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
VERBS = [
    "announced", "confirmed", "rejected", "postponed", "approved", "criticised", "defended", "proposed", "demanded",
    "questioned",
]  # fmt: skip
ADJ = [
    "sharp", "modest", "unexpected", "lengthy", "costly", "temporary", "permanent", "controversial", "cautious",
    "detailed",
]  # fmt: skip
NOUNS = [
    "plan", "measure", "proposal", "decision", "agreement", "review", "package", "deal", "investigation", "report",
    "ruling",
]  # fmt: skip
FILLER = [
    "officials", "residents", "analysts", "critics", "lawmakers", "engineers", "volunteers", "investors", "farmers",
    "nurses", "drivers", "shopkeepers", "students", "economists", "inspectors", "lawyers", "pensioners",
    "commuters",
]  # fmt: skip
SENTENCES = [
    "{person} said on {day} that {org} would {verb2} the {noun} before the end of the month.",
    "The {adj} {noun} on {theme} was {verb} by {org} after weeks of talks in {place}.",
    "According to {org}, about {num} {filler} in {place} have been affected by the {theme}.",
    "{person}, who has led {org} since {year}, {verb} the {noun} as {adj} and badly timed.",
    "In {place}, {filler} gathered outside the town hall to protest against the {theme}.",
    "\u201cWe cannot wait any longer,\u201d {person} told reporters in {place} on {day}.",
    "Figures published by {org} show that {thing} rose by {pct} percent over the past year.",
    "{person} warned that {thing} could fall further unless {org} acted quickly.",
    "The {noun} still needs the approval of {org}, which meets again on {day}.",
    "Several {filler} said they had not been consulted about the {theme} in {place}.",
    "{org} estimated the cost at {num} million euros, a figure {filler} called {adj}.",
    "A spokesperson for {org} declined to comment on the {adj} {noun}.",
    "Talks between {person} and {person2} broke down late on {day} without a {noun}.",
    "The {theme} has become the main issue for {filler} ahead of the vote in {place}.",
    "{person2} accused {org} of ignoring warnings about {thing} for {small} years.",
    "Local {filler} expect the {theme} to weigh on {thing} well into {year2}.",
    "On {day} evening {num} {filler} had signed a petition calling for a new {noun}.",
    "{org} {verb} a {adj} {noun} on {thing}, the third in {small} months.",
    "Both {person} and {person2} are due to give evidence to {org} next {day}.",
    "Critics say the {noun} does little for {filler} in smaller towns such as {place}.",
]


@dataclass(frozen=True)
class Topic:
    people: tuple[str, ...]
    places: tuple[str, ...]
    orgs: tuple[str, ...]
    theme: tuple[str, str, str]


@dataclass(frozen=True)
class Article:
    headline: str
    paragraphs: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join((self.headline, *self.paragraphs))


def topics(rng: random.Random, n: int) -> list[Topic]:
    def person() -> str:
        return f"{rng.choice(FIRST)} {rng.choice(LAST)}"

    return [
        Topic(
            tuple(person() for _ in range(3)),
            tuple(rng.sample(PLACES, 2)),
            tuple(rng.sample(ORGS, 2)),
            rng.choice(THEMES),
        )
        for _ in range(n)
    ]


def _vocabulary(n: int) -> list[str]:
    rng = random.Random(0)
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"] + ["ing", "tion", "er", "al", "ment"]
    return list(dict.fromkeys("".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(n)))


# Real prose never repeats its phrases the way a twenty-template grammar does: words of the templates are
# swapped for words drawn from a Zipf-distributed vocabulary, so unrelated texts share only short, common runs.
VOCABULARY = _vocabulary(6000)
_ZIPF = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(VOCABULARY))))
SWAP = 0.15


def sentence(rng: random.Random, t: Topic) -> str:
    p1, p2 = rng.sample(t.people, 2)
    words = _template(rng, t, p1, p2).split(" ")
    picks = iter(rng.choices(VOCABULARY, cum_weights=_ZIPF, k=len(words)))
    return " ".join(w if w[:1].isupper() or rng.random() >= SWAP else next(picks) for w in words)


def _template(rng: random.Random, t: Topic, p1: str, p2: str) -> str:
    return rng.choice(SENTENCES).format(
        person=p1, person2=p2, day=rng.choice(DAYS), org=rng.choice(t.orgs), verb=rng.choice(VERBS),
        verb2=rng.choice(VERBS)[:-1].rstrip("e") + "e", noun=rng.choice(NOUNS), adj=rng.choice(ADJ),
        theme=t.theme[0], thing=rng.choice(t.theme[1:]), place=rng.choice(t.places), filler=rng.choice(FILLER),
        num=rng.randint(12, 9000), pct=rng.randint(2, 40), year=rng.randint(1998, 2022), small=rng.randint(2, 9),
        year2=rng.randint(2025, 2030),
    ).replace("the the", "the")  # fmt: skip


def headline(rng: random.Random, t: Topic) -> str:
    return f"{rng.choice(t.people)} {rng.choice(VERBS)} {rng.choice(ADJ)} {rng.choice(NOUNS)} on {t.theme[0]}"


def make_article(rng: random.Random, t: Topic, paragraphs: int | None = None) -> Article:
    count = paragraphs or rng.randint(5, 9)
    paras = [" ".join(sentence(rng, t) for _ in range(rng.randint(2, 4))) for _ in range(count)]
    return Article(headline(rng, t).capitalize(), tuple(paras))


def brief(rng: random.Random, t: Topic) -> str:
    """A short item as one site's template leaves it after cleaning: dateline, two sentences, sign-off."""
    body = " ".join(sentence(rng, t) for _ in range(2))
    return f"{rng.choice(PLACES).upper()} \u2014 {body}\nReporting by the Riverton Gazette news desk."


# Syndicated copies ----------------------------------------------------------------------------------------------

WIRE = ["(AFP) \u2014 ", "(Reuters) - ", "PARIS, {day} (AP) \u2014 ", "(dpa) "]
TRAILER = [
    "Read more: {h} | Opinion: what the {theme} means for you | Subscribe to our newsletter",
    "\u00a9 Agence France-Presse. All rights reserved.\nRelated: {h}\nMost read: {h2}",
    "Reporting by {person}; editing by {person2}.",
]


def _words_edited(rng: random.Random, text: str, share: float) -> str:
    words = text.split(" ")
    out: list[str] = []
    for w in words:
        if rng.random() >= share:
            out.append(w)
            continue
        action = rng.random()
        if action < 0.6:
            out.append(rng.choice(FILLER + NOUNS + ADJ))  # replaced
        elif action < 0.8:
            out.extend((w, rng.choice(ADJ)))  # a word inserted
        # else: deleted
    return " ".join(out)


def _cut(text: str, share: float) -> str:
    words = text.split(" ")
    return " ".join(words[: max(int(len(words) * share), 1)])


def _new_lead(rng: random.Random, a: Article, t: Topic) -> Article:
    _, *rest = a.paragraphs[0].split(". ")
    lead = sentence(rng, t).rstrip(".")
    return Article(a.headline, (". ".join([lead, *rest]), *a.paragraphs[1:]))


def _topic_of(a: Article) -> Topic:
    # Copies only need plausible names; reuse words of the article itself.
    names = tuple(dict.fromkeys(w for w in a.text.split() if w in LAST)) or ("Kovac",)
    people = tuple(f"{rng_first} {n}" for rng_first, n in zip(FIRST, names * 3, strict=False))[:3]
    return Topic(people, ("Riverton", "Kessel"), ("the agency", "the ministry"), ("story", "figures", "costs"))


def _boilerplate(rng: random.Random, a: Article) -> Article:
    t = _topic_of(a)
    fill = {"day": rng.choice(DAYS), "h": headline(rng, t), "h2": headline(rng, t), "theme": t.theme[0],
            "person": t.people[0], "person2": t.people[1]}  # fmt: skip
    first = rng.choice(WIRE).format(**fill) + a.paragraphs[0]
    return Article(a.headline, (first, *a.paragraphs[1:], rng.choice(TRAILER).format(**fill)))


def copy_kinds() -> dict[str, Callable[[random.Random, Article], str]]:
    """Every kind of copy the benchmark measures, each made from an original article."""

    def syndicated(rng: random.Random, a: Article) -> str:
        t = _topic_of(a)
        b = _boilerplate(rng, _new_lead(rng, a, t))
        return Article(headline(rng, t).capitalize(), b.paragraphs).text

    def reordered(rng: random.Random, a: Article) -> str:
        paras = list(a.paragraphs)
        rng.shuffle(paras)
        return Article(a.headline, tuple(paras)).text

    return {
        "headline": lambda rng, a: Article(headline(rng, _topic_of(a)).capitalize(), a.paragraphs).text,
        "lead": lambda rng, a: _new_lead(rng, a, _topic_of(a)).text,
        "boilerplate": lambda rng, a: _boilerplate(rng, a).text,
        "syndicated": syndicated,
        "cut80": lambda rng, a: _cut(a.text, 0.8),
        "cut50": lambda rng, a: _cut(a.text, 0.5),
        "reordered": reordered,
        "edit2": lambda rng, a: _words_edited(rng, a.text, 0.02),
        "edit5": lambda rng, a: _words_edited(rng, a.text, 0.05),
        "edit10": lambda rng, a: _words_edited(rng, a.text, 0.10),
        "edit20": lambda rng, a: _words_edited(rng, a.text, 0.20),
    }
