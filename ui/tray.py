"""The pystray icon: menu (Polish labels), icon look and tooltip from the scheduler's state.

Nothing here decides anything: the menu calls a :class:`TrayActions` object (``ui.app.TrayApp``)
and the look is a function of :class:`agent.autosync.AutoSyncState`. Every callback pystray
calls (actions *and* ``checked`` getters) is wrapped by :func:`guarded`: an exception escaping a
callback would silently kill the tray thread.

pystray is imported lazily: importing it without a display raises (xorg backend), and tests set
``PYSTRAY_BACKEND=dummy`` before the first import.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import threading
import time
from typing import Any, Callable, Protocol

from agent.autosync import AutoSyncState
from agent.notify_policy import describe_summary
from ui.icons import load_icon

log = logging.getLogger(__name__)

MENU_SEND = "Wyślij faktury"
MENU_AUTO = "Automatyczna synchronizacja"
MENU_SETTINGS = "Ustawienia…"
MENU_HISTORY = "Historia…"
MENU_LOGS = "Otwórz folder logów"
MENU_AUTOSTART = "Uruchamiaj przy starcie systemu"
MENU_QUIT = "Zakończ"
MENU_LABELS = (MENU_SEND, MENU_AUTO, MENU_SETTINGS, MENU_HISTORY, MENU_LOGS, MENU_AUTOSTART, MENU_QUIT)

TOOLTIP_MAX = 127  # Windows NOTIFYICONDATA.szTip holds 128 characters with the terminator


class TrayActions(Protocol):
    def send_now(self) -> None: ...
    def auto_enabled(self) -> bool: ...
    def set_auto(self, enabled: bool) -> None: ...
    def open_settings(self) -> None: ...
    def open_history(self) -> None: ...
    def open_log_folder(self) -> None: ...
    def autostart_enabled(self) -> bool: ...
    def set_autostart(self, enabled: bool) -> None: ...
    def quit(self) -> None: ...


class guarded:
    """``fn`` with every exception logged and swallowed (``default`` returned instead).

    A class, not a closure: pystray counts a callable's ``__code__`` arguments to decide how to
    call it, and a ``*args`` wrapper would be called with none.
    """

    def __init__(self, fn: Callable[..., Any], what: str, default: Any = None):
        self.fn = fn
        self.what = what
        self.default = default

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.fn(*args, **kwargs)
        except Exception:
            log.exception("tray: %s failed", self.what)
            return self.default


def build_menu(actions: TrayActions) -> Any:
    """The tray menu; checkmarks are callables so they are re-read whenever the menu is built."""
    import pystray

    item = pystray.MenuItem

    def action(fn: Callable[[], None], what: str) -> Callable[[Any, Any], None]:
        return guarded(lambda icon, menu_item: fn(), what)

    def toggle(setter: Callable[[bool], None], what: str) -> Callable[[Any, Any], None]:
        return guarded(lambda icon, menu_item: setter(not menu_item.checked), what)

    def checked(getter: Callable[[], bool], what: str) -> Callable[[Any], bool]:
        return guarded(lambda menu_item: bool(getter()), what, default=False)

    return pystray.Menu(
        item(MENU_SEND, action(actions.send_now, "send now"), default=True),
        item(MENU_AUTO, toggle(actions.set_auto, "toggle auto sync"),
             checked=checked(actions.auto_enabled, "auto sync state")),
        pystray.Menu.SEPARATOR,
        item(MENU_SETTINGS, action(actions.open_settings, "open settings")),
        item(MENU_HISTORY, action(actions.open_history, "open history")),
        item(MENU_LOGS, action(actions.open_log_folder, "open log folder")),
        item(MENU_AUTOSTART, toggle(actions.set_autostart, "toggle autostart"),
             checked=checked(actions.autostart_enabled, "autostart state")),
        pystray.Menu.SEPARATOR,
        item(MENU_QUIT, action(actions.quit, "quit")),
    )


def icon_state(state: AutoSyncState) -> str:
    """Which of the four looks: sending > attention > paused > idle."""
    if state.running:
        return "sending"
    if not state.configured or state.needs_attention:
        return "attention"
    if state.paused:
        return "paused"
    return "idle"


def _hhmm(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch).strftime("%H:%M")


def tooltip(state: AutoSyncState, quitting: bool = False) -> str:
    """"raksbl – ostatnio 14:02: wysłano 5 · następna 14:03" (≤127 characters)."""
    if quitting:
        text = "raksbl – kończenie pracy…"
    elif not state.configured:
        text = "raksbl – nieskonfigurowany"
        if state.config_error and "Brak pliku" not in state.config_error:
            text += f": {state.config_error}"
    else:
        parts = []
        if state.running:
            parts.append("trwa wysyłanie…")
        if state.last_finished_at is not None:
            result = f"błąd: {state.last_error}" if state.last_error else describe_summary(state.last_summary)
            parts.append(f"ostatnio {_hhmm(state.last_finished_at)}: {result}")
        elif not state.running:
            parts.append("jeszcze nie wysyłano")
        if state.paused:
            parts.append("automatyczna synchronizacja wstrzymana")
        elif state.next_run_at is not None and not state.running:
            parts.append(f"następna {_hhmm(state.next_run_at)}")
        text = "raksbl – " + " · ".join(parts)
    if len(text) > TOOLTIP_MAX:
        text = text[: TOOLTIP_MAX - 1] + "…"
    return text


_ASCII_FOLD = str.maketrans({"ł": "l", "Ł": "L", "–": "-", "…": "...", "„": '"', "”": '"', "·": "|"})


def x11_safe_title(text: str) -> str:
    """The xorg backend writes WM_NAME as Latin-1: fold Polish letters and typography to ASCII."""
    import unicodedata

    folded = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    return "".join(c for c in folded if not unicodedata.combining(c)).encode("latin-1", "replace").decode("latin-1")


class TrayIcon:
    """Owns the pystray icon; :meth:`show` is safe to call from any thread."""

    def __init__(self, actions: TrayActions, *, name: str = "raksbl"):
        import pystray

        self._pystray = pystray
        self.menu = build_menu(actions)
        self.icon = pystray.Icon(name, load_icon("idle"), "raksbl", menu=self.menu)
        self.look = "idle"
        self.title = "raksbl"
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._refresh_menu_before_showing()

    @property
    def backend(self) -> str:
        return type(self.icon).__module__.rsplit("_", 1)[-1]

    def _refresh_menu_before_showing(self) -> None:
        # win32 builds the native menu once; rebuild it on each right click so the checkmarks
        # (start at login!) reflect the real state at the moment the menu opens.
        handlers = getattr(self.icon, "_message_handlers", None)
        if sys.platform != "win32" or not isinstance(handlers, dict):
            return
        try:
            from pystray._util import win32  # type: ignore[import-not-found]

            original = handlers[win32.WM_NOTIFY]

            def on_notify(wparam: Any, lparam: Any) -> Any:
                if lparam == win32.WM_RBUTTONUP:
                    guarded(self.icon.update_menu, "menu refresh")()
                return original(wparam, lparam)

            handlers[win32.WM_NOTIFY] = on_notify
        except Exception:
            log.exception("could not hook the menu refresh; checkmarks refresh after each action only")

    def show(self, state: AutoSyncState, quitting: bool = False) -> None:
        """Set the look and tooltip for ``state``; never raises (called from event listeners)."""
        look = icon_state(state)
        title = tooltip(state, quitting)
        if self.backend == "xorg":
            title = x11_safe_title(title)
        with self._lock:
            if look != self.look:
                self.look = look
                guarded(setattr, "icon image")(self.icon, "icon", load_icon(look))
            if title != self.title:
                self.title = title
                if self.icon.title == title:
                    # set before the icon was visible: pystray would skip an unchanged value
                    guarded(getattr(self.icon, "_update_title", lambda: None), "tooltip")()
                else:
                    guarded(setattr, "tooltip")(self.icon, "title", title)
        self.update_menu()

    def update_menu(self) -> None:
        if self._thread is not None:  # backends implement it only once the loop runs
            guarded(self.icon.update_menu, "menu update")()

    def start(self, on_visible: Callable[[], None] | None = None) -> None:
        """Run the icon's loop on its own thread (pystray's ``run`` works off the main thread
        on win32 and xorg; ``run_detached`` on xorg leaks a setup thread, so it is not used).
        ``on_visible`` runs once the icon is shown (to push the current look and tooltip: some
        backends ignore changes made before that)."""

        def setup(icon: Any) -> None:
            icon.visible = True
            guarded(self._enable_clicks_on_xorg, "xorg click events")()
            guarded(self._ensure_docked_on_xorg, "xorg docking")()
            if on_visible is not None:
                with self._lock:
                    self.look, self.title = "", ""
                guarded(on_visible, "first refresh")()

        self._thread = threading.Thread(target=self._run, args=(setup,), name="raksbl-tray", daemon=True)
        self._thread.start()

    def _run(self, setup: Callable[[Any], None]) -> None:
        try:
            self.icon.run(setup)
        except Exception:
            log.exception("the tray icon loop failed")

    def _enable_clicks_on_xorg(self) -> None:
        # pystray 0.19's xorg window does not select ButtonPress, so a click on the icon never
        # reaches the default action ("Wyślij faktury"); ask the X server for those events too.
        window = getattr(self.icon, "_window", None)
        display = getattr(self.icon, "_display", None)
        if self.backend != "xorg" or window is None or display is None:
            return
        import Xlib.X

        window.change_attributes(
            event_mask=Xlib.X.ExposureMask | Xlib.X.StructureNotifyMask | Xlib.X.ButtonPressMask
        )
        display.flush()

    def _ensure_docked_on_xorg(self, attempts: int = 6, wait: float = 1.0) -> bool:
        # pystray 0.19's xorg backend sometimes never docks (seen in 2 of 5 starts under trayer:
        # the icon window stays an unmapped 1x1 child of the root window and the icon is never
        # shown). Check through a connection of our own and ask again until the tray took it.
        window = getattr(self.icon, "_window", None)
        if self.backend != "xorg" or window is None:
            return True
        for attempt in range(attempts):
            time.sleep(wait)
            if self._docked_on_xorg(window.id):
                return True
            log.warning("tray icon not docked yet (attempt %d); asking the system tray again", attempt + 1)
            guarded(self.icon._show, "dock request")()  # pystray runs it on its own loop thread
        return self._docked_on_xorg(window.id)

    @staticmethod
    def _docked_on_xorg(window_id: int) -> bool:
        """Whether the icon window was reparented into a system tray (not a child of the root)."""
        from Xlib import display as xdisplay

        display = xdisplay.Display()
        try:
            tree = display.create_resource_object("window", window_id).query_tree()
            return tree.parent.id != display.screen().root.id
        finally:
            display.close()

    def stop(self, timeout: float = 5.0) -> None:
        guarded(self.icon.stop, "icon stop")()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def wait_visible(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if getattr(self.icon, "visible", False):
                return True
            time.sleep(0.05)
        return False
