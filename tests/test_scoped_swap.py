"""A scoped swap puts the stand-ins in for the outermost ``with`` only, and always puts the originals back."""

from __future__ import annotations

import pytest

from workers.stages.scoped_swap import ScopedSwaps, Swap


class _Holder:
    value: object = "original"


def _swaps() -> ScopedSwaps:
    return ScopedSwaps([Swap(lambda v: setattr(_Holder, "value", v), "original", "stand-in")])


def test_nested_uses_share_one_swap() -> None:
    scope = _swaps()
    with scope.applied():
        assert _Holder.value == "stand-in"
        with scope.applied():
            assert _Holder.value == "stand-in"
        assert _Holder.value == "stand-in"  # the inner exit does not put the original back early
    assert _Holder.value == "original"


def test_an_exception_inside_still_puts_the_original_back() -> None:
    scope = _swaps()
    with pytest.raises(RuntimeError), scope.applied():
        raise RuntimeError("boom")
    assert _Holder.value == "original"
    with scope.applied():
        assert _Holder.value == "stand-in"
    assert _Holder.value == "original"


def test_an_attribute_swap_reads_the_original_from_its_owner() -> None:
    swap = Swap.attribute(_Holder, "value", "stand-in")
    assert swap.original == "original"
    with ScopedSwaps([swap]).applied():
        assert _Holder.value == "stand-in"
    assert _Holder.value == "original"
