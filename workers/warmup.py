"""What a CPU worker process would otherwise build on its first task, built once in the worker's parent.

Celery's prefork pool forks its processes from the parent, and forks them again when one is replaced (after
``NEWSMILL_WORKER_MAX_TASKS_PER_CHILD`` tasks or its memory limit): whatever the parent built is shared,
copy-on-write. Each of these costs a tenth to a third of a CPU second: langdetect's profiles, trafilatura's
first call (lxml's classes, its compiled expressions), langcodes (imported where a language tag is first
read, shared/languages.py); jusText's stop-word set, used by trafilatura's full cascade (a fifth of a second).
Then everything the parent holds is frozen out of the garbage collector (``gc.freeze``): the pool processes'
collections no longer walk those ~130,000 objects (0.2 ms of CPU an article, measured on the bench pages),
nor write to their memory pages, which would un-share them.
"""

from __future__ import annotations

import gc

from shared.languages import normalise_language
from workers.stages import justext_stoplist
from workers.stages.extract import extract_page
from workers.stages.language import detect_language

SAMPLE = "<html lang='fr'><body><article><h1>Budget</h1>" + "<p>Le conseil municipal a voté le budget.</p>" * 8


def warm_up() -> None:
    extract_page(SAMPLE + "</article></body></html>", "https://warm.example/up")
    for sentence in ("Le conseil a voté.", "Совет проголосовал за бюджет.", "Το συμβούλιο ψήφισε.",
                     "مجلس المدينة صوت على الميزانية", "नगर परिषद ने बजट पर मतदान किया"):  # fmt: skip
        detect_language(sentence * 3)
    normalise_language("fr-FR")  # a page or feed hint: langcodes and its data
    justext_stoplist.warm_up()
    gc.freeze()
