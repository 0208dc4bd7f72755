"""The tray agent: wires the scheduler (core), the icon, notifications and the UI thread.

Threads (see docs/style.md, "pystray"):

* **main thread** - the UI loop: a withdrawn Tk root serving one queue, woken through a pipe
  (polled on Windows; a plain queue loop when Tk cannot start): an idle agent sleeps. Anything
  that opens a window (the settings dialog, the history window) goes through
  :meth:`UiLoop.call`.
* **tray thread** - pystray's loop; menu callbacks run here and only do quick things or hand
  work to the UI loop. Never touch Tk from it.
* **timer / run threads** - :class:`agent.autosync.AutoSync`; its events reach
  :meth:`TrayApp._on_event` on those threads (icon look, tooltip, notifications).

Quit order: stop the timer and let the run reach a recovery point, stop the icon, then end
the UI loop (destroying Tk last).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable

from agent.autosync import AutoSync, RunCoalesced, RunError, StateChanged
from agent.errors import ConfigError
from agent.export.events import CompaniesFinished, RunStarted
from agent.notify_policy import Notification, NotifyPolicy
from agent.settings import SettingsFile
from agent.threads import start_daemon_thread
from ui import autostart as autostart_module
from ui.icons import icon_path
from ui.opener import open_path
from ui.uiloop import UiLoop

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_NO_TRAY = 1
EXIT_ALREADY_RUNNING = 3
QUIT_TIMEOUT = 120.0
ENDSESSION_TIMEOUT = 20.0  # Windows shows "raksbl kończy wysyłanie…" meanwhile; the user may force it


# ------------------------------------------------------------------ opening things


def open_settings(config_file: Path, opener: Callable[[Path], None] = open_path) -> None:
    """"Ustawienia…": for now the settings file in the default editor (created from the
    commented template if missing). The settings-dialog issue replaces this function."""
    from agent.settings import write_default_settings

    if not config_file.exists():
        write_default_settings(config_file)
        log.info("created the settings template %s", config_file)
    opener(config_file)


def open_history(opener: Callable[[Path], None] = open_path) -> None:
    """"Historia…": for now today's log file (or the log folder). The history-window issue
    replaces this function."""
    from agent.logs import current_log_file
    from agent.paths import log_dir

    current = current_log_file()
    opener(current if current is not None and current.exists() else log_dir())


def open_log_folder(opener: Callable[[Path], None] = open_path) -> None:
    from agent.paths import log_dir

    opener(log_dir())


# ------------------------------------------------------------------ the application


class TrayApp:
    """The tray agent; also the :class:`ui.tray.TrayActions` the menu calls."""

    def __init__(
        self,
        config_path: str | os.PathLike | None = None,
        *,
        run_fn: Callable[..., Any] | None = None,
        notifier: Any = None,
        opener: Callable[[Path], None] = open_path,
        ui: UiLoop | None = None,
        autostart: Any = autostart_module,
        start_thread: Callable[..., Any] = start_daemon_thread,
        clock: Callable[[], float] | None = None,
        first_run_delay: float = 5.0,
        quit_timeout: float = QUIT_TIMEOUT,
        tray_factory: Callable[..., Any] | None = None,
    ):
        from agent.export.events import EventBus

        self.settings_source = SettingsFile(config_path, keep_broken_companies=True)
        self.config_file = self.settings_source.path
        self._config_arg = config_path
        self.bus = EventBus()
        kwargs: dict[str, Any] = {"start_thread": start_thread, "first_run_delay": first_run_delay}
        if clock is not None:
            kwargs["clock"] = clock
        self.autosync = AutoSync(self.settings_source, run_fn, bus=self.bus, **kwargs)
        self.policy = NotifyPolicy()
        self.opener = opener
        self.ui = ui or UiLoop()
        self.ui.on_close = self.quit
        self.autostart = autostart
        self._start_thread = start_thread
        self.quit_timeout = quit_timeout
        self._tray_factory = tray_factory
        self.tray: Any = None
        if notifier is None:
            from ui.notifications import DesktopNotifier

            notifier = DesktopNotifier(self._balloon, icon_path=icon_path("idle"),
                                       error_icon_path=icon_path("attention"))
        self.notifier = notifier
        self.quitting = False
        self._trigger: str | None = None
        self._run_company = ""  # the company whose run is in progress (RunStarted), for the tooltip
        self._applied_settings: Any = None
        self._unsubscribe = self.bus.subscribe(self._on_event)

    # ---------------------------------------------------------------- lifecycle

    def create_tray(self) -> None:
        from ui.tray import TrayIcon

        self.tray = (self._tray_factory or TrayIcon)(self)
        self.tray.state_provider = self._tray_state

    def _tray_state(self) -> tuple[Any, bool]:
        """What the icon shows: the scheduler's state, naming the company being sent for."""
        import dataclasses

        state = self.autosync.state()
        if state.running and self._run_company:
            state = dataclasses.replace(state, company=self._run_company)
        return state, self.quitting

    def run(self) -> int:
        """Run until "Zakończ" or SIGTERM/Ctrl+C; must be called on the main thread."""
        self.ui.start()
        try:
            self.create_tray()
        except Exception as exc:  # no display / no tray backend
            log.exception("cannot create the tray icon")
            print(f"raksbl: nie można utworzyć ikony w zasobniku systemowym: {exc}", file=sys.stderr)
            self.ui._destroy_root()
            return EXIT_NO_TRAY
        self.autosync.start()
        self.tray.start(on_visible=self.refresh)
        self.refresh()
        state = self.autosync.state()
        if not state.configured:
            self.notify(self.unconfigured_notice(state))
            if not self.config_file.exists():  # first start: open the dialog straight away
                self.open_settings()
        self._install_signal_handlers()
        log.info("tray agent running (backend %s, settings %s)", self.tray.backend, self.config_file)
        self.ui.run()
        log.info("tray agent stopped")
        return EXIT_OK

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGBREAK", None)):
            if sig is not None:
                signal.signal(sig, lambda signum, frame: self.quit())

    def _balloon(self, title: str, body: str, done: Callable[[bool], None]) -> None:
        if self.tray is None:
            done(False)
        else:
            self.tray.balloon(title, body, done)

    def refresh(self) -> None:
        """Show the scheduler's current state on the icon."""
        if self.tray is not None:
            self.tray.refresh()  # the tray reads the state when it draws (never a late snapshot)

    def unconfigured_notice(self, state) -> Notification:
        """At start without usable settings: name what is wrong in an existing file."""
        if state.config_error and self.config_file.exists():
            return Notification("Błąd ustawień", state.config_error, error=True)
        return Notification("raksbl nie jest skonfigurowany",
                            "Kliknij prawym przyciskiem ikonę raksbl i wybierz „Ustawienia…”.", error=True)

    # ---------------------------------------------------------------- events (any thread)

    def _on_event(self, event: object) -> None:
        if isinstance(event, StateChanged):
            self._apply_settings()
            self.refresh()
        elif isinstance(event, RunStarted):
            self._trigger = event.trigger
            self._run_company = event.company
            if event.company:
                self.refresh()  # "trwa wysyłanie (sklep-b)…"
        elif isinstance(event, CompaniesFinished):
            # once per run, over every company it covered: one notification at most
            trigger = event.summary.trigger or self._trigger or self.autosync.state().trigger or "auto"
            self.notify(self.policy.for_companies(event.summary, trigger=trigger))
        elif isinstance(event, RunError):
            self.notify(self.policy.for_run_error(event.message, kind=event.kind, trigger=event.trigger,
                                                  company=event.company))
        elif isinstance(event, RunCoalesced):
            self.notify(self.policy.for_coalesced())

    def _apply_settings(self) -> None:
        settings = self.autosync.settings
        if settings is None or settings is self._applied_settings:
            return
        self._applied_settings = settings
        self.policy.mode = settings.sync.notifications
        from agent.logs import current_log_file, setup_logging

        if current_log_file() is not None:  # only when main() configured logging
            setup_logging(settings.log.level, settings.log.retention_days)

    def notify(self, notification: Notification | None) -> None:
        if self.quitting:  # "przerwano: agent kończy pracę" is what the user asked for
            return
        if notification is not None and self.notifier is not None:
            self.notifier.notify(notification)

    # ---------------------------------------------------------------- menu actions (tray thread)

    def send_now(self, company: str | None = None) -> None:
        """"Wyślij faktury": a run now for every company (``company``: "Wyślij dla firmy ▸"
        only that one), or "trwa wysyłanie" if one is in progress."""
        self.autosync.run_now("manual", company=company)

    def company_names(self) -> tuple[str, ...]:
        """The companies of the settings the agent runs with (re-read when the file changes):
        the "Wyślij dla firmy" submenu lists them when there are several."""
        settings = self.autosync.settings
        return tuple(getattr(settings, "company_names", ()) or ())

    def auto_enabled(self) -> bool:
        state = self.autosync.state()
        return state.configured and not state.paused

    def set_auto(self, enabled: bool) -> None:
        """"Automatyczna synchronizacja": saved to ``[sync] auto`` so it survives a restart."""
        from agent.settings import update_settings

        if not self.config_file.exists():
            self.notify(Notification("raksbl nie jest skonfigurowany",
                                     "Najpierw uzupełnij ustawienia („Ustawienia…”).", error=True))
            return
        try:
            settings = update_settings(self.config_file, {"sync.auto": bool(enabled)})
        except ConfigError as exc:
            log.warning("cannot save [sync] auto: %s", exc.user_message)
            self.notify(Notification("Nie zapisano ustawienia", exc.user_message, error=True))
            return
        self.settings_source.invalidate()
        self.autosync.reload(settings)
        log.info("automatic sync %s by the user", "on" if enabled else "off")

    def open_settings(self) -> None:
        """"Ustawienia…": the settings dialog (the settings file itself when Tk is unavailable)."""
        if self.ui.root is None:
            self.ui.call(lambda: open_settings(self.config_file, self.opener))
            return
        from ui.settings import open_settings_dialog

        self.ui.call(lambda: open_settings_dialog(self.ui.root, self.config_file, on_saved=self._settings_saved))

    def _settings_saved(self, settings) -> None:
        # Saved settings take effect in the running agent: interval, budget, statuses, ...
        self.settings_source.invalidate()
        self.autosync.reload(settings)
        self.refresh()

    def open_history(self) -> None:
        """"Historia…": the history window (the log folder when Tk is unavailable)."""
        if self.ui.root is None:
            self.ui.call(lambda: open_history(self.opener))
            return
        from ui.history import open_history_window

        self.ui.call(lambda: open_history_window(self.ui.root))

    def open_log_folder(self) -> None:
        self.ui.call(lambda: open_log_folder(self.opener))

    def autostart_enabled(self) -> bool:
        return bool(self.autostart.is_enabled())

    def set_autostart(self, enabled: bool) -> None:
        self.autostart.set_enabled(enabled, self.autostart.launch_command(self._config_arg))

    # ---------------------------------------------------------------- Windows session end (tray thread)

    def session_ending(self) -> bool:
        """WM_QUERYENDSESSION (log off, shut down, the installer's Restart Manager): logging off
        is never vetoed; True tells the tray a run is in progress (Windows then shows why the
        agent needs a moment)."""
        running = self.autosync.state().running
        log.info("Windows session is ending%s", " during a run" if running else "")
        return running

    def end_session(self) -> None:
        """WM_ENDSESSION: stop at the next recovery point *before* returning (Windows ends the
        process soon after), then close like "Zakończ"."""
        self.quitting = True
        if not self.autosync.stop(wait=True, timeout=ENDSESSION_TIMEOUT):
            log.warning("session end: a run was still in progress after %.0f s", ENDSESSION_TIMEOUT)
        else:
            log.info("session end: stopped at a recovery point")
        self.ui.call(self._close)

    def quit(self) -> None:
        """"Zakończ": let the run reach a recovery point, then close the icon and the UI loop."""
        if self.quitting:
            return
        self.quitting = True
        log.info("quit requested")
        self.refresh()

        def stop_then_close() -> None:
            try:
                if not self.autosync.stop(wait=True, timeout=self.quit_timeout):
                    log.warning("a run was still in progress after %.0f s; quitting anyway", self.quit_timeout)
            finally:
                self.ui.call(self._close)

        self._start_thread(stop_then_close, name="raksbl-quit")

    def _close(self) -> None:
        if self.tray is not None:
            self.tray.stop()
        self.ui.quit()


