"""Server-given delays on their own: every spelling a hostile server sends ends as None or a bounded delay."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.server_hints import CEILING, clamp, delta_seconds, max_age, parse_retry_after, ttl_minutes

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 30 ", 30.0),
        ("Wed, 01 Jan 2025 12:02:00 GMT", 120.0),
        ("Wed, 01 Jan 2025 11:00:00 GMT", 0.0),  # already past: no wait
        ("Wednesday, 01-Jan-25 12:00:30 GMT", 30.0),  # obsolete RFC 850 form, still to be accepted
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("31536000", 31_536_000.0),  # a year: parsed as said, each consumer clamps it to its setting
        ("Fri, 31 Dec 9999 23:59:59 GMT", CEILING),  # was an OverflowError in the retry path
        ("99999999999999999999", CEILING),  # was a Redis ResponseError (PX out of range)
        ("9" * 5_000, CEILING),  # int() of this many digits raises in CPython
        ("000000000000000000000042", 42.0),  # leading zeros are not a big number
        ("\u0661\u0662\u0663", None),  # Arabic-Indic digits: str.isdigit says yes, HTTP says no
        ("Fri, 31 Dec 99999 23:59:59 GMT", None),
        ("Mon, 32 Foo 2025 99:99:99 GMT", None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


HTTP_DATES = st.datetimes().map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT"))


@given(st.text(max_size=200) | st.from_regex(r"\A[0-9]{1,400}\Z") | HTTP_DATES)
def test_any_retry_after_is_none_or_a_finite_bounded_delay(value: str) -> None:
    seconds = parse_retry_after(value, NOW)
    assert seconds is None or (math.isfinite(seconds) and 0.0 <= seconds <= CEILING)
    if seconds is not None:
        NOW + timedelta(seconds=seconds)  # what the retry path computes: never an overflow


@pytest.mark.parametrize(
    ("cache_control", "seconds"),
    [
        ("max-age=600", 600.0),
        ("public, MAX-AGE = 60", 60.0),
        ('max-age="120"', 120.0),
        ("no-cache", None),
        ("max-age=-1", None),
        ("max-age=" + "9" * 5_000, CEILING),
        ("s-maxage=30", None),
    ],
)
def test_max_age(cache_control: str, seconds: float | None) -> None:
    assert max_age({"cache-control": cache_control}) == seconds


@pytest.mark.parametrize(
    ("ttl", "seconds"),
    [("60", 3600.0), (" 5 ", 300.0), ("", None), (None, None), ("x", None), ("-3", None), ("9" * 5_000, CEILING)],
)
def test_ttl_minutes(ttl: str | None, seconds: float | None) -> None:
    assert ttl_minutes(ttl) == seconds


@given(st.none() | st.floats(allow_nan=True, allow_infinity=True), st.floats(0, 1e9))
def test_clamp_stays_within_the_cap(seconds: float | None, cap: float) -> None:
    clamped = clamp(seconds, cap)
    assert clamped is None or 0.0 <= clamped <= cap
    assert (clamped is None) == (seconds is None or math.isnan(seconds))


def test_delta_seconds_is_ascii_digits_only() -> None:
    assert delta_seconds("12") == 12.0
    assert delta_seconds("1e3") is None
    assert delta_seconds("+5") is None
