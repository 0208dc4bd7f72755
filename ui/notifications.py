"""Show a :class:`~agent.notify_policy.Notification` on the desktop, never crashing.

* Windows: the tray icon's balloon, through :meth:`ui.tray.TrayIcon.balloon`: it waits until
  the icon is visible (a balloon sent before ``Shell_NotifyIcon(NIM_ADD)`` is silently lost), is
  shown by the tray thread, and counts as shown only when ``Shell_NotifyIcon`` succeeded.
* Linux and other freedesktop systems: ``notify-send`` if installed, else a ``gdbus call`` to
  ``org.freedesktop.Notifications``; with no notification daemon the call fails quietly (logged).

Delivery happens on a short-lived background thread: the caller (an event listener on the
export thread) never waits for D-Bus.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

from agent.notify_policy import APP_TITLE, BODY_MAX, TITLE_MAX, Notification
from agent.threads import start_daemon_thread

log = logging.getLogger(__name__)

TIMEOUT = 10.0
WIN_TITLE_MAX = TITLE_MAX  # NOTIFYICONDATAW.szInfoTitle / szInfo, without the terminator
WIN_BODY_MAX = BODY_MAX


def _gvariant_str(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return f"'{escaped}'"


Balloon = Callable[[str, str, Callable[[bool], None]], None]


class DesktopNotifier:
    """``notify(notification) -> bool``; ``balloon(title, body, done)`` asks the tray icon to show
    a balloon and calls ``done(shown)`` when it did (or could not)."""

    def __init__(
        self,
        balloon: Balloon | None = None,
        *,
        icon_path: Path | None = None,
        error_icon_path: Path | None = None,
        platform: str = sys.platform,
        runner: Callable[..., Any] = subprocess.run,
        which: Callable[[str], str | None] = shutil.which,
        background: bool = True,
    ):
        self._balloon = balloon
        self.icon_path = icon_path
        self.error_icon_path = error_icon_path or icon_path
        self.platform = platform
        self._run = runner
        self._which = which
        self.background = background
        self.sent: list[Notification] = []  # delivered ones, for the tray's own status and tests

    def notify(self, notification: Notification) -> bool:
        log.info("notification: %s | %s", notification.title, notification.body.replace("\n", " | "))
        if not self.background:
            return self._deliver(notification)
        start_daemon_thread(self._deliver, notification, name="raksbl-notify")
        return True

    def _deliver(self, n: Notification) -> bool:
        """True when shown, or handed to the tray icon (which records the result later)."""
        try:
            if self.platform != "win32" and self._via_freedesktop(n):
                self._record(n, True)
                return True
            return self._via_icon(n)
        except Exception:
            log.exception("showing a notification failed")
            self._record(n, False)
            return False

    def _record(self, n: Notification, shown: bool) -> None:
        if shown:
            self.sent.append(n)
        else:
            log.warning("notification not shown (no notification service?): %s", n.title)

    def _via_icon(self, n: Notification) -> bool:
        if self._balloon is None:
            self._record(n, False)
            return False
        body = n.body or n.title
        if len(body) > WIN_BODY_MAX:
            body = body[: WIN_BODY_MAX - 1] + "…"
        self._balloon(n.title[:WIN_TITLE_MAX], body, lambda shown: self._record(n, shown))
        return True

    def _via_freedesktop(self, n: Notification) -> bool:
        path = self.error_icon_path if n.error else self.icon_path
        icon = str(path) if path else ""
        notify_send = self._which("notify-send")
        if notify_send:
            cmd = [notify_send, f"--app-name={APP_TITLE}", f"--urgency={'critical' if n.error else 'normal'}"]
            if icon:
                cmd.append(f"--icon={icon}")
            cmd += ["--", n.title, n.body]
            if self._call(cmd):
                return True
        gdbus = self._which("gdbus")
        if gdbus:
            hints = "{'urgency': <byte 2>}" if n.error else "{'urgency': <byte 1>}"
            cmd = [
                gdbus, "call", "--session",
                "--dest", "org.freedesktop.Notifications",
                "--object-path", "/org/freedesktop/Notifications",
                "--method", "org.freedesktop.Notifications.Notify",
                _gvariant_str(APP_TITLE), "0", _gvariant_str(icon), _gvariant_str(n.title),
                _gvariant_str(n.body), "[]", hints, "-1",
            ]
            if self._call(cmd):
                return True
        return False

    def _call(self, cmd: list[str]) -> bool:
        try:
            result = self._run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("%s failed: %s", Path(cmd[0]).name, exc)
            return False
        if result.returncode != 0:
            log.warning("%s exited %s: %s", Path(cmd[0]).name, result.returncode, (result.stderr or "").strip()[:300])
            return False
        return True
