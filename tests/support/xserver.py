"""A private desktop for UI tests: Xvfb on a free display, a D-Bus session, a tray, a notifier.

``XSession`` starts (each optional after Xvfb):

* ``Xvfb -displayfd`` - the server picks a free display number itself (no races with other
  test runs);
* a private ``dbus-daemon --session`` (notifications never reach the developer's desktop);
* ``trayer`` - a freedesktop system tray that pystray's ``xorg`` backend docks into;
* ``dunst -print`` - a notification daemon on that bus, logging each notification it receives
  (``summary: ...`` / ``body: ...``) to ``dunst.log``.

Everything is stopped (in reverse order) by :meth:`XSession.close`. ``XSession.env`` is the
environment a child process needs to use this desktop.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

REQUIRED = ("Xvfb", "trayer", "dunst", "dbus-daemon", "import", "xdotool")


def missing_tools() -> list[str]:
    return [tool for tool in REQUIRED if shutil.which(tool) is None]


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def start_xvfb(screen: str, err_path: Path) -> tuple[subprocess.Popen, str]:
    """Start Xvfb on a free display (it picks one and writes it to -displayfd); (process, ":N")."""
    read_fd, write_fd = os.pipe()
    try:
        with open(err_path, "w") as err:
            proc = subprocess.Popen(
                ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", screen, "-nolisten", "tcp", "-ac"],
                pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
            )
        os.close(write_fd)
        write_fd = -1
        data = b""
        deadline = time.monotonic() + 20
        while not data.endswith(b"\n"):
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(f"Xvfb did not start: {Path(err_path).read_text()}")
            chunk = os.read(read_fd, 64)
            if not chunk:
                break
            data += chunk
        return proc, f":{int(data.strip())}"
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)


class XSession:
    def __init__(self, workdir: Path, *, tray: bool = True, notifications: bool = True,
                 screen: str = "800x600x24"):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.screen = screen
        self.want_tray = tray
        self.want_notifications = notifications
        self.display: str | None = None
        self.dbus_address: str | None = None
        self.dunst_log = self.workdir / "dunst.log"
        self._procs: list[tuple[str, subprocess.Popen]] = []
        self._files: list = []

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> "XSession":
        try:
            self._start_xvfb()
            if self.want_notifications:
                self._start_dbus()
            if self.want_tray:
                self._start_trayer()
            if self.want_notifications:
                self._start_dunst()
        except BaseException:
            self.close()
            raise
        return self

    def __enter__(self) -> "XSession":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DISPLAY"] = self.display or ""
        if self.dbus_address:
            env["DBUS_SESSION_BUS_ADDRESS"] = self.dbus_address
        env.pop("WAYLAND_DISPLAY", None)
        return env

    def _spawn(self, name: str, cmd: list[str], **kw) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.err", "w")
        self._files.append(log)
        kw.setdefault("stdout", subprocess.DEVNULL)
        proc = subprocess.Popen(cmd, stderr=log, env=kw.pop("env", self.env), start_new_session=True, **kw)
        self._procs.append((name, proc))
        return proc

    def _start_xvfb(self) -> None:
        proc, self.display = start_xvfb(self.screen, self.workdir / "xvfb.err")
        self._procs.append(("Xvfb", proc))

    def _start_dbus(self) -> None:
        proc = self._spawn("dbus", ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                           stdout=subprocess.PIPE, text=True)
        line = proc.stdout.readline().strip()
        if not line:
            raise RuntimeError("dbus-daemon printed no address")
        self.dbus_address = line

    def _start_trayer(self) -> None:
        cmd = ["trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel", "--width", "200",
               "--height", "32", "--transparent", "false", "--tint", "0xffffff", "--SetDockType", "true"]
        proc = self._spawn("trayer", cmd)
        restarts = 0

        def owned() -> bool:
            nonlocal proc, restarts
            if self.tray_owner():
                return True
            if proc.poll() is not None and restarts < 2:  # trayer died while starting: once more
                restarts += 1
                proc = self._spawn(f"trayer-{restarts}", cmd)
            return False

        # a loaded machine (the full suite next to other sessions) once needed more than 20 s
        wait_for(owned, 60, what="trayer to own the system tray selection")

    def tray_owner(self) -> bool:
        """Whether a system tray owns the _NET_SYSTEM_TRAY_S0 selection on our display."""
        from Xlib import display as xdisplay

        try:
            d = xdisplay.Display(self.display)
        except Exception:
            return False
        try:
            atom = d.intern_atom("_NET_SYSTEM_TRAY_S0")
            return d.get_selection_owner(atom) != 0
        finally:
            d.close()

    def _start_dunst(self) -> None:
        out = open(self.dunst_log, "w")
        self._files.append(out)
        self._spawn("dunst", ["dunst", "-print"], stdout=out)

        def owned() -> bool:
            r = subprocess.run(
                ["dbus-send", "--session", "--dest=org.freedesktop.DBus", "--type=method_call", "--print-reply",
                 "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner",
                 "string:org.freedesktop.Notifications"],
                env=self.env, capture_output=True, text=True,
            )
            return "boolean true" in r.stdout

        wait_for(owned, 20, what="dunst to own org.freedesktop.Notifications")

    def close(self) -> None:
        for name, proc in reversed(self._procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except (ProcessLookupError, PermissionError):
                    proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)
        self._procs.clear()
        for f in self._files:
            f.close()
        self._files.clear()

    # ---------------------------------------------------------------- helpers

    def notifications(self) -> str:
        """Everything dunst logged so far."""
        return self.dunst_log.read_text(encoding="utf-8", errors="replace") if self.dunst_log.exists() else ""

    def screenshot(self, path: Path, window: str = "root") -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["import", "-window", window, str(path)], env=self.env, check=True, timeout=30)
        return path

    def tray_icons(self) -> list[int]:
        """X window ids of the icons docked in the tray (children of trayer's windows).

        Windows come and go while the tree is walked (an icon being docked is reparented, a
        dialog closes): one that vanished is skipped, so a poll never fails on that race."""
        from Xlib import display as xdisplay
        from Xlib.error import XError

        d = xdisplay.Display(self.display)
        try:
            owner = d.get_selection_owner(d.intern_atom("_NET_SYSTEM_TRAY_S0"))
            if not owner:
                return []
            found = []

            def walk(win, depth):
                try:
                    children = win.query_tree().children
                except XError:  # the window went away meanwhile (being docked, closed)
                    return
                for child in children:
                    try:
                        attrs = child.get_attributes()
                        geo = child.get_geometry()
                        name = child.get_wm_name() if attrs.map_state == 2 else None  # viewable
                    except XError:  # destroyed or reparented between query_tree and now
                        continue
                    if name and "raksbl" in name and 8 <= geo.width <= 64 and 8 <= geo.height <= 64:
                        found.append(child.id)
                    if depth < 6:
                        walk(child, depth + 1)

            walk(d.screen().root, 0)
            return found
        finally:
            d.close()

    def window_geometry(self, window_id: int) -> tuple[int, int, int, int]:
        """(x, y, width, height) of a window in root coordinates."""
        from Xlib import display as xdisplay

        d = xdisplay.Display(self.display)
        try:
            win = d.create_resource_object("window", window_id)
            geo = win.get_geometry()
            pos = win.translate_coords(d.screen().root, 0, 0)
            return (-pos.x, -pos.y, geo.width, geo.height)
        finally:
            d.close()
