"""The tray's threading rules and its Windows message handling, against a fake win32 backend.

The fake is pystray's own base ``Icon`` with a message loop like ``pystray._win32``'s (a queue
of posted messages dispatched through ``_message_handlers`` on the loop thread). Every call into
the backend records which thread made it and whether our tray lock was held at that moment:

* only the tray (loop) thread calls into pystray once the loop runs (pystray #60: win32's
  ``update_menu`` is not thread-safe; xorg blocks a foreign caller until its loop ran the call);
* no lock of ours is held across a call into pystray (16.8: the agent deadlocked in 1 of 11
  starts, auto-sync stopped for good and SIGTERM was ignored);
* a left click opens the menu, never sends; balloons wait for the icon and a failed
  ``Shell_NotifyIcon`` is not counted as shown; logging off stops a run at a recovery point.
"""

from __future__ import annotations

import os

os.environ["PYSTRAY_BACKEND"] = "dummy"  # before anything imports pystray

import queue  # noqa: E402
import threading  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import pystray  # noqa: E402
import pytest  # noqa: E402
from pystray import _base  # noqa: E402

from agent.autosync import AutoSyncState  # noqa: E402
from agent.errors import Cancelled  # noqa: E402
from agent.notify_policy import Notification  # noqa: E402
from agent.settings import update_settings, write_default_settings  # noqa: E402
from ui import tray as tray_module  # noqa: E402
from ui.app import TrayApp, UiLoop  # noqa: E402
from ui.notifications import DesktopNotifier  # noqa: E402
from ui.tray import (  # noqa: E402
    MENU_HISTORY, MENU_SEND, SHUTDOWN_REASON, WM_ENDSESSION, WM_LBUTTONUP, WM_PYSTRAY_NOTIFY, WM_QUERYENDSESSION,
    WM_RBUTTONUP, TrayIcon,
)

WAIT = 30  # generous upper bound for waiting on an event (never reached when things work)
STOP = object()


class FakeWin32Icon(_base.Icon):
    """pystray's base Icon with a win32-like loop; records (thread, lock held) per backend call."""

    HAS_MENU = True
    HAS_NOTIFICATION = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.posted: queue.Queue = queue.Queue()
        self.calls: list[tuple[str, int, bool]] = []
        self.lock_probe = lambda: False
        self.clicks: list[int] = []
        self._hwnd = 0xBEEF
        self._message_handlers = {WM_PYSTRAY_NOTIFY: self._on_notify}

    def _record(self, what):
        self.calls.append((what, threading.get_ident(), self.lock_probe()))

    def _show(self):
        self._record("show")

    def _hide(self):
        self._record("hide")

    def _update_icon(self):
        self._record("icon")
        self._icon_valid = True

    def _update_title(self):
        self._record("title")

    def _update_menu(self):
        self._record("menu")

    def _notify(self, message, title=None):
        self._record("notify")

    def _on_notify(self, wparam, lparam):
        self.clicks.append(lparam)
        if lparam == WM_RBUTTONUP:
            self._record("popup menu")
        return 0

    def _run(self):
        self._mark_ready()
        self._thread = threading.current_thread()
        while True:
            msg = self.posted.get()
            if msg is STOP:
                break
            number, wparam, lparam = msg
            self._message_handlers.get(number, lambda w, l: 0)(wparam, lparam)

    def _stop(self):
        self.posted.put(STOP)


FakeWin32Icon.__module__ = "pystray._win32"  # TrayIcon picks its strategy by pystray's backend module


class FakeWin32Api:
    def __init__(self, icon_getter, balloon_ok=True):
        self.icon_getter = icon_getter
        self.balloon_ok = balloon_ok
        self.balloons: list[tuple[str, str, int]] = []
        self.reasons: list[str | None] = []

    def post_message(self, hwnd, msg):
        self.icon_getter().posted.put((msg, 0, 0))
        return True

    def balloon(self, icon, title, body):
        icon._record("balloon")
        self.balloons.append((title, body, threading.get_ident()))
        return self.balloon_ok

    def block_shutdown(self, hwnd, reason):
        self.reasons.append(reason)


class Actions:
    def __init__(self):
        self.sent = 0
        self.histories = 0
        self.tray = None
        self.busy = False
        self.ended = 0

    def send_now(self):
        self.sent += 1

    def auto_enabled(self):
        return True

    def set_auto(self, enabled):
        pass

    def open_settings(self):
        pass

    def open_history(self):
        self.histories += 1
        # a menu action that changes what the icon shows, from the loop thread itself
        self.tray.show(state(running=True))

    def open_log_folder(self):
        pass

    def autostart_enabled(self):
        return False

    def set_autostart(self, enabled):
        pass

    def quit(self):
        pass

    def session_ending(self):
        return self.busy

    def end_session(self):
        self.ended += 1


def state(running=False, error=None):
    return AutoSyncState(configured=True, config_error=None, paused=False, running=running, trigger=None,
                         interval_seconds=60, next_run_at=None, last_summary=None, last_error=error,
                         last_finished_at=1.0e9 if error else None)


