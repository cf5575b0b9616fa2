"""Module attributes of a library replaced for the duration of our own calls, and put back after.

Used to run trafilatura with exact, faster stand-ins for some of its internals (workers/stages/html_tree.py,
workers/stages/trafilatura_selectors.py) without changing it for other callers in the process, such as the
benchmarks' raw-library baseline. Nested and concurrent uses share one swap: the first to enter puts the
stand-ins in, the last to leave takes them out. Another thread calling the library meanwhile sees the stand-ins,
which is why only stand-ins that give the same results may be swapped this way.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Swap:
    """One attribute (or list item): how to set it, what it was, and what stands in for it."""

    put: Callable[[object], None]
    original: object
    stand_in: object

    @classmethod
    def attribute(cls, owner: object, name: str, stand_in: object) -> Swap:
        """``owner.name`` (a module's function or setting) stood in for by ``stand_in``."""
        return cls(lambda value: setattr(owner, name, value), getattr(owner, name), stand_in)


class ScopedSwaps:
    def __init__(self, swaps: Sequence[Swap]) -> None:
        self.swaps = list(swaps)
        self._lock = threading.Lock()
        self._depth = 0

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                for swap in self.swaps:
                    swap.put(swap.stand_in)
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    for swap in self.swaps:
                        swap.put(swap.original)
