"""Client-side throttle for the BaseLinker API: a sliding window plus "blocked until".

BaseLinker allows ``per_minute`` requests per token (100 by default) and answers an excess
not with HTTP 429 but with a block of several minutes, sometimes of the whole account. So we
must never exceed the budget as *the server* counts it, and when blocked anyway, stop every
call until the time BaseLinker named.

How a slot is counted
---------------------
The server sees a request at some moment between our ``acquire()`` (before sending) and our
``release()`` (after the answer arrived). A slot therefore occupies the window from
``acquire()`` until ``release()`` time + ``window``; in-flight slots always count. At most
``per_minute`` slots are occupied at any moment. Whatever the latency of each request, for
any 60 s interval of server arrival times, every request arriving in it occupies the window at
the moment the last of them was acquired, so the server never counts more than the budget.

Implementation: a counter of in-flight slots and a deque of expiry times of released slots.
Expiry times are appended in release order with a monotonic clock, so the deque is sorted and
expired entries are popped from the left: ``acquire()`` is O(1) amortised.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections import deque
from typing import Callable

from agent.errors import Cancelled

log = logging.getLogger(__name__)

#: Extra wait after the "blocked until" time (the server's clock and ours differ a little).
BLOCK_MARGIN = 1.0
#: Longest single wait: waiters wake at least this often to notice a new rate, a wall-clock
#: jump (suspend/resume) or a slot released by another thread.
MAX_WAIT_CHUNK = 1.0


class Slot:
    """A permission to send one request; give it back with :meth:`RateLimiter.release`."""

    __slots__ = ("acquired_at", "released")

    def __init__(self, acquired_at: float):
        self.acquired_at = acquired_at
        self.released = False

    def __repr__(self) -> str:
        state = "released" if self.released else "in flight"
        return f"<Slot acquired_at={self.acquired_at:.3f} {state}>"


class RateLimiter:
    """At most ``per_minute`` requests per ``window`` seconds, shared by all threads.

    ``clock`` measures the window (monotonic); ``wall_clock`` is compared with
    :meth:`block_until` epochs. Waits use ``cancel.wait()`` when a cancel Event is passed to
    :meth:`acquire` (so stopping the agent ends even a multi-minute block wait at once), else
    ``sleep``. An injected ``sleep`` (tests: it advances a fake clock) is used even when a
    cancel Event is given; the Event is then checked before and after every wait.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], object] | None = None,
    ):
        self._check_rate(per_minute)
        if window <= 0:
            raise ValueError("window must be positive")
        self._per_minute = int(per_minute)
        self._window = float(window)
        self._clock = clock
        self._wall_clock = wall_clock
        self._injected_sleep = sleep
        self._lock = threading.Lock()
        self._in_flight = 0
        self._released: deque[float] = deque()  # expiry times (release + window), sorted
        self._blocked_until: float | None = None
        self._block_logged_for: float | None = None

    # -- public API -----------------------------------------------------------------------

    @property
    def per_minute(self) -> int:
        return self._per_minute

    @property
    def blocked_until(self) -> float | None:
        """The wall-clock epoch until which BaseLinker blocks us, or None if not blocked."""
        with self._lock:
            until = self._blocked_until
        if until is not None and self._wall_clock() < until:
            return until
        return None

    def set_rate(self, per_minute: int) -> None:
        """Change the budget; takes effect for the next slot (occupied slots stay counted)."""
        self._check_rate(per_minute)
        with self._lock:
            if per_minute != self._per_minute:
                log.info("BaseLinker request budget changed: %d -> %d per minute",
                         self._per_minute, per_minute)
            self._per_minute = int(per_minute)

    def block_until(self, epoch: float) -> None:
        """No :meth:`acquire` returns before ``epoch`` (wall clock) + a small margin."""
        with self._lock:
            if self._blocked_until is None or epoch > self._blocked_until:
                self._blocked_until = float(epoch)

    def acquire(self, cancel: threading.Event | None = None) -> Slot:
        """Wait for a free slot (and for any block to end) and take it.

        Raises :class:`agent.errors.Cancelled` when ``cancel`` is set while waiting.
        """
        throttle_logged = False
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            with self._lock:
                delay, blocked = self._try_take_or_delay()
                if isinstance(delay, Slot):
                    return delay
                if blocked is not None and self._block_logged_for != blocked:
                    self._block_logged_for = blocked
                    log_block = True
                else:
                    log_block = False
                in_window = self._in_flight + len(self._released)
            if log_block:
                local = datetime.datetime.fromtimestamp(blocked).strftime("%Y-%m-%d %H:%M:%S")
                log.info("BaseLinker blocked the token until %s (local time); "
                         "waiting before the next request", local)
            elif blocked is None and not throttle_logged:
                throttle_logged = True
                log.debug("BaseLinker request budget used (%d in the last %.0f s); waiting %s",
                          in_window, self._window,
                          "for a request to finish" if delay is None else f"{delay:.2f} s")
            self._wait(delay, cancel)

    def release(self, slot: Slot) -> None:
        """Give the slot back once the answer arrived (or the attempt failed).

        The slot keeps counting for ``window`` seconds from now. Releasing twice is a no-op.
        """
        with self._lock:
            if slot.released:
                return
            slot.released = True
            self._in_flight -= 1
            expiry = self._clock() + self._window
            if self._released and expiry < self._released[-1]:
                expiry = self._released[-1]  # a non-monotonic fake clock: stay sorted
            self._released.append(expiry)

    def __repr__(self) -> str:
        return (f"<RateLimiter {self._per_minute}/{self._window:g}s in_flight={self._in_flight} "
                f"released_in_window={len(self._released)}>")

    # -- internals ------------------------------------------------------------------------

    @staticmethod
    def _check_rate(per_minute: int) -> None:
        if isinstance(per_minute, bool) or not isinstance(per_minute, int) or per_minute < 1:
            raise ValueError(f"per_minute must be a positive integer, not {per_minute!r}")

    def _try_take_or_delay(self) -> tuple[Slot | float | None, float | None]:
        """Under the lock: a Slot, or (seconds to wait or None = until a release, block epoch)."""
        if self._blocked_until is not None:
            wait_block = self._blocked_until + BLOCK_MARGIN - self._wall_clock()
            if wait_block > 0:
                return wait_block, self._blocked_until
            self._blocked_until = None
            self._block_logged_for = None
        now = self._clock()
        released = self._released
        while released and released[0] <= now:
            released.popleft()
        if self._in_flight + len(released) < self._per_minute:
            self._in_flight += 1
            return Slot(now), None
        if released:
            return released[0] - now, None
        return None, None  # every slot is in flight: wait for a release

    def _wait(self, delay: float | None, cancel: threading.Event | None) -> None:
        chunk = MAX_WAIT_CHUNK if delay is None else max(0.0, min(delay, MAX_WAIT_CHUNK))
        if self._injected_sleep is not None:
            self._injected_sleep(chunk)
            if cancel is not None and cancel.is_set():
                raise Cancelled()
        elif cancel is not None:
            if cancel.wait(chunk):
                raise Cancelled()
        else:
            time.sleep(chunk)


_shared: RateLimiter | None = None
_shared_lock = threading.Lock()


def shared_limiter(per_minute: int) -> RateLimiter:
    """The process-wide limiter (the budget belongs to the token, not to one client).

    Later calls with a different ``per_minute`` update the rate of the same limiter.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = RateLimiter(per_minute)
        elif _shared.per_minute != per_minute:
            _shared.set_rate(per_minute)
        return _shared