# ------------------------------------------------------------------ entry point


def _tell_already_running(message: str) -> None:
    print(message, file=sys.stderr)
    if sys.platform == "win32":  # a windowed exe has no console: say it in a message box
        try:
            import ctypes

            ctypes.windll.user32.MessageBoxW(None, message, "raksbl", 0x40)
        except Exception:
            pass
    else:
        from ui.notifications import DesktopNotifier

        DesktopNotifier(background=False).notify(Notification("raksbl już działa", message))


AGENT_MUTEX = "raksbl-agent"  # build/raksbl.iss waits for it to vanish before replacing files


def hold_agent_mutex(platform: str = sys.platform, kernel32: Any = None) -> Any:
    """Windows: a named mutex that lives as long as this agent, so the installer can tell it
    runs and wait until it has stopped politely. Returns the handle (None elsewhere)."""
    if platform != "win32":
        return None
    try:
        if kernel32 is None:
            import ctypes

            kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        return kernel32.CreateMutexW(None, False, AGENT_MUTEX) or None
    except Exception:
        log.exception("could not create the agent mutex (the installer will not see this agent)")
        return None


def main(config_path: str | None = None) -> int:
    """``raksbl`` / ``raksbl tray``: the tray agent. Exit 0 after "Zakończ", 3 if one already runs."""
    from agent.instance import AlreadyRunning, InstanceLock
    from agent.logs import setup_logging
    from agent.settings import load_settings

    lock = InstanceLock()
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        _tell_already_running(exc.user_message)
        return EXIT_ALREADY_RUNNING
    try:
        try:
            settings = load_settings(config_path)
            log_file = setup_logging(settings.log.level, settings.log.retention_days)
        except ConfigError as exc:
            log_file = setup_logging()
            log.warning("starting unconfigured: %s", exc.user_message)
        log.info("raksbl tray starting, pid %d, log %s", os.getpid(), log_file)
        mutex = hold_agent_mutex()  # noqa: F841 - held until the process ends
        return TrayApp(config_path).run()
    finally:
        lock.release()
