"""Automatic sync: one export run at a time, on a timer, pausable, with a live interval.

The algorithm and its invariants:

* **Single flight.** At most one run exists at any moment. A trigger that arrives while a run is
  in progress is *coalesced*: the timer skips quietly, :meth:`AutoSync.run_now` returns ``False``
  and publishes :class:`RunCoalesced` so the UI can say "trwa wysyłanie".
* **Timer.** While automatic sync is on, a ``schedule`` job in a private ``schedule.Scheduler``
  fires every ``[sync] interval_seconds``. The job is clocked by the injected *monotonic* clock,
  so a wall-clock jump (DST, NTP, a user changing the time) never stalls or floods the timer.
  The period restarts when a run finishes (next run = end of the last run + interval): a run
  longer than the interval never produces back-to-back runs.
* **Live settings.** Every tick asks ``settings_provider`` for the settings (``SettingsFile``
  re-reads the file only when it changed on disk). A changed file re-applies ``[sync] auto`` and
  the interval at once, without a restart. :meth:`pause`, :meth:`resume`, :meth:`set_interval`
  and :meth:`reload` change the same runtime state directly.
* **Failures never stop the timer.** A run that raises is logged, remembered as ``last_error``
  and published as :class:`RunError`; the next tick runs as usual.
* **Stopping.** :meth:`stop` sets the cancel ``Event`` handed to the run function (the run stops
  at its next recovery point, never in the middle of a document) and joins the threads.

All threading goes through one seam, ``start_thread(target, *args, name=...)``; tests pass a
synchronous one and a fake clock and call :meth:`tick` themselves. This module never imports a
GUI toolkit: the tray (``ui/app.py``) and ``raksbl run`` (:mod:`agent.service`) both drive it.
Threads come from :mod:`agent.threads`, the settings from :class:`agent.settings.SettingsFile`,
the timer's job from :mod:`agent.clocked_schedule`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import schedule

from agent.clocked_schedule import ClockedJob, monotonic_datetime
from agent.errors import Cancelled, ConfigError, RunAborted
from agent.export.events import EventBus
from agent.export.results import CompaniesSummary, RunSummary
from agent.threads import start_daemon_thread

log = logging.getLogger(__name__)

RunFn = Callable[..., Any]


# --------------------------------------------------------------------------------------------
# Events published by the scheduler (next to the export's own events on the same bus)


@dataclass(frozen=True)
class RunCoalesced:
    """A trigger arrived while a run was in progress; no second run was started."""

    trigger: str
    company: str | None = None  # the one company the trigger asked for (None = every company)


@dataclass(frozen=True)
class RunError:
    """A run could not be done: ``kind`` is ``config`` | ``aborted`` | ``cancelled`` | ``crash``."""

    trigger: str
    kind: str
    message: str
    company: str = ""  # the one company the run was for, when the file lists companies


@dataclass(frozen=True)
class AutoSyncState:
    """A snapshot of the scheduler for the tray's icon, tooltip and menu."""

    configured: bool
    config_error: str | None
    paused: bool
    running: bool
    trigger: str | None  # of the run in progress
    interval_seconds: int | None
    next_run_at: float | None  # wall-clock epoch seconds; None when paused/unconfigured/stopped
    last_summary: RunSummary | None
    last_error: str | None
    last_finished_at: float | None  # wall-clock epoch seconds
    stopping: bool = False
    company: str | None = None  # the one company the run in progress is for (None = every company)

    @property
    def needs_attention(self) -> bool:
        """Failures, documents in doubt, an aborted run, a run error or broken settings."""
        if self.config_error or self.last_error:
            return True
        return summary_needs_attention(self.last_summary)


@dataclass(frozen=True)
class StateChanged:
    state: AutoSyncState


def merge_last_summary(previous: Any, summary: Any, company: str | None) -> Any:
    """The summary the icon and tooltip show after a run: a run for one company ("Wyślij dla
    firmy") replaces only that company's part of the last one, so another company's problem
    stays on the icon until a run of that company clears it."""
    if not company or not isinstance(previous, CompaniesSummary) or not isinstance(summary, CompaniesSummary):
        return summary
    new = {run.company: run for run in summary.runs}
    runs = [new.pop(run.company, run) for run in previous.runs] + list(new.values())
    return dataclasses.replace(summary, runs=runs)


