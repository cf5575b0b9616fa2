"""trafilatura's tree preparation without the backup copy that its fast mode never reads.

``trafilatura.core._prepare_tree`` cleans a copy of the page, then copies the cleaned tree once more before
converting it: a backup for the readability/jusText comparison (``_extract_and_compare`` reads it only when
not ``options.fast``) and for a forum page's comments (``trafilatura_sequence`` reads it only when
``options.comments``). With fast on and comments off, which is how our whole-page and container passes call
it, that copy (a page-sized tree, at every pass and at the recall retry) is made for nothing; the stand-in
returns the converted tree in its place. In any other mode it is trafilatura's own function.

Installed only when the functions that make and read the backup are, word for word, the ones read when this
was written (their source's hash); otherwise ``REPLACED`` is False and trafilatura's own stays. Swapped in only
during our calls (workers/stages/scoped_swap.py), like the XPath stand-ins.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect

from lxml.html import HtmlElement
from trafilatura import core
from trafilatura.settings import Extractor

from workers.stages.scoped_swap import ScopedSwaps, Swap

# trafilatura 2.3.1: _prepare_tree, _extract_and_compare, _recall_retry, trafilatura_sequence.
_READERS = ("_prepare_tree", "_extract_and_compare", "_recall_retry", "trafilatura_sequence")
_EXPECTED_SOURCE = "574bf104"


def _source_hash() -> str:
    text = "\n".join(inspect.getsource(getattr(core, name)) for name in _READERS)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


_original = core._prepare_tree


def _prepare_tree_without_unread_backup(
    tree: HtmlElement, options: Extractor, url: str | None
) -> tuple[HtmlElement, HtmlElement]:
    if not options.fast or options.comments:
        return _original(tree, options, url)
    cleaned = core.convert_tags(core.tree_cleaning(core.copy(tree), options), options, url)
    return cleaned, cleaned  # the backup's place: never read in this mode (the module docstring)


REPLACED = _source_hash() == _EXPECTED_SOURCE
_SCOPE = ScopedSwaps([Swap.attribute(core, "_prepare_tree", _prepare_tree_without_unread_backup)] if REPLACED else [])


def without_unread_backup() -> contextlib.AbstractContextManager[None]:
    """trafilatura with the stand-in for the duration of the ``with`` block (when installed)."""
    return _SCOPE.applied()
