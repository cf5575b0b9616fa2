"""Near-duplicates in many languages, in any arrival order, and briefs sharing one site template.

Stories are UDHR sections (bench/udhr.py, text nobody here wrote) in every space-separated language of the
corpus: consecutive sections make one story of article length, so stories of one language share its formulas ("Everyone
has the right to...") the way coverage of one beat does. Each story arrives as its original and its copies
(bench/dedup_text.py's kinds) in a shuffled order: in half the stories a cut, edited or re-led copy arrives
first. Every item after a story's first must end up in that story's cluster (found), never in another's.

Briefs: per host, two sentences of the host's language inside one site template (~135 words: the host's
standing paragraphs and sign-off). They go through cleaning with the host's template learned page by page (as
the extract step does with Postgres) before they are fingerprinted; pairs of briefs linked as duplicates are
counted (target: at most 5 %).
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from bench import udhr
from bench.dedup_text import Article, copy_kinds
from workers.stages.clean import PageContext, clean_page
from workers.stages.dedup import DuplicateMatch, Shingles, indexes_as_member, score, shingle_text, sketch_shingles
from workers.stages.site_template import MIN_PAGES, page_line_keys

SPACELESS = {"zh", "ja", "th"}  # the copy kinds cut and edit by spaces: these are left to the grammar set
STORY_WORDS = 250  # consecutive sections make a story of at least this many words: an article, not a brief
EARLY_KINDS = ("cut50", "cut80", "edit10", "lead", "syndicated")  # what may arrive before the original


@dataclass
class MemoryIndex:
    """find_duplicate and the enrich step's indexing rule, in memory (workers/steps/duplicates.py)."""

    members_too: bool = True  # False: the old rule, originals only
    buckets: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    shingles: dict[int, Shingles] = field(default_factory=dict)
    root: dict[int, int] = field(default_factory=dict)
    rows: int = 0
    seconds: float = 0.0

    def add(self, item: int, text: str, threshold: float) -> int | None:
        """Look ``text`` up, index it as the enrich step would; returns the root it duplicates, or None."""
        started = time.process_time()
        sh = shingle_text(text)
        sketch = sketch_shingles(sh)
        candidates = {a for key in sketch.band_keys for a in self.buckets.get(key, ())}
        matches = [(a, s) for a in sorted(candidates) if (s := score(sh, self.shingles[a])) >= threshold]
        match = None
        if matches:
            longest = max(self.shingles[a].token_count for a, _ in matches)
            first, similarity = matches[0]
            closest = max(s for _, s in matches)
            match = DuplicateMatch(self.root[first], similarity, False, longest, closest, len(matches))
        if match is None or (self.members_too and indexes_as_member(match, sh)):
            self.shingles[item] = sh
            for key in sketch.band_keys:
                self.buckets[key].append(item)
            self.rows += len(sketch.band_keys)
        self.root[item] = match.original_id if match else item
        self.seconds += time.process_time() - started
        return match.original_id if match else None


def _stories(rng: random.Random) -> list[tuple[str, Article]]:
    stories = []
    for lang in udhr.languages():
        if lang in SPACELESS:
            continue
        group: list[udhr.Section] = []
        for section in (s for s in udhr.sections() if s.language == lang):
            group.append(section)
            paragraphs = tuple(p for s in group for p in s.paragraphs)
            if sum(len(p.split()) for p in paragraphs) >= STORY_WORDS:
                stories.append((lang, Article(group[0].heading or lang, paragraphs)))
                group = []
    rng.shuffle(stories)
    return stories


def run_stories(rng: random.Random, threshold: float, members_too: bool) -> dict[str, object]:
    """Precision and recall over every story's items, by arrival; counts per kind of copy."""
    kinds: dict[str, Callable[[random.Random, Article], str]] = copy_kinds()
    index = MemoryIndex(members_too)
    story_of: dict[int, int] = {}
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # kind -> tp, fp, fn
    by_order: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # "original first" / "copy first" -> same
    languages: set[str] = set()
    item = 0
    for story, (lang, article) in enumerate(_stories(rng)):
        languages.add(lang)
        arrivals = [("original", article.text)] + [(k, make(rng, article)) for k, make in kinds.items()]
        rng.shuffle(arrivals)
        if story % 2:  # a copy first: the case arrival order used to decide
            early = next(i for i, (k, _) in enumerate(arrivals) if k in EARLY_KINDS)
            arrivals.insert(0, arrivals.pop(early))
        else:
            arrivals.insert(0, arrivals.pop(next(i for i, (k, _) in enumerate(arrivals) if k == "original")))
        for position, (kind, text) in enumerate(arrivals):
            item += 1
            story_of[item] = story
            found = index.add(item, text, threshold)
            outcome = _outcome(position, found, story_of, story)
            order = "copy first" if story % 2 else "original first"
            for c in (counts[kind if position else "first arrival"], by_order[order]):
                c[0] += outcome[0]
                c[1] += outcome[1]
                c[2] += outcome[2]
    tp, fp, fn = (sum(c[i] for c in counts.values()) for i in range(3))
    return {
        "items": item, "languages": len(languages), "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0, "by_kind": {k: list(v) for k, v in sorted(counts.items())},
        "index_rows_per_item": index.rows / item, "ms_per_item": 1000 * index.seconds / item,
        "recall_by_order": {k: v[0] / (v[0] + v[2]) for k, v in sorted(by_order.items())},
    }  # fmt: skip


def _outcome(position: int, found: int | None, story_of: dict[int, int], story: int) -> tuple[int, int, int]:
    """(tp, fp, fn) of one arrival: the first of a story has nothing to match; later ones must find it."""
    if position == 0:
        return 0, int(found is not None), 0
    if found is not None and story_of[found] == story:
        return 1, 0, 0
    return 0, int(found is not None), 1


def run_briefs(rng: random.Random, threshold: float, hosts: int = 6, per_host: int = 15) -> dict[str, object]:
    """Briefs of one host in its template: the share of same-host pairs linked, with and without the template."""
    linked = {"with site template": 0, "without": 0}
    pairs = 0
    languages = [lang for lang in udhr.languages() if lang not in SPACELESS]
    for host_no, lang in enumerate(rng.sample(languages, hosts)):
        sections = [s for s in udhr.sections() if s.language == lang]
        template_lines = [*sections[0].paragraphs[:4], f"{sections[1].heading} · {sections[2].heading}"]
        sentences = [s for _, s in udhr.sentences("tuning") + udhr.sentences("held-out") if _ == lang]
        briefs = [" ".join(rng.sample(sentences, 2)) for _ in range(per_host)]
        for mode in linked:
            index, seen = MemoryIndex(), Counter[int]()
            roots = []
            for n, brief in enumerate(briefs):
                text = "\n".join([brief, *template_lines])
                template = frozenset(k for k, c in seen.items() if c >= MIN_PAGES) if mode != "without" else frozenset()
                cleaned = clean_page(text, PageContext(template=template)).text
                seen.update(page_line_keys(text.splitlines()))
                found = index.add(1000 * host_no + n, cleaned, threshold)
                roots.append(found if found is not None else 1000 * host_no + n)
            linked[mode] += sum(1 for i in range(len(roots)) for j in range(i) if roots[i] == roots[j])
        pairs += per_host * (per_host - 1) // 2
    words = sum(len(line.split()) for line in template_lines)
    return {"pairs": pairs, "template_words": words, **{k: v / pairs for k, v in linked.items()}}
