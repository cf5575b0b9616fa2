"""Beat's stop signal never lands inside a task's send: there it is delivered again later; elsewhere beat saves
its schedule and exits, as celery's own handler does."""

from __future__ import annotations

import signal
import sys
from types import FrameType

import pytest

from scheduler.beat import stop_handler


class _Service:
    def __init__(self) -> None:
        self.synced = 0

    def sync(self) -> None:
        self.synced += 1


def apply_entry() -> FrameType:  # named as celery's Scheduler.apply_entry, the send
    return _sending()


def _sending() -> FrameType:
    return sys._getframe()  # a frame inside the send, as a signal arriving there sees it


def test_a_signal_inside_a_send_is_delivered_again_and_nothing_stops() -> None:
    service, again = _Service(), []
    stop = stop_handler(service, again.append)
    stop(signal.SIGTERM, apply_entry())
    assert again == [signal.SIGTERM]
    assert service.synced == 0  # the schedule stays open: the loop goes on to finish its tick


def test_a_signal_elsewhere_saves_the_schedule_and_exits() -> None:
    service, again = _Service(), []
    stop = stop_handler(service, again.append)
    with pytest.raises(SystemExit):
        stop(signal.SIGTERM, sys._getframe())
    with pytest.raises(SystemExit):
        stop(signal.SIGINT, None)
    assert service.synced == 2
    assert again == []