def make_tray(actions=None, balloon_ok=True):
    actions = actions or Actions()
    holder = {}
    api = FakeWin32Api(lambda: holder["icon"], balloon_ok)

    def factory(*args, **kwargs):
        holder["icon"] = FakeWin32Icon(*args, **kwargs)
        return holder["icon"]

    tray = TrayIcon(actions, platform="win32", icon_factory=factory, win32_api=api)
    tray.icon.lock_probe = tray._lock.locked
    actions.tray = tray
    return tray, tray.icon, api, actions


def settle(tray):
    """Wait until the tray thread applied everything asked so far (a balloon is applied last)."""
    done = threading.Event()
    tray.balloon("sync", "sync", lambda shown: done.set())
    assert done.wait(WAIT)


@pytest.fixture
def started():
    tray, icon, api, actions = make_tray()
    tray.start()
    assert tray.wait_visible(WAIT)
    yield tray, icon, api, actions
    tray.stop()


def test_only_the_tray_thread_calls_pystray_and_never_under_our_lock(started):
    tray, icon, api, actions = started
    barrier = threading.Barrier(4)

    def hammer(k):
        barrier.wait()
        for i in range(40):
            tray.show(state(running=(i + k) % 2 == 0, error="x" if i % 3 == 0 else None))
            tray.update_menu()

    workers = [threading.Thread(target=hammer, args=(k,)) for k in range(4)]
    for w in workers:
        w.start()
    # meanwhile pystray's default action on the loop thread runs a menu action that calls show()
    icon.posted.put((0x9999, 0, 0))
    icon._message_handlers[0x9999] = lambda w, l: icon()
    settle(tray)
    assert actions.histories == 1
    for w in workers:
        w.join(WAIT)
        assert not w.is_alive()
    tray.show(state(error="ostatnie"))
    settle(tray)

    loop_thread = tray._thread.ident
    assert icon.calls, "nothing was applied"
    foreign = [c for c in icon.calls if c[1] != loop_thread]
    assert foreign == [], f"pystray called from other threads: {foreign[:5]}"
    under_lock = [c for c in icon.calls if c[2]]
    assert under_lock == [], f"pystray called with our lock held: {under_lock[:5]}"
    assert {"menu", "title", "icon"} <= {c[0] for c in icon.calls}
    # the last wish wins
    assert tray.look == "attention" and "błąd: ostatnie" in icon.title


def test_a_left_click_opens_the_menu_and_never_sends(started):
    tray, icon, api, actions = started
    icon.posted.put((WM_PYSTRAY_NOTIFY, 0, WM_LBUTTONUP))
    settle(tray)
    assert icon.clicks == [WM_RBUTTONUP]  # pystray saw a right click: the menu pops up
    assert actions.sent == 0
    menu_refreshes = [c for c in icon.calls if c[0] == "menu"]
    assert menu_refreshes  # rebuilt on the click: checkmarks show the real state


def test_the_default_item_is_history_not_send():
    tray, icon, api, actions = make_tray()
    items = {i.text: i for i in tray.menu.items if i is not pystray.Menu.SEPARATOR}
    assert items[MENU_HISTORY].default and not items[MENU_SEND].default
    icon()  # what pystray does on a click where the tray has no menu (xorg)
    assert actions.histories == 1 and actions.sent == 0


def test_balloons_wait_for_the_icon_and_a_failed_one_is_not_counted():
    tray, icon, api, actions = make_tray(balloon_ok=True)
    notifier = DesktopNotifier(tray.balloon, platform="win32", background=False)
    notifier.notify(Notification("raksbl nie jest skonfigurowany", "Kliknij prawym przyciskiem…", error=True))
    assert api.balloons == [] and notifier.sent == []  # not before the icon was added
    tray.start()
    try:
        assert tray.wait_visible(WAIT)
        settle(tray)
        assert [b[0] for b in api.balloons[:1]] == ["raksbl nie jest skonfigurowany"]
        assert api.balloons[0][2] == tray._thread.ident
        names = [c[0] for c in icon.calls]
        assert names.index("show") < names.index("balloon")  # NIM_ADD before the balloon
        assert [n.title for n in notifier.sent] == ["raksbl nie jest skonfigurowany"]

        api.balloon_ok = False  # Shell_NotifyIcon returned FALSE
        notifier.notify(Notification("Wysłano 2 dokumenty do BaseLinker", ""))
        settle(tray)
        assert [n.title for n in notifier.sent] == ["raksbl nie jest skonfigurowany"]
    finally:
        tray.stop()


# --- logging off / shutting down / the installer closing the agent -------------------------------


class WaitingRun:
    """A run that waits at its recovery point until the agent is told to stop."""

    def __init__(self):
        self.started = threading.Event()
        self.saw_cancel = False

    def __call__(self, settings, *, trigger, bus, cancel):
        self.started.set()
        if not cancel.wait(WAIT):
            raise AssertionError("never cancelled")
        self.saw_cancel = True
        raise Cancelled()


