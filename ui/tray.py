"""The pystray icon: menu (Polish labels), icon look and tooltip from the scheduler's state.

Threading: **only the tray thread (pystray's loop) calls into pystray** once the loop runs.
Other threads record what they want shown (look, tooltip, menu refresh, balloons) under a small
lock and *poke* the tray thread (win32: a posted window message; xorg: a ClientMessage to the
icon window); the tray thread applies the latest wish. The lock is never held across a call into
pystray: pystray's xorg backend blocks a foreign thread until its loop thread has run the call,
so holding our lock there deadlocked the agent whenever the loop thread itself needed the lock
(a click handler, a state change). win32's ``update_menu`` is not thread-safe (pystray #60).

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
from agent.threads import daemon_thread
from ui.icons import load_icon

log = logging.getLogger(__name__)

MENU_SEND = "Wyślij faktury"
MENU_SEND_COMPANY = "Wyślij dla firmy"  # a submenu of the companies, shown when there are several
MENU_AUTO = "Automatyczna synchronizacja"
MENU_SETTINGS = "Ustawienia…"
MENU_HISTORY = "Historia…"
MENU_LOGS = "Otwórz folder logów"
MENU_AUTOSTART = "Uruchamiaj przy starcie systemu"
MENU_QUIT = "Zakończ"
MENU_LABELS = (MENU_SEND, MENU_AUTO, MENU_SETTINGS, MENU_HISTORY, MENU_LOGS, MENU_AUTOSTART, MENU_QUIT)

TOOLTIP_MAX = 127  # Windows NOTIFYICONDATA.szTip holds 128 characters with the terminator


class TrayActions(Protocol):
    def send_now(self, company: str | None = None) -> None: ...
    def company_names(self) -> tuple[str, ...]: ...
    def auto_enabled(self) -> bool: ...
    def set_auto(self, enabled: bool) -> None: ...
    def open_settings(self) -> None: ...
    def open_history(self) -> None: ...
    def open_log_folder(self) -> None: ...
    def autostart_enabled(self) -> bool: ...
    def set_autostart(self, enabled: bool) -> None: ...
    def quit(self) -> None: ...
    def session_ending(self) -> bool: ...
    def end_session(self) -> None: ...


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

    names = guarded(lambda: tuple(actions.company_names()), "company names", default=())

    def company_items() -> list[Any]:
        # read whenever the menu is built: a company added to the settings file shows up at once
        return [item(name, action(lambda name=name: actions.send_now(name), f"send now for {name}"))
                for name in names()]

    return pystray.Menu(
        # A send must be deliberate: no default item sends. "Historia…" is the default (what a
        # left click opens where the tray has no menu; on Windows a left click opens the menu).
        item(MENU_SEND, action(actions.send_now, "send now")),
        item(MENU_SEND_COMPANY, pystray.Menu(company_items), visible=lambda menu_item: len(names()) > 1),
        item(MENU_AUTO, toggle(actions.set_auto, "toggle auto sync"),
             checked=checked(actions.auto_enabled, "auto sync state")),
        pystray.Menu.SEPARATOR,
        item(MENU_SETTINGS, action(actions.open_settings, "open settings")),
        item(MENU_HISTORY, action(actions.open_history, "open history"), default=True),
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
    """"raksbl – ostatnio 14:02: wysłano 5 · następna 14:03" (≤127 characters); several
    companies: "ostatnio 14:02: sklep-a: wysłano 3; sklep-b: wysłano 0, przerwano · następna 14:03"
    (the last run's part is the one shortened, so the next run's time always shows)."""
    if quitting:
        text = "raksbl – kończenie pracy…"
    elif not state.configured:
        text = "raksbl – nieskonfigurowany"
        if state.config_error and "Brak pliku" not in state.config_error:
            text += f": {state.config_error}"
    else:
        before, last, after = [], "", []
        if state.running:
            company = getattr(state, "company", None)
            before.append(f"trwa wysyłanie ({company})…" if company else "trwa wysyłanie…")
        if state.last_finished_at is not None:
            result = f"błąd: {state.last_error}" if state.last_error else describe_summary(state.last_summary)
            last = f"ostatnio {_hhmm(state.last_finished_at)}: {result}"
        elif not state.running:
            before.append("jeszcze nie wysyłano")
        if state.paused:
            after.append("automatyczna synchronizacja wstrzymana")
        elif state.next_run_at is not None and not state.running:
            after.append(f"następna {_hhmm(state.next_run_at)}")
        if last:
            fixed = len("raksbl – " + " · ".join(before + ["", *after]))
            room = TOOLTIP_MAX - fixed
            if len(last) > room and room >= 20:
                last = last[: room - 1] + "…"
        text = "raksbl – " + " · ".join(before + ([last] if last else []) + after)
    if len(text) > TOOLTIP_MAX:
        text = text[: TOOLTIP_MAX - 1] + "…"
    return text


_ASCII_FOLD = str.maketrans({"ł": "l", "Ł": "L", "–": "-", "…": "...", "„": '"', "”": '"', "·": "|"})


def x11_safe_title(text: str) -> str:
    """The xorg backend writes WM_NAME as Latin-1: fold Polish letters and typography to ASCII."""
    import unicodedata

    folded = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    return "".join(c for c in folded if not unicodedata.combining(c)).encode("latin-1", "replace").decode("latin-1")


# Windows messages and calls used directly (pystray._util.win32 needs ctypes.windll: lazy).
WM_CLOSE = 0x0010
WM_QUERYENDSESSION = 0x0011
WM_ENDSESSION = 0x0016
WM_LBUTTONUP = 0x0202
WM_RBUTTONUP = 0x0205
WM_USER = 0x0400
WM_PYSTRAY_NOTIFY = WM_USER + 11  # pystray._util.win32.WM_NOTIFY: the icon's callback message
WM_RAKSBL_APPLY = WM_USER + 42  # ours: "apply the pending look/tooltip/menu/balloons"
SHUTDOWN_REASON = "raksbl kończy wysyłanie dokumentu do BaseLinker…"


class Win32Api:
    """The few user32/shell32 calls the tray makes itself (tests pass a fake)."""

    def post_message(self, hwnd: Any, msg: int) -> bool:
        import ctypes

        return bool(ctypes.windll.user32.PostMessageW(hwnd, msg, 0, 0))

    def balloon(self, icon: Any, title: str, body: str) -> bool:
        """pystray's ``Icon._notify`` with the result checked: ``Shell_NotifyIconW`` returns FALSE
        when the balloon was not shown (icon not added yet, explorer restarting), and pystray
        ignores that."""
        import ctypes

        from pystray._util import win32  # type: ignore[import-not-found]

        data = win32.NOTIFYICONDATAW(cbSize=ctypes.sizeof(win32.NOTIFYICONDATAW), hWnd=icon._hwnd, hID=id(icon),
                                     uFlags=win32.NIF_INFO, szInfo=body, szInfoTitle=title)
        return bool(win32.Shell_NotifyIcon(win32.NIM_MODIFY, data))

    def block_shutdown(self, hwnd: Any, reason: str | None) -> None:
        import ctypes

        user32 = ctypes.windll.user32
        if reason is None:
            user32.ShutdownBlockReasonDestroy(hwnd)
        else:
            user32.ShutdownBlockReasonCreate(hwnd, ctypes.c_wchar_p(reason))


class TrayIcon:
    """Owns the pystray icon. :meth:`show`, :meth:`update_menu` and :meth:`balloon` are safe from
    any thread and never block on pystray."""

    def __init__(self, actions: TrayActions, *, name: str = "raksbl", platform: str = sys.platform,
                 icon_factory: Callable[..., Any] | None = None, win32_api: Any = None):
        import pystray

        self._pystray = pystray
        self.actions = actions
        self.platform = platform
        self.menu = build_menu(actions)
        self.icon = (icon_factory or pystray.Icon)(name, load_icon("idle"), "raksbl", menu=self.menu)
        self.win32 = win32_api or Win32Api()
        # What is on screen (written by whoever applies, read by tests).
        self.look = "idle"
        self.title = "raksbl"
        # Guards the wishes below; never held across a call into pystray.
        self._lock = threading.Lock()
        self._want_look = "idle"
        self._want_title = "raksbl"
        self._want_visible = False
        self._menu_dirty = False
        self._force = False
        self._balloons: list[tuple[str, str, Callable[[bool], None]]] = []
        self._dock_again = False
        self._applying = False
        self._poke: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None
        self._tray_ident: int | None = None
        self.visible_event = threading.Event()
        self._xorg_atom: Any = None
        # () -> (state, quitting), read by whoever applies (the tray thread): the icon always
        # shows the state as it is when drawn, never a snapshot that arrived late
        self.state_provider: Callable[[], tuple[AutoSyncState, bool]] | None = None
        self._state_dirty = False
        self._install_hooks()

    @property
    def backend(self) -> str:
        return type(self.icon).__module__.rsplit("_", 1)[-1]

    @property
    def _marshalled(self) -> bool:
        """Backends whose calls we route to the tray thread (the others are applied in place)."""
        return self.backend in ("win32", "xorg")

    # ---------------------------------------------------------------- hooks into the backend

    def _install_hooks(self) -> None:
        handlers = getattr(self.icon, "_message_handlers", None)
        if not isinstance(handlers, dict):
            return
        try:
            if self.platform == "win32" and self.backend == "win32":
                self._hook_win32(handlers)
            elif self.backend == "xorg":
                self._hook_xorg(handlers)
        except Exception:
            log.exception("could not hook the tray icon's message loop")

    def _hook_win32(self, handlers: dict) -> None:
        original_notify = handlers.get(WM_PYSTRAY_NOTIFY)

        def on_notify(wparam: Any, lparam: Any) -> Any:
            if lparam in (WM_LBUTTONUP, WM_RBUTTONUP):
                # Rebuild the menu so the checkmarks (start at login!) show the real state now,
                # and open it on a left click too: a click must never send anything by itself.
                guarded(self.icon.update_menu, "menu refresh")()
                lparam = WM_RBUTTONUP
            return original_notify(wparam, lparam) if original_notify else 0

        def on_apply(wparam: Any, lparam: Any) -> int:
            self._apply()
            return 0

        def on_query_end_session(wparam: Any, lparam: Any) -> int:
            # pystray answers unknown messages with 0, which would *veto* logging off.
            busy = guarded(self.actions.session_ending, "session ending", default=False)()
            if busy:
                guarded(self.win32.block_shutdown, "shutdown block reason")(self.icon._hwnd, SHUTDOWN_REASON)
            return 1

        def on_end_session(wparam: Any, lparam: Any) -> int:
            if wparam:  # the session really ends (or the installer's Restart Manager closes us)
                guarded(self.actions.end_session, "end session")()
                guarded(self.win32.block_shutdown, "shutdown block reason")(self.icon._hwnd, None)
            return 0

        def on_close(wparam: Any, lparam: Any) -> int:
            # `taskkill /IM raksbl.exe` (no /F; the installer's polite stop) posts WM_CLOSE:
            # quit like "Zakończ" (the run stops at a recovery point); pystray ignored it
            log.info("WM_CLOSE received: quitting")
            guarded(self.actions.quit, "quit on WM_CLOSE")()
            return 0

        handlers[WM_CLOSE] = on_close
        handlers[WM_PYSTRAY_NOTIFY] = on_notify
        handlers[WM_RAKSBL_APPLY] = on_apply
        handlers[WM_QUERYENDSESSION] = on_query_end_session
        handlers[WM_ENDSESSION] = on_end_session

    def _hook_xorg(self, handlers: dict) -> None:
        import Xlib.X

        self._xorg_atom = self.icon._display.intern_atom("_RAKSBL_APPLY")
        original = handlers.get(Xlib.X.ClientMessage)

        def on_client_message(event: Any) -> None:
            if event.client_type == self._xorg_atom:
                self._apply()
            elif original is not None:
                original(event)

        handlers[Xlib.X.ClientMessage] = on_client_message

    def _make_poke(self) -> Callable[[], None] | None:
        if self.backend == "win32":
            hwnd = self.icon._hwnd
            return lambda: self.win32.post_message(hwnd, WM_RAKSBL_APPLY) or None
        if self.backend == "xorg":
            icon = self.icon

            def poke() -> None:
                icon._send_message(icon._window, self._xorg_atom)
                icon._display.flush()

            return poke
        return None

    # ---------------------------------------------------------------- wishes (any thread)

    def show(self, state: AutoSyncState, quitting: bool = False) -> None:
        """Show ``state`` (look and tooltip); never raises, never blocks on pystray."""
        self._wish(state, quitting)
        with self._lock:
            self._menu_dirty = True
        self._request()

    def _wish(self, state: AutoSyncState, quitting: bool) -> None:
        """Record the look and tooltip ``state`` asks for (drawn on the tray thread)."""
        look = icon_state(state)
        title = tooltip(state, quitting)
        if self.backend == "xorg":
            title = x11_safe_title(title)
        with self._lock:
            self._want_look, self._want_title = look, title

    def refresh(self) -> None:
        """Show the current state from :attr:`state_provider` (read when the tray thread draws:
        threads publishing snapshots in a different order than they took them cannot leave a
        stale look, e.g. "trwa wysyłanie" after the run ended)."""
        with self._lock:
            self._state_dirty = True
            self._menu_dirty = True
        self._request()

    def _wish_from_provider(self) -> None:
        provider = self.state_provider
        if provider is None:
            return
        self._wish(*provider())

    def update_menu(self) -> None:
        """Rebuild the native menu (checkmarks) on the tray thread."""
        with self._lock:
            self._menu_dirty = True
        self._request()

    def balloon(self, title: str, body: str, done: Callable[[bool], None]) -> None:
        """A notification from the icon itself, shown once the icon is visible; ``done(shown)``
        tells whether it was really shown."""
        with self._lock:
            self._balloons.append((title, body, done))
        self._request()

    def _request(self) -> None:
        if self._tray_ident is not None and threading.get_ident() == self._tray_ident:
            self._apply()
            return
        poke = self._poke
        if poke is not None:
            guarded(poke, "tray poke")()
        elif not self._marshalled or self._thread is None:
            # a backend without a loop of ours to post to (or before the loop starts): apply here,
            # one applier at a time (pystray shows nothing before ``visible``)
            self._apply()
        # else: the loop is starting; setup pokes it once the icon is up

    # ---------------------------------------------------------------- applying (tray thread)

    def _apply(self) -> None:
        with self._lock:
            if self._applying:
                return  # the running applier loops until nothing is pending
            self._applying = True
        try:
            while True:
                with self._lock:
                    from_provider, self._state_dirty = self._state_dirty, False
                if from_provider:
                    guarded(self._wish_from_provider, "current state")()  # outside our lock
                with self._lock:
                    look, title, menu, force = self._want_look, self._want_title, self._menu_dirty, self._force
                    visible = self._want_visible
                    running = self._thread is not None
                    shown = bool(getattr(self.icon, "visible", False))
                    balloons = self._balloons if (shown or (visible and running) or not self._marshalled) else []
                    if balloons:
                        self._balloons = []
                    dock, self._dock_again = self._dock_again, False
                    self._menu_dirty = self._force = False
                    if look == self.look and title == self.title and not menu and not force and not balloons \
                            and not dock and not self._state_dirty \
                            and (not visible or getattr(self.icon, "visible", False)):
                        self._applying = False
                        return
                if dock:
                    guarded(self.icon._show, "dock request")()  # on the loop thread: runs directly
                self._apply_once(look, title, menu, force, visible, running, balloons)
        except BaseException:
            with self._lock:
                self._applying = False
            raise

    def _apply_once(self, look: str, title: str, menu: bool, force: bool, visible: bool, running: bool,
                    balloons: list) -> None:
        if visible and not getattr(self.icon, "visible", False):
            ok = guarded(setattr, "show icon", default=False)(self.icon, "visible", True)
            shown = bool(getattr(self.icon, "visible", False))
            if not shown:
                log.error("the tray icon could not be shown (%s)", ok)
                with self._lock:
                    self._want_visible = False  # do not retry in a loop; setup reports it
            else:
                guarded(self._enable_clicks_on_xorg, "xorg click events")()
                self.visible_event.set()
            force = True
        if look != self.look or force:
            self.look = look
            guarded(self._set_image, "icon image")(load_icon(look))
        if title != self.title or force:
            self.title = title
            if self.icon.title == title:
                # set before the icon was visible: pystray would skip an unchanged value
                if getattr(self.icon, "visible", False):
                    guarded(getattr(self.icon, "_update_title", lambda: None), "tooltip")()
            else:
                guarded(setattr, "tooltip")(self.icon, "title", title)
        if menu and running:  # backends implement update_menu only once the loop runs
            guarded(self.icon.update_menu, "menu update")()
        for title_, body, done in balloons:
            shown = guarded(self._show_balloon, "balloon", default=False)(title_, body)
            guarded(done, "balloon result")(bool(shown))

    def _set_image(self, image: Any) -> None:
        icon = self.icon
        if self.backend == "xorg" and getattr(icon, "visible", False):
            # pystray's xorg _update_icon sends the tray a new dock request on every image change;
            # trayer, asked again and again while the look changes, sometimes leaves the icon
            # unmapped. Redraw the docked window instead (what _update_icon does after docking).
            icon._icon = image
            icon._icon_data = None
            icon._draw()
            icon._icon_valid = True
            return
        icon.icon = image

    def _show_balloon(self, title: str, body: str) -> bool:
        if self.backend == "win32":
            return self.win32.balloon(self.icon, title, body)
        if not getattr(self.icon, "HAS_NOTIFICATION", False) or not getattr(self.icon, "visible", False):
            return False
        self.icon.notify(body, title)
        return True

    # ---------------------------------------------------------------- loop

    def start(self, on_visible: Callable[[], None] | None = None) -> None:
        """Run the icon's loop on its own thread (pystray's ``run`` works off the main thread
        on win32 and xorg; ``run_detached`` on xorg leaks a setup thread, so it is not used).
        The icon is made visible *by the tray thread*; ``on_visible`` runs after that (on
        pystray's setup thread)."""

        def setup(icon: Any) -> None:
            with self._lock:
                self._want_visible = True
                self._force = True
            self._poke = guarded(self._make_poke, "tray poke setup")() if self._marshalled else None
            self._request()
            if not self.visible_event.wait(30):
                log.error("the tray icon did not become visible")
                return
            guarded(self._ensure_docked_on_xorg, "xorg docking")()
            if on_visible is not None:
                guarded(on_visible, "first refresh")()

        thread = daemon_thread(self._run, setup, name="raksbl-tray")  # recorded before it runs
        with self._lock:
            self._thread = thread
        thread.start()
        self._tray_ident = thread.ident  # pystray's loop runs on this thread (Icon.run -> _run)

    def _run(self, setup: Callable[[Any], None]) -> None:
        try:
            self.icon.run(setup)
        except Exception:
            log.exception("the tray icon loop failed")

    def _enable_clicks_on_xorg(self) -> None:
        # (tray thread, once the icon is shown) pystray 0.19's xorg window does not select ButtonPress, so a click on the icon never
        # reaches the default action ("Historia…"); ask the X server for those events too.
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
        # (This runs on pystray's setup thread; only the check uses X here, through its own
        # connection: the request itself is made by the tray thread.)
        window = getattr(self.icon, "_window", None)
        if self.backend != "xorg" or window is None:
            return True
        for attempt in range(attempts):
            if self._docked_on_xorg(window.id):
                return True
            time.sleep(wait)
            if self._docked_on_xorg(window.id):
                return True
            log.warning("tray icon not docked yet (attempt %d); asking the system tray again", attempt + 1)
            with self._lock:
                self._dock_again = True  # the tray thread asks (pystray's _show)
            self._request()
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
        self._poke = None
        guarded(self.icon.stop, "icon stop")()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def wait_visible(self, timeout: float = 10.0) -> bool:
        return self.visible_event.wait(timeout)
