"""decode_stream as a pure function: round trips under any chunking, and the byte budget holds exactly."""

from __future__ import annotations

import gzip
import itertools
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.http_body import BodyTooLargeError, decode_stream

ENCODERS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "raw-deflate": lambda data: zlib.compress(data, wbits=-zlib.MAX_WBITS),
    "identity": lambda data: data,
}


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@given(st.binary(max_size=20_000), st.sampled_from(sorted(ENCODERS)), st.lists(st.integers(0, 10**6), max_size=8))
def test_round_trip_under_any_chunking(body: bytes, name: str, cuts: list[int]) -> None:
    encoded = ENCODERS[name](body)
    coding = "deflate" if name == "raw-deflate" else name
    assert decode_stream(chunked(encoded, cuts), coding, max_bytes=len(body) or 1) == body


@given(st.integers(1, 5000), st.integers(1, 5000), st.sampled_from(["gzip", "deflate", "identity"]))
def test_budget_is_exact(size: int, budget: int, coding: str) -> None:
    encoded = ENCODERS[coding](b"z" * size)
    if size <= budget:
        assert decode_stream([encoded], coding, budget) == b"z" * size
    else:
        with pytest.raises(BodyTooLargeError) as info:
            decode_stream([encoded], coding, budget)
        assert info.value.partial == b"z" * budget


def test_input_that_inflates_to_nothing_still_stops() -> None:
    empty_member = gzip.compress(b"")
    with pytest.raises(BodyTooLargeError):
        decode_stream(iter([empty_member] * 100_000), "gzip", max_bytes=1024)


def test_trailing_garbage_after_gzip_is_ignored() -> None:
    assert decode_stream([gzip.compress(b"hello") + b"\x00\x00junk"], "gzip", 100) == b"hello"