def test_logging_off_never_vetoes_and_stops_the_run_at_a_recovery_point(tmp_path, monkeypatch):
    monkeypatch.setenv("RAKSBL_DATA_DIR", str(tmp_path / "data"))
    cfg = tmp_path / "raksbl.toml"
    write_default_settings(cfg)
    update_settings(cfg, {"sync.auto": False})
    run = WaitingRun()
    holder = {}

    def tray_factory(actions):
        api = FakeWin32Api(lambda: holder["tray"].icon)
        holder["tray"] = TrayIcon(actions, platform="win32", icon_factory=FakeWin32Icon, win32_api=api)
        holder["api"] = api
        return holder["tray"]

    class Notes:
        def notify(self, n):
            return True

    app = TrayApp(cfg, run_fn=run, notifier=Notes(), ui=UiLoop(use_tk=False), tray_factory=tray_factory)
    app.create_tray()
    app.autosync.refresh_settings()
    handlers = app.tray.icon._message_handlers

    assert handlers[WM_QUERYENDSESSION](0, 0) == 1  # idle: allowed, no reason shown
    assert holder["api"].reasons == []

    assert app.autosync.run_now("manual")
    assert run.started.wait(WAIT)
    assert handlers[WM_QUERYENDSESSION](0, 0) == 1  # never vetoed (pystray would answer 0 = veto)
    assert holder["api"].reasons == [SHUTDOWN_REASON]
    assert app.autosync.state().running  # a cancelled logoff must not have stopped anything yet

    assert handlers[WM_ENDSESSION](1, 0) == 0
    # returned only after the run stopped at its recovery point
    assert run.saw_cancel and not app.autosync.state().running
    assert holder["api"].reasons == [SHUTDOWN_REASON, None]
    app.ui.drain()
    assert app.ui.finished  # and the agent closes like "Zakończ"


def test_end_session_with_false_wparam_changes_nothing():
    tray, icon, api, actions = make_tray()
    assert icon._message_handlers[WM_ENDSESSION](0, 0) == 0
    assert actions.ended == 0


def test_tray_module_names_every_message_it_handles():
    # the values pystray and Windows use (pystray._util.win32 cannot be imported off Windows)
    assert (tray_module.WM_USER, tray_module.WM_PYSTRAY_NOTIFY) == (0x400, 0x40B)
    assert (WM_QUERYENDSESSION, WM_ENDSESSION, WM_LBUTTONUP, WM_RBUTTONUP) == (0x11, 0x16, 0x202, 0x205)
    assert SimpleNamespace  # (imported for readers extending these fakes)


def test_a_polite_taskkill_quits_like_the_menu():
    tray, icon, api, actions = make_tray()
    quits = []
    actions.quit = lambda: quits.append(1)
    assert icon._message_handlers[tray_module.WM_CLOSE](0, 0) == 0
    assert quits == [1]


def test_the_agent_mutex_the_installer_waits_for():
    from ui.app import AGENT_MUTEX, hold_agent_mutex

    calls = []
    kernel32 = SimpleNamespace(CreateMutexW=lambda attrs, owner, name: calls.append(name) or 1234)
    assert hold_agent_mutex("win32", kernel32) == 1234 and calls == [AGENT_MUTEX]
    assert hold_agent_mutex("linux", kernel32) is None and calls == [AGENT_MUTEX]
    from pathlib import Path

    iss = Path(tray_module.__file__).resolve().parents[1] / "build" / "raksbl.iss"
    assert f"'{AGENT_MUTEX}'" in iss.read_text(encoding="utf-8-sig")  # the installer names the same mutex


def test_a_late_state_snapshot_never_leaves_a_stale_look(tmp_path, monkeypatch):
    """Threads publish state snapshots; one taken during a run may be delivered after the
    run's final one (seen in the e2e test: the tooltip stayed "trwa wysyłanie…" for good). The
    tray draws the state as it is when it draws, whatever snapshot arrived last."""
    import dataclasses

    from agent.autosync import StateChanged

    monkeypatch.setenv("RAKSBL_DATA_DIR", str(tmp_path / "data"))
    cfg = tmp_path / "raksbl.toml"
    write_default_settings(cfg)
    update_settings(cfg, {"sync.auto": True})

    def tray_factory(actions):
        holder = {}
        api = FakeWin32Api(lambda: holder["tray"].icon)
        holder["tray"] = TrayIcon(actions, platform="win32", icon_factory=FakeWin32Icon, win32_api=api)
        return holder["tray"]

    class Notes:
        def notify(self, n):
            return True

    app = TrayApp(cfg, run_fn=lambda *a, **k: None, notifier=Notes(), ui=UiLoop(use_tk=False),
                  tray_factory=tray_factory)
    app.create_tray()
    app.autosync.refresh_settings()
    app.tray.start()
    try:
        assert app.tray.wait_visible(WAIT)
        stale = dataclasses.replace(app.autosync.state(), running=True)  # taken during a run
        app._on_event(StateChanged(stale))  # ... and delivered after the run's last one
        settle(app.tray)
        assert app.tray.look == "idle"
        assert "trwa wysyłanie" not in app.tray.icon.title and "następna" in app.tray.icon.title
    finally:
        app.tray.stop()
