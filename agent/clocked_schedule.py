"""The ``schedule`` library's interval job, clocked by an injected (monotonic) clock.

``schedule`` reads ``datetime.now()``; a wall-clock jump (DST, NTP, a user changing the time)
would stall or flood the timer. :class:`ClockedJob` reads the clock it is given instead, so
:class:`agent.autosync.AutoSync` runs on ``time.monotonic`` and tests on a fake clock.
"""

from __future__ import annotations

import datetime as dt
from typing import Callable

import schedule

MONO_EPOCH = dt.datetime(2000, 1, 1)


def monotonic_datetime(seconds: float) -> dt.datetime:
    """A monotonic reading as the naive datetime ``schedule`` compares with."""
    return MONO_EPOCH + dt.timedelta(seconds=seconds)


class ClockedJob(schedule.Job):
    """A ``schedule`` interval job that reads an injected clock instead of ``now()``."""

    def __init__(self, interval: int, scheduler: schedule.Scheduler, now: Callable[[], dt.datetime]):
        super().__init__(interval, scheduler)
        self._now = now

    @property
    def should_run(self) -> bool:
        return self._now() >= self.next_run

    def _schedule_next_run(self) -> None:
        self.next_run = self._now() + dt.timedelta(seconds=self.interval)
