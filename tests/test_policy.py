"""The polling policy: clamped, monotone in failures, respectful of server hints, never giving up."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from scheduler.policy import PollBounds, PollEvidence, jitter_factor, next_poll_delay

BOUNDS = PollBounds(nominal=900, minimum=300, maximum=86_400)


def test_busy_feed_is_polled_often_and_quiet_feed_rarely() -> None:
    busy = next_poll_delay(PollEvidence(True, 0, entries_per_day=200), BOUNDS)
    quiet = next_poll_delay(PollEvidence(True, 0, entries_per_day=4), BOUNDS)
    dead = next_poll_delay(PollEvidence(True, 0, entries_per_day=0), BOUNDS)
    assert busy == BOUNDS.minimum
    assert busy < quiet < dead == BOUNDS.maximum


def test_server_hints_are_a_floor() -> None:
    assert next_poll_delay(PollEvidence(True, 0, entries_per_day=200, ttl_seconds=3600), BOUNDS) == 3600
    assert next_poll_delay(PollEvidence(True, 0, max_age_seconds=7200), BOUNDS) == 7200
    limited = PollEvidence(False, 1, retry_after_seconds=5000)
    assert next_poll_delay(limited, BOUNDS) == 5000


def test_failing_feed_backs_off_to_the_cap_and_stays_there() -> None:
    delays = [next_poll_delay(PollEvidence(False, n), BOUNDS) for n in range(1, 40)]
    assert delays[0] == BOUNDS.nominal
    assert delays == sorted(delays)
    assert delays[-1] == BOUNDS.maximum  # still polled: once a day, never disabled


@given(
    succeeded=st.booleans(),
    failures=st.integers(0, 10_000),
    rate=st.none() | st.floats(0, 1e6),
    ttl=st.none() | st.integers(0, 10**9),
    retry=st.none() | st.floats(0, 1e9),
    feed_id=st.integers(1, 2**62),
)
def test_delay_is_always_clamped(
    succeeded: bool, failures: int, rate: float | None, ttl: int | None, retry: float | None, feed_id: int
) -> None:
    evidence = PollEvidence(succeeded, failures, rate, ttl, None, retry)
    delay = next_poll_delay(evidence, BOUNDS, jitter_factor(feed_id))
    assert BOUNDS.minimum <= delay <= BOUNDS.maximum


@given(st.integers(1, 2**62), st.integers(1, 60))
def test_backoff_is_monotone_in_failures(feed_id: int, failures: int) -> None:
    j = jitter_factor(feed_id)
    before = next_poll_delay(PollEvidence(False, failures), BOUNDS, j)
    after = next_poll_delay(PollEvidence(False, failures + 1), BOUNDS, j)
    assert before <= after


@given(st.integers(-(2**63), 2**63 - 1))
def test_jitter_is_stable_and_bounded(feed_id: int) -> None:
    assert jitter_factor(feed_id) == jitter_factor(feed_id)
    assert 0.9 <= jitter_factor(feed_id) <= 1.1
