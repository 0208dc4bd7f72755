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

Several processes, one budget
-----------------------------
The tray's timer and a ``raksbl send`` in a terminal use the same token, so they share one
budget: with a :class:`BudgetLedger` attached (:func:`shared_limiter` does it when given the
token), every slot is also recorded in a small SQLite file in the data dir, keyed by a hash of
the token (never the token), and a slot is granted only while the ledger holds fewer than
``per_minute`` live entries. Blocks announced by BaseLinker are recorded there too, so every
process waits them out. Ledger entries use the wall clock (shared by processes); an in-flight
entry of a process that died expires after ``IN_FLIGHT_BOUND`` seconds. If the ledger cannot be
used (disk full, no access) the limiter logs it and falls back to its own, per-process count.

Implementation: a counter of in-flight slots and a deque of expiry times of released slots.
Expiry times are appended in release order with a monotonic clock, so the deque is sorted and
expired entries are popped from the left: ``acquire()`` is O(1) amortised.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import sqlite3
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable

from agent.errors import Cancelled

log = logging.getLogger(__name__)

#: Extra wait after the "blocked until" time (the server's clock and ours differ a little).
BLOCK_MARGIN = 1.0
#: Longest single wait: waiters wake at least this often to notice a new rate, a wall-clock
#: jump (suspend/resume) or a slot released by another thread.
MAX_WAIT_CHUNK = 1.0


#: How long an in-flight ledger entry counts at most (a process that died never releases it).
IN_FLIGHT_BOUND = 900.0


class Slot:
    """A permission to send one request; give it back with :meth:`RateLimiter.release`."""

    __slots__ = ("acquired_at", "released", "ledger_id")

    def __init__(self, acquired_at: float):
        self.acquired_at = acquired_at
        self.released = False
        self.ledger_id: int | None = None


