"""jusText's stop-word set found by identity, instead of by hashing the stop list at every classification.

trafilatura's jusText fallback (``try_justext``, in its full cascade) passes the union of every jusText stop list,
a tuple of 154,000 words made once per process. jusText's ``classify_paragraphs`` starts with ``define_stoplist``,
which keeps its sets in an ``lru_cache``: finding the set again hashes the whole tuple (CPython does not keep a
tuple's hash), 3.4 ms a call, and the first call per process builds it (53 ms, after the union's 103 ms). Here
the set made for the last tuple or frozenset (neither can change) is handed back while the same object comes
again; anything else goes to jusText's own function. Swapped in only during our calls
(workers/stages/scoped_swap.py), like the XPath stand-ins; ``warm_up`` builds both in a CPU worker's parent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection

import justext.core
from trafilatura import external

from workers.stages.scoped_swap import ScopedSwaps, Swap

_define_stoplist = justext.core.define_stoplist
_last: tuple[Collection[str], frozenset[str]] | None = None


def _define_stoplist_once(stoplist: Collection[str]) -> frozenset[str]:
    global _last  # noqa: PLW0603 - one entry, replaced whole: a reader sees the old pair or the new one
    last = _last
    if last is not None and last[0] is stoplist:
        return last[1]
    made: frozenset[str] = _define_stoplist(stoplist)
    if isinstance(stoplist, tuple | frozenset):  # immutable: the same object always gives the same set
        _last = (stoplist, made)
    return made


_SCOPE = ScopedSwaps([Swap.attribute(justext.core, "define_stoplist", _define_stoplist_once)])


def stoplist_kept() -> contextlib.AbstractContextManager[None]:
    """jusText with the kept stop-word set for the duration of the ``with`` block."""
    return _SCOPE.applied()


def warm_up() -> None:
    """Make trafilatura's union of the stop lists and its set now (a CPU worker's parent, before forking)."""
    _define_stoplist_once(external.JT_STOPLIST or external.jt_stoplist_init())
