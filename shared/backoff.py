"""Exponential backoff: the one formula behind feed polls, item retries and webhook retries."""

from __future__ import annotations

# 2**40 base-delays is far past any cap; bounding the exponent keeps the float finite for any count.
MAX_DOUBLINGS = 40


def exponential(failures: int, base: float, maximum: float) -> float:
    """Seconds to wait after ``failures`` failures in a row: base, 2*base, 4*base, ..., never above maximum.
    ``failures`` below 1 counts as 1 (the first wait is ``base``)."""
    return min(maximum, base * 2.0 ** min(max(failures, 1) - 1, MAX_DOUBLINGS))
