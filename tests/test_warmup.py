"""The CPU worker's warm-up, run in the pool's parent: what it builds is made and frozen out of the collector."""

from __future__ import annotations

import gc

from trafilatura import external

from workers.stages import justext_stoplist
from workers.warmup import warm_up


def test_warm_up_builds_the_stop_words_and_freezes_what_the_parent_holds() -> None:
    try:
        warm_up()
        assert external.JT_STOPLIST is not None
        last = justext_stoplist._last
        assert last is not None
        assert last[0] is external.JT_STOPLIST  # the set made, ready for the first page
        assert gc.get_freeze_count() > 10_000  # the modules, profiles and stop words loaded above
    finally:
        gc.unfreeze()