class BudgetLedger:
    """The request budget of one token shared by all processes of the user (see module doc)."""

    def __init__(self, path: Path | str, token: str):
        self.path = Path(path)
        self.key = hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), timeout=10, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(
            "CREATE TABLE IF NOT EXISTS slots (id INTEGER PRIMARY KEY, token TEXT NOT NULL, expiry REAL NOT NULL);"
            "CREATE INDEX IF NOT EXISTS slots_token ON slots (token, expiry);"
            "CREATE TABLE IF NOT EXISTS blocks (token TEXT PRIMARY KEY, until REAL NOT NULL);"
        )

    def close(self) -> None:
        self._db.close()

    def _tx(self, fn):
        self._db.execute("BEGIN IMMEDIATE")
        try:
            result = fn()
            self._db.execute("COMMIT")
            return result
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def take(self, now: float, per_minute: int, window: float) -> tuple[int | None, float | None, float | None]:
        """(entry id, None, None) when a slot was taken, else (None, seconds to wait or None, block epoch)."""

        def work():
            db, key = self._db, self.key
            row = db.execute("SELECT until FROM blocks WHERE token=?", (key,)).fetchone()
            if row is not None and row[0] + BLOCK_MARGIN > now:
                return None, row[0] + BLOCK_MARGIN - now, row[0]
            db.execute("DELETE FROM slots WHERE token=? AND expiry<=?", (key, now))
            # A wall clock set back must not freeze the budget: nothing counts longer than it could.
            db.execute("UPDATE slots SET expiry=? WHERE token=? AND expiry>?",
                       (now + window + IN_FLIGHT_BOUND, key, now + window + IN_FLIGHT_BOUND))
            (count,) = db.execute("SELECT COUNT(*) FROM slots WHERE token=?", (key,)).fetchone()
            if count < per_minute:
                cur = db.execute("INSERT INTO slots (token, expiry) VALUES (?,?)",
                                 (key, now + window + IN_FLIGHT_BOUND))
                return cur.lastrowid, None, None
            (first,) = db.execute("SELECT MIN(expiry) FROM slots WHERE token=?", (key,)).fetchone()
            return None, max(0.0, first - now), None

        return self._tx(work)

    def release(self, entry_id: int, now: float, window: float) -> None:
        self._db.execute("UPDATE slots SET expiry=? WHERE id=?", (now + window, entry_id))

    def block(self, until: float) -> None:
        self._db.execute(
            "INSERT INTO blocks (token, until) VALUES (?,?)"
            " ON CONFLICT (token) DO UPDATE SET until=MAX(until, excluded.until)",
            (self.key, float(until)),
        )

    def blocked_until(self) -> float | None:
        row = self._db.execute("SELECT until FROM blocks WHERE token=?", (self.key,)).fetchone()
        return float(row[0]) if row else None

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
        ledger: BudgetLedger | None = None,
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
        self._ledger = ledger

    # -- public API -----------------------------------------------------------------------

    @property
    def per_minute(self) -> int:
        return self._per_minute

    @property
    def blocked_until(self) -> float | None:
        """The wall-clock epoch until which BaseLinker blocks us, or None if not blocked."""
        with self._lock:
            until = self._blocked_until
            ledger_until = self._ledger_call(lambda led: led.blocked_until())
        if ledger_until is not None and (until is None or ledger_until > until):
            until = ledger_until
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
            self._ledger_call(lambda led: led.block(epoch))

    def attach_ledger(self, ledger: BudgetLedger | None) -> None:
        """Share the budget with other processes through ``ledger`` (None: this process only)."""
        with self._lock:
            old, self._ledger = self._ledger, ledger
        if old is not None and old is not ledger:
            old.close()

    @property
    def ledger(self) -> BudgetLedger | None:
        return self._ledger

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
            if slot.ledger_id is not None:
                entry = slot.ledger_id
                self._ledger_call(lambda led: led.release(entry, self._wall_clock(), self._window))
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
            if self._ledger is not None:
                taken = self._ledger_call(lambda led: led.take(self._wall_clock(), self._per_minute, self._window))
                if taken is not None:
                    entry, delay, blocked = taken
                    if entry is None:
                        return delay, blocked
                    slot = Slot(now)
                    slot.ledger_id = entry
                    self._in_flight += 1
                    return slot, None
            self._in_flight += 1
            return Slot(now), None
        if released:
            return released[0] - now, None
        return None, None  # every slot is in flight: wait for a release

    def _ledger_call(self, fn):
        """Run ``fn(ledger)``; a ledger that fails is dropped (this process counts alone), None."""
        ledger = self._ledger
        if ledger is None:
            return None
        try:
            return fn(ledger)
        except sqlite3.Error as exc:
            log.warning("the shared request budget %s cannot be used (%s); counting for this process only",
                        ledger.path, exc)
            self._ledger = None
            try:
                ledger.close()
            except sqlite3.Error:
                pass
            return None

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


# One limiter per token in this process (the budget belongs to the token: two companies on one
# token share it, two tokens never do); "" = the limiter of callers that give no token.
_shared: dict[str, RateLimiter] = {}
_shared_lock = threading.Lock()

LEDGER_FILE = "request-budget.sqlite3"


def shared_limiter(per_minute: int, token: str | None = None) -> RateLimiter:
    """The process-wide limiter of ``token`` (the budget belongs to the token, not to one client).

    Later calls with a different ``per_minute`` update the rate of the same limiter. With
    ``token``, the budget is shared with the user's other processes through a
    :class:`BudgetLedger` in the data dir (``LEDGER_FILE``).
    """
    with _shared_lock:
        limiter = _shared.get(token or "")
        if limiter is None:
            limiter = _shared[token or ""] = RateLimiter(per_minute)
        elif limiter.per_minute != per_minute:
            limiter.set_rate(per_minute)
        if token and limiter.ledger is None:
            from agent import paths

            try:
                limiter.attach_ledger(BudgetLedger(paths.data_dir() / LEDGER_FILE, token))
            except (sqlite3.Error, OSError) as exc:
                log.warning("the shared request budget cannot be opened (%s); counting for this process only", exc)
        return limiter
