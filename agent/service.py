"""``raksbl run``: the tray's scheduler without a tray, until SIGTERM / Ctrl+C (a server, a service).

It prints nothing: what it has to say at start goes up as an exception for the CLI to print
(:class:`~agent.instance.AlreadyRunning`, :class:`~agent.errors.ConfigError`); everything after
that goes to the log (console and the tray's rotating files).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

from agent.autosync import AutoSync, RunError, RunFn
from agent.errors import ConfigError
from agent.export.events import CompaniesFinished, EventBus, RunFinished
from agent.settings import SettingsFile

log = logging.getLogger(__name__)

EXIT_OK = 0


def _counts(s: object) -> str:
    return "sent %d, failed %d, in doubt %d, deferred %d%s" % (
        len(getattr(s, "sent", []) or []),
        len(getattr(s, "failed", []) or []),
        len(getattr(s, "in_doubt", []) or []),
        len(getattr(s, "deferred", []) or []),
        f", aborted: {s.aborted}" if getattr(s, "aborted", None) else "",
    )


def _log_events(event: object) -> None:
    """One line per company's run ("company sklep-a: run finished: …"), and with several
    companies one more for the whole run; a single-company file logs as it always did."""
    if isinstance(event, RunFinished):
        s = event.summary
        company = getattr(s, "company", "")
        log.info("%srun finished: %s", f"company {company}: " if company else "", _counts(s))
    elif isinstance(event, CompaniesFinished):
        s = event.summary
        if s.several:
            names = [r.company for r in s.runs]
            log.info("all companies finished (%s): %s; exit code %d", ", ".join(names), _counts(s), s.exit_code)
    elif isinstance(event, RunError):
        who = f"company {event.company}: " if getattr(event, "company", "") else ""
        log.warning("%srun (%s) %s: %s", who, event.trigger, event.kind, event.message)


def run_service(
    config_path: str | None,
    *,
    run_fn: RunFn | None = None,
    stop_event: threading.Event | None = None,
    stop_timeout: float = 120.0,
) -> int:
    """Sync on the timer until a stop signal; returns 0 after a clean stop.

    Takes the single-instance lock first (raises :class:`~agent.instance.AlreadyRunning` naming
    the running PID), logs to the same rotating files as the tray, runs on the timer whatever
    ``[sync] auto`` says (a service is started to sync), and on a stop signal lets the run in
    progress reach a recovery point. Settings that cannot be loaded at start raise
    :class:`ConfigError` (logged first).
    """
    from agent.instance import InstanceLock
    from agent.logs import setup_logging

    provider = SettingsFile(config_path, keep_broken_companies=True)
    lock = InstanceLock()
    lock.acquire()
    try:
        try:
            settings = provider()
        except ConfigError as exc:
            setup_logging(console=True)
            log.error("cannot start: %s", exc.user_message)
            raise
        log_file = setup_logging(settings.log.level, settings.log.retention_days, console=True)
        log.info(
            "raksbl run: pid %d, settings %s, log %s, every %d s%s",
            os.getpid(), provider.path, log_file, settings.sync.interval_seconds,
            f", companies: {', '.join(settings.company_names)}" if settings.several else "",
        )
        if not settings.sync.auto:
            log.info("[sync] auto = false is ignored by 'raksbl run': the service always syncs on the timer")

        stop = stop_event or threading.Event()
        previous: dict[int, Any] = {}

        def on_signal(signum: int, _frame: Any) -> None:
            log.info("signal %d received, stopping", signum)
            stop.set()

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGBREAK", None)):
                if sig is not None:
                    previous[sig] = signal.signal(sig, on_signal)

        bus = EventBus()
        bus.subscribe(_log_events)
        autosync = AutoSync(provider, run_fn, bus=bus, always_on=True, first_run_delay=0.0)
        try:
            autosync.start()
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            log.info("interrupted, stopping")
        finally:
            finished = autosync.stop(wait=True, timeout=stop_timeout)
            if not finished:
                log.warning("a run was still in progress after %.0f s; exiting anyway", stop_timeout)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            log.info("raksbl run stopped")
        return EXIT_OK
    finally:
        lock.release()
