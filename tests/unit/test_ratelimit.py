"""RateLimiter: sliding window with in-flight counting, blocks, cancel, rate changes, threads.

Time is faked: ``FakeClock.sleep`` advances both the monotonic and the wall clock, so minutes
of waiting take microseconds. Times used in the simulations are dyadic fractions (k/1024 s),
which floats add exactly, so window boundaries are compared without tolerance.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.baselinker import ratelimit
from agent.baselinker.ratelimit import BLOCK_MARGIN, RateLimiter, shared_limiter
from agent.errors import Cancelled

WALL_START = 1_700_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.on_advance = None  # callback(target) used by the simulation to deliver releases

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return WALL_START + self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        target = self.now + seconds
        if self.on_advance is not None:
            self.on_advance(target)
        self.now = target

    def limiter(self, per_minute: int, **kw) -> RateLimiter:
        return RateLimiter(per_minute, clock=self.monotonic, wall_clock=self.time,
                           sleep=self.sleep, **kw)


def max_in_any_window(times: list[float], window: float = 60.0) -> int:
    """Largest number of times inside any half-open interval [t, t + window)."""
    times = sorted(times)
    best = 0
    lo = 0
    for hi, t in enumerate(times):
        while times[lo] <= t - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def test_max_in_any_window_helper() -> None:
    assert max_in_any_window([0, 59.5, 60, 119.9]) == 2
    assert max_in_any_window([0, 1, 2, 3]) == 4
    assert max_in_any_window([0, 60, 120]) == 1


# -- the window ------------------------------------------------------------------------------

def test_budget_is_granted_at_once_then_waits_for_the_window() -> None:
    clock = FakeClock()
    lim = clock.limiter(3)
    for _ in range(3):
        lim.release(lim.acquire())
    assert clock.sleeps == []  # the first 3 requests are not delayed
    lim.acquire()
    # the 4th waits until the first slot expires: released at t=0 -> free at t=60
    assert clock.now == pytest.approx(60.0)


def test_slot_counts_from_release_time_not_acquire_time() -> None:
    clock = FakeClock()
    lim = clock.limiter(1)
    slot = lim.acquire()  # t=0
    clock.now = 25.0  # the answer took 25 s
    lim.release(slot)
    lim.acquire()
    assert clock.now == pytest.approx(85.0)  # 25 + 60, not 60


def test_in_flight_slots_always_count() -> None:
    clock = FakeClock()
    lim = clock.limiter(2)
    held = lim.acquire()
    lim.release(lim.acquire())  # t=0, expires at 60
    clock.now = 500.0  # long after: the released slot expired, the held one did not
    lim.acquire()  # one free place: granted immediately
    assert clock.now == 500.0

    released_later = []

    def release_held(target: float) -> None:
        if not released_later and target >= 503.0:
            clock.now = 503.0
            lim.release(held)
            released_later.append(clock.now)

    clock.on_advance = release_held
    lim.acquire()  # both places taken (one in flight since t=0): waits for release + 60
    assert released_later == [503.0]
    assert clock.now == pytest.approx(563.0)


def test_release_twice_is_ignored() -> None:
    clock = FakeClock()
    lim = clock.limiter(2)
    slot = lim.acquire()
    lim.release(slot)
    lim.release(slot)  # must not free a place that was never taken
    lim.acquire()
    lim.acquire()  # 1 released (t=0) + 1 in flight + this one = 3 > 2 -> must wait
    assert clock.now == pytest.approx(60.0)


def test_deque_stays_bounded_and_acquire_is_cheap_at_600_per_minute() -> None:
    clock = FakeClock()
    lim = clock.limiter(600)
    started = time.perf_counter()
    for _ in range(6000):  # 10 simulated minutes of backlog
        lim.release(lim.acquire())
        assert len(lim._released) <= 600
    elapsed = time.perf_counter() - started
    # the 6000th slot can start once 5400 slots expired: at 9 minutes, not later
    assert clock.now == pytest.approx(540.0)
    assert elapsed < 2.0, f"6000 acquires took {elapsed:.2f} s of real time"


# -- simulation: concurrent workers, random latencies ----------------------------------------

def simulate(per_minute: int, workers: int, latencies: list[int], fractions: list[int],
             duration: float) -> tuple[list[float], int]:
    """Run ``workers`` concurrent request loops against a fake-clock limiter.

    Latencies and arrival positions are in 1/1024 s. Returns the server arrival times (a point
    between acquire and release, as chosen by ``fractions``) and the number of requests.
    """
    clock = FakeClock()
    lim = clock.limiter(per_minute)
    pending: list[tuple[float, int, object]] = []  # (release time, seq, slot)
    seq = 0

    def deliver(target: float) -> None:
        while pending and pending[0][0] <= target:
            when, _, slot = heapq.heappop(pending)
            clock.now = max(clock.now, when)
            lim.release(slot)

    clock.on_advance = deliver
    arrivals: list[float] = []
    i = 0
    while True:
        if len(pending) >= workers:  # all workers busy: let time run to the next answer
            deliver(pending[0][0])
            continue
        slot = lim.acquire()
        if clock.now >= duration:
            break
        latency = latencies[i % len(latencies)] / 1024
        frac = fractions[i % len(fractions)]
        arrivals.append(clock.now + latency * frac / 1024)
        seq += 1
        heapq.heappush(pending, (clock.now + latency, seq, slot))
        i += 1
    return arrivals, i


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    per_minute=st.sampled_from([1, 3, 10, 100]),
    workers=st.integers(min_value=1, max_value=12),
    latencies=st.lists(st.integers(min_value=0, max_value=5 * 1024), min_size=1, max_size=40),
    fractions=st.lists(st.integers(min_value=0, max_value=1024), min_size=1, max_size=40),
)
def test_server_never_sees_more_than_budget_in_any_window(per_minute, workers, latencies,
                                                          fractions) -> None:
    arrivals, _ = simulate(per_minute, workers, latencies, fractions, duration=240.0)
    assert arrivals
    assert max_in_any_window(arrivals) <= per_minute


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    per_minute=st.sampled_from([100, 600]),
    latencies=st.lists(st.integers(min_value=0, max_value=100), min_size=1, max_size=20),
    fractions=st.lists(st.integers(min_value=0, max_value=1024), min_size=1, max_size=20),
)
def test_sustained_backlog_uses_at_least_95_percent_of_budget(per_minute, latencies,
                                                               fractions) -> None:
    # near-zero latency (< 0.1 s), enough workers to keep a backlog
    arrivals, sent = simulate(per_minute, 8, latencies, fractions, duration=600.0)
    assert max_in_any_window(arrivals) <= per_minute
    assert sent >= 0.95 * per_minute * 10, f"{sent} of {per_minute * 10}"


def test_zero_latency_backlog_reaches_full_budget() -> None:
    arrivals, sent = simulate(100, 1, [0], [0], duration=600.0)
    assert sent == 1000  # exactly 100 per minute over 10 minutes
    assert max_in_any_window(arrivals) == 100


# -- blocks ----------------------------------------------------------------------------------

def test_block_until_holds_every_acquire_until_the_time_plus_margin(caplog) -> None:
    clock = FakeClock()
    lim = clock.limiter(100)
    until = clock.time() + 180.0
    lim.block_until(until)
    assert lim.blocked_until == until
    with caplog.at_level(logging.DEBUG, logger="agent.baselinker.ratelimit"):
        lim.acquire()
    assert clock.time() >= until + BLOCK_MARGIN
    assert clock.time() <= until + BLOCK_MARGIN + 1.0
    assert lim.blocked_until is None
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert len(infos) == 1  # one line when the wait starts, not one per wake-up
    assert "blocked" in infos[0].getMessage()


def test_block_is_only_extended_never_shortened() -> None:
    clock = FakeClock()
    lim = clock.limiter(100)
    lim.block_until(clock.time() + 300)
    lim.block_until(clock.time() + 10)
    assert lim.blocked_until == clock.time() + 300


def test_block_in_the_past_does_not_wait() -> None:
    clock = FakeClock()
    lim = clock.limiter(100)
    lim.block_until(clock.time() - 5)
    lim.acquire()
    assert clock.sleeps == []
    assert lim.blocked_until is None


def test_cancel_interrupts_a_long_block_wait_quickly() -> None:
    lim = RateLimiter(100)  # real clocks
    lim.block_until(time.time() + 600)
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        lim.acquire(cancel)
    assert time.monotonic() - started < 0.5


def test_cancel_interrupts_a_throttle_wait() -> None:
    lim = RateLimiter(1)
    lim.release(lim.acquire())  # the next place frees in 60 s
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        lim.acquire(cancel)
    assert time.monotonic() - started < 0.5


def test_already_set_cancel_raises_even_with_free_slots() -> None:
    lim = RateLimiter(10)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        lim.acquire(cancel)


def test_cancel_with_injected_sleep_is_checked_after_each_wait() -> None:
    clock = FakeClock()
    lim = clock.limiter(100)
    lim.block_until(clock.time() + 600)
    cancel = threading.Event()
    original = clock.sleep

    def sleep_then_cancel(seconds: float) -> None:
        original(seconds)
        cancel.set()

    lim._injected_sleep = sleep_then_cancel
    with pytest.raises(Cancelled):
        lim.acquire(cancel)
    assert clock.now <= 1.0  # stopped after the first chunk, not after 600 s


# -- rate changes ----------------------------------------------------------------------------

def test_set_rate_lower_and_higher() -> None:
    clock = FakeClock()
    lim = clock.limiter(5)
    for _ in range(3):
        lim.release(lim.acquire())
    lim.set_rate(3)
    assert lim.per_minute == 3
    lim.acquire()
    assert clock.now == pytest.approx(60.0)  # 3 in the window already -> waited
    lim.set_rate(10)
    start = clock.now
    for _ in range(9):
        lim.acquire()
    assert clock.now == start  # room for 10 after the increase, no wait


@pytest.mark.parametrize("bad", [0, -1, 1.5, "100", None, True])
def test_invalid_rates_are_rejected(bad) -> None:
    with pytest.raises(ValueError):
        RateLimiter(bad)
    lim = RateLimiter(5)
    with pytest.raises(ValueError):
        lim.set_rate(bad)
    assert lim.per_minute == 5


def test_shared_limiter_is_one_per_process_and_takes_the_new_rate(monkeypatch) -> None:
    monkeypatch.setattr(ratelimit, "_shared", {})
    first = shared_limiter(100)
    again = shared_limiter(100)
    assert first is again
    changed = shared_limiter(40)
    assert changed is first
    assert first.per_minute == 40


def test_shared_limiter_is_one_per_token(monkeypatch, tmp_path) -> None:
    """Two companies on one token share a budget; two tokens never do."""
    monkeypatch.setenv("RAKSBL_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(ratelimit, "_shared", {})
    a, a_again, b = shared_limiter(100, "token-a"), shared_limiter(100, "token-a"), shared_limiter(100, "token-b")
    try:
        assert a is a_again and a is not b
        assert a.ledger.key != b.ledger.key
    finally:
        a.attach_ledger(None)
        b.attach_ledger(None)


# -- threads ---------------------------------------------------------------------------------

def test_threads_never_exceed_the_budget_together() -> None:
    """8 real threads, window 0.5 s, budget 5: timestamps of all grants respect the window."""
    lim = RateLimiter(5, window=0.5)
    grants: list[tuple[float, float]] = []
    grants_lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(5):
                slot = lim.acquire()
                acquired = time.monotonic()
                time.sleep(0.01)
                released = time.monotonic()
                lim.release(slot)
                with grants_lock:
                    grants.append((acquired, released))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert len(grants) == 40
    # arrivals at the acquire moment and at the release moment both respect the budget
    assert max_in_any_window([a for a, _ in grants], 0.5) <= 5
    assert max_in_any_window([r for _, r in grants], 0.5) <= 5
    assert lim._in_flight == 0


def test_thread_waiting_on_full_in_flight_gets_slot_after_release_plus_window() -> None:
    lim = RateLimiter(1, window=0.3)
    slot = lim.acquire()
    got: list[float] = []

    def waiter() -> None:
        lim.acquire()
        got.append(time.monotonic())

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.2)
    assert got == []  # the only place is in flight
    released_at = time.monotonic()
    lim.release(slot)
    t.join(timeout=5)
    assert got and got[0] >= released_at + 0.3 - 0.01


# -- one budget for all processes of the user (issue 16.4) -----------------------------------

_TAKE_ALL = (
    "import sys\n"
    "from agent.baselinker.ratelimit import BudgetLedger, RateLimiter\n"
    "lim = RateLimiter(3, window=3600, ledger=BudgetLedger(sys.argv[1], sys.argv[2]))\n"
    "for _ in range(3):\n"
    "    lim.release(lim.acquire())\n"
)


def _limiter_after(tmp_path, token: str):
    """A limiter in this process (fake clocks starting now) after another process used the budget."""
    import subprocess
    import sys
    from pathlib import Path

    from agent.baselinker.ratelimit import BudgetLedger

    ledger_path = tmp_path / "request-budget.sqlite3"
    subprocess.run([sys.executable, "-c", _TAKE_ALL, str(ledger_path), "token-A"], check=True,
                   cwd=Path(__file__).resolve().parents[2], timeout=60)
    start = time.time()
    slept: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    lim = RateLimiter(3, window=3600, clock=lambda: now[0], wall_clock=lambda: start + now[0], sleep=sleep,
                      ledger=BudgetLedger(ledger_path, token))
    return lim, slept, ledger_path


def test_a_second_process_waits_for_the_budget_another_process_used(tmp_path) -> None:
    lim, slept, ledger_path = _limiter_after(tmp_path, "token-A")
    lim.release(lim.acquire())
    # The other process's 3 requests occupy the shared window for an hour: this one had to wait
    # for them (without the ledger it would not have waited at all).
    assert sum(slept) > 3000
    assert b"token-A" not in ledger_path.read_bytes()  # only a hash of the token is stored


def test_another_token_has_its_own_budget(tmp_path) -> None:
    lim, slept, _ = _limiter_after(tmp_path, "token-B")
    for _ in range(3):
        lim.release(lim.acquire())
    assert slept == []


def test_a_block_seen_by_one_process_stops_the_others(tmp_path) -> None:
    from agent.baselinker.ratelimit import BudgetLedger

    path = tmp_path / "budget.sqlite3"
    a = RateLimiter(100, ledger=BudgetLedger(path, "tok"))
    b = RateLimiter(100, ledger=BudgetLedger(path, "tok"))
    until = time.time() + 600
    a.block_until(until)
    assert b.blocked_until == until
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        b.acquire(cancel)


def test_a_broken_ledger_falls_back_to_this_process_count(tmp_path, caplog) -> None:
    from agent.baselinker.ratelimit import BudgetLedger

    ledger = BudgetLedger(tmp_path / "budget.sqlite3", "tok")
    lim = RateLimiter(5, ledger=ledger)
    ledger.close()  # e.g. the disk failed under it
    with caplog.at_level(logging.WARNING):
        lim.release(lim.acquire())
    assert lim.ledger is None and "counting for this process only" in caplog.text


def test_shared_limiter_with_a_token_uses_the_ledger_in_the_data_dir(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RAKSBL_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(ratelimit, "_shared", {})
    lim = shared_limiter(100, "secret-token")
    try:
        assert lim.ledger is not None and lim.ledger.path == tmp_path / ratelimit.LEDGER_FILE
        lim.release(lim.acquire())
        assert b"secret-token" not in (tmp_path / ratelimit.LEDGER_FILE).read_bytes()
    finally:
        lim.attach_ledger(None)