def summary_needs_attention(summary: RunSummary | None) -> bool:
    if summary is None:
        return False
    return bool(summary.failed or summary.in_doubt or summary.aborted)


# --------------------------------------------------------------------------------------------
# Seams


def _default_run_fn() -> RunFn:
    from agent.export.run import run_companies  # lazy: the engine pulls in fdb/requests

    return run_companies


# --------------------------------------------------------------------------------------------

class AutoSync:
    """The timer that runs exports: single flight, pause/resume, live interval, clean stop.

    ``settings_provider()`` returns the settings or raises :class:`ConfigError`;
    ``run_fn(settings, *, trigger, bus, cancel)`` does one run and returns its summary
    (default: :func:`agent.export.run.run_companies`, imported on first use); a run for one
    company (:meth:`run_now` with ``company``) also passes ``company=name``.
    ``always_on=True`` ignores ``[sync] auto`` (``raksbl run``: a service that is running is meant
    to sync).
    """

    def __init__(
        self,
        settings_provider: Callable[[], Any],
        run_fn: RunFn | None = None,
        *,
        bus: EventBus | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        start_thread: Callable[..., Any] = start_daemon_thread,
        first_run_delay: float = 5.0,
        poll_seconds: float = 1.0,
        always_on: bool = False,
    ):
        self._provider = settings_provider
        self._run_fn = run_fn
        self.bus = bus if bus is not None else EventBus()
        self._clock = clock
        self._wall = wall_clock
        self._start_thread = start_thread
        self.first_run_delay = first_run_delay
        self.poll_seconds = poll_seconds
        self.always_on = always_on

        self._lock = threading.RLock()
        self._scheduler = schedule.Scheduler()
        self._job: ClockedJob | None = None
        self._first_run_pending = False
        self._due = False
        self._cancel = threading.Event()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._loop_thread: Any = None
        self._run_thread: Any = None

        self._settings: Any | None = None
        self._config_error: str | None = None
        self._paused = True
        self._interval: int | None = None
        self._running = False
        # Set whenever no run is in progress: waiting on it cannot miss a run whose thread object
        # has not been stored yet (the run may start before _launch records its thread).
        self._idle = threading.Event()
        self._idle.set()
        self._trigger: str | None = None
        self._company: str | None = None
        self._last_summary: Any | None = None
        self._last_error: str | None = None
        self._last_finished_at: float | None = None
        self.runs_started = 0

    # ---------------------------------------------------------------- state

    def _mono_now(self) -> dt.datetime:
        return monotonic_datetime(self._clock())

    def state(self) -> AutoSyncState:
        with self._lock:
            next_run_at = None
            if self._job is not None and not self._stopping.is_set():
                delta = (self._job.next_run - self._mono_now()).total_seconds()
                next_run_at = self._wall() + max(0.0, delta)
            return AutoSyncState(
                configured=self._settings is not None,
                config_error=self._config_error,
                paused=self._paused,
                running=self._running,
                trigger=self._trigger,
                interval_seconds=self._interval,
                next_run_at=next_run_at,
                last_summary=self._last_summary,
                last_error=self._last_error,
                last_finished_at=self._last_finished_at,
                stopping=self._stopping.is_set(),
                company=self._company,
            )

    @property
    def settings(self) -> Any | None:
        """The settings last applied (``None`` while unconfigured)."""
        return self._settings

    @property
    def running(self) -> bool:
        return self._running

    @property
    def paused(self) -> bool:
        return self._paused

    def seconds_until_next_run(self) -> float | None:
        with self._lock:
            if self._job is None:
                return None
            return max(0.0, (self._job.next_run - self._mono_now()).total_seconds())

    def _publish_state(self) -> None:
        self.bus.publish(StateChanged(self.state()))

    # ---------------------------------------------------------------- settings

    def refresh_settings(self) -> None:
        """Ask the provider for the settings; apply them if they changed."""
        try:
            settings = self._provider()
        except ConfigError as exc:
            self._apply(None, exc.user_message)
        except Exception as exc:  # a provider bug must not kill the timer
            log.exception("reading the settings failed")
            self._apply(None, f"Nie udało się wczytać ustawień: {exc}")
        else:
            self._apply(settings, None)

    def reload(self, settings: Any) -> None:
        """Apply ``settings`` now (the tray calls this after it saved the file)."""
        self._apply(settings, None)

    def _apply(self, settings: Any | None, error: str | None) -> None:
        with self._lock:
            if settings is self._settings and error == self._config_error:
                return
            if settings is not None and settings == self._settings and error == self._config_error:
                self._settings = settings
                return
            # Working settings that broke (the file was edited badly while we run) stop the
            # timer: say so once, naming the setting, rather than going quiet.
            newly_broken = settings is None and error and self._settings is not None
            self._settings, self._config_error = settings, error
            if settings is None:
                if error:
                    log.warning("settings unusable, automatic sync stopped: %s", error)
                self._interval = None
                self._cancel_job()
            else:
                self._paused = not (settings.sync.auto or self.always_on)
                self._set_interval_locked(settings.sync.interval_seconds)
                self._update_job()
        self._publish_state()
        if newly_broken:
            self.bus.publish(RunError("auto", "config", f"Automatyczna synchronizacja wstrzymana: {error}"))

    def pause(self) -> None:
        """Stop the timer (a run in progress finishes; manual runs still work)."""
        with self._lock:
            self._paused = True
            self._update_job()
        log.info("automatic sync paused")
        self._publish_state()

    def resume(self) -> None:
        """Start the timer again (first run after ``first_run_delay``)."""
        with self._lock:
            self._paused = False
            self._update_job()
        log.info("automatic sync resumed")
        self._publish_state()
        self._wake.set()

    def set_interval(self, seconds: int) -> None:
        """Change the interval now: the next run is due ``seconds`` after the current period began."""
        with self._lock:
            self._set_interval_locked(seconds)
        self._publish_state()
        self._wake.set()

    def _set_interval_locked(self, seconds: int) -> None:
        seconds = int(seconds)
        if seconds <= 0:
            raise ValueError("interval must be positive")
        old = self._interval
        self._interval = seconds
        job = self._job
        if job is None or old == seconds:
            return
        if not self._first_run_pending:
            period_start = job.next_run - dt.timedelta(seconds=job.interval)
            job.next_run = period_start + dt.timedelta(seconds=seconds)
        job.interval = seconds
        log.info("automatic sync interval changed to %d s", seconds)

    def _update_job(self) -> None:
        want = self._settings is not None and not self._paused and not self._stopping.is_set()
        if not want:
            self._cancel_job()
            return
        if self._job is None:
            job = ClockedJob(self._interval or 60, self._scheduler, self._mono_now)
            job.seconds.do(self._on_timer)
            job.next_run = self._mono_now() + dt.timedelta(seconds=self.first_run_delay)
            self._first_run_pending = True
            self._job = job

    def _cancel_job(self) -> None:
        if self._job is not None:
            self._scheduler.cancel_job(self._job)
            self._job = None
        self._first_run_pending = False

    # ---------------------------------------------------------------- running

    def _on_timer(self) -> None:
        # Called by schedule inside tick() with the lock held: only note it, launch outside.
        self._due = True
        self._first_run_pending = False

    def tick(self) -> bool:
        """Re-read settings, fire the timer if due. Returns True when a timer run was started."""
        if self._stopping.is_set():
            return False
        self.refresh_settings()
        with self._lock:
            self._due = False
            self._scheduler.run_pending()
            due = self._due
        if not due:
            return False
        return self._launch("auto")

    def run_now(self, trigger: str = "manual", company: str | None = None) -> bool:
        """Start a run now unless one is in progress (then coalesce: publish RunCoalesced, return False).

        ``company`` limits the run to that company of a several-companies file ("Wyślij dla
        firmy"); ``None`` runs every company, as the timer does."""
        if self._settings is None:
            self.refresh_settings()
        return self._launch(trigger, company or None)

    def _launch(self, trigger: str, company: str | None = None) -> bool:
        with self._lock:
            if self._stopping.is_set():
                return False
            coalesced = self._running
            settings = self._settings
            error = self._config_error
            if not coalesced and settings is not None:
                self._running = True
                self._idle.clear()
                self._trigger = trigger
                self._company = company
                self.runs_started += 1
        if coalesced:
            log.info("%s trigger while a run is in progress: coalesced", trigger)
            if trigger != "auto":
                self.bus.publish(RunCoalesced(trigger, company))
            return False
        if settings is None:
            message = error or "Program nie jest skonfigurowany."
            if trigger != "auto":
                self.bus.publish(RunError(trigger, "config", message))
            return False
        log.info("starting a run (%s)%s", trigger, f" for company {company}" if company else "")
        self._publish_state()
        try:
            thread = self._start_thread(self._run_once, settings, trigger, company, name="raksbl-run")
        except BaseException:
            with self._lock:
                self._running = False
                self._trigger = None
                self._company = None
                self._idle.set()
            raise
        if isinstance(thread, threading.Thread):
            self._run_thread = thread
        return True

    def _run_once(self, settings: Any, trigger: str, company: str | None = None) -> None:
        summary: Any | None = None
        error: RunError | None = None
        # A run over one company of a several-companies file raises that company's error: say whose.
        names = tuple(getattr(settings, "company_names", ()) or ())
        whose = company or (names[0] if len(names) == 1 else "")
        try:
            run_fn = self._run_fn or _default_run_fn()
            extra = {"company": company} if company else {}
            summary = run_fn(settings, trigger=trigger, bus=self.bus, cancel=self._cancel, **extra)
        except ConfigError as exc:
            log.warning("run (%s) not possible: %s", trigger, exc.user_message)
            error = RunError(trigger, "config", exc.user_message, getattr(exc, "company", "") or whose)
        except RunAborted as exc:
            log.warning("run (%s) aborted: %s", trigger, exc.user_message)
            error = RunError(trigger, "aborted", exc.user_message, whose)
        except Cancelled as exc:
            log.info("run (%s) cancelled: %s", trigger, exc.user_message)
            error = RunError(trigger, "cancelled", exc.user_message, whose)
        except Exception as exc:
            log.exception("run (%s) failed with an unexpected error", trigger)
            error = RunError(trigger, "crash", f"Nieoczekiwany błąd: {type(exc).__name__}: {exc}", whose)
        finally:
            with self._lock:
                self._running = False
                self._trigger = None
                self._company = None
                self._last_finished_at = self._wall()
                if error is None:
                    self._last_summary = merge_last_summary(self._last_summary, summary, company)
                    self._last_error = None
                elif error.kind != "cancelled":
                    named = not error.company or error.company in error.message
                    self._last_error = error.message if named else f"{error.company}: {error.message}"
                if self._job is not None:
                    # The period restarts at the end of a run: long runs never go back to back.
                    self._job.next_run = self._mono_now() + dt.timedelta(seconds=self._job.interval)
                    self._first_run_pending = False
            try:
                if error is not None:
                    self.bus.publish(error)
                self._publish_state()
                self._wake.set()
            finally:
                self._idle.set()  # last: whoever waits for the run sees its events published

    # ---------------------------------------------------------------- loop

    def start(self) -> None:
        """Apply the settings and start the timer thread (production use)."""
        self.refresh_settings()
        self._loop_thread = self._start_thread(self._loop, name="raksbl-timer")

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("timer tick failed")
            delay = self.poll_seconds
            until_next = self.seconds_until_next_run()
            if until_next is not None:
                delay = min(delay, until_next)
            self._wake.wait(max(0.05, delay))
            self._wake.clear()

    def stop(self, wait: bool = True, timeout: float | None = None) -> bool:
        """Stop the timer, ask a run in progress to stop at its next recovery point, join.

        Returns True when nothing is running any more.
        """
        with self._lock:
            self._stopping.set()
            self._cancel.set()
            self._cancel_job()
        self._wake.set()
        log.info("automatic sync stopping")
        if wait:
            deadline = None if timeout is None else time.monotonic() + timeout
            loop = self._loop_thread
            if isinstance(loop, threading.Thread) and loop is not threading.current_thread():
                loop.join(timeout)
            if self._run_thread is not threading.current_thread():
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                self._idle.wait(remaining)
        self._publish_state()
        return not self._running

    @property
    def cancel_event(self) -> threading.Event:
        return self._cancel
