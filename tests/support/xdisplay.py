"""One Xvfb for the in-process Tk tests (settings dialog, history window), kept for the whole run.

Tk never closes its connection to an X display once it opened one, and its event loop keeps
servicing it: if that Xvfb is stopped while the test process goes on, the next Tk call anywhere
dies with "XIO: fatal IO error". So in-process Tk tests share one Xvfb that lives as long as
this process: a small watchdog stops it when the test process is gone. (Tests that start the
agent as a separate process use :class:`tests.support.xserver.XSession` instead.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from tests.support.xserver import start_xvfb

_lock = threading.Lock()
_display: str | None = None

SCREEN = "1280x1024x24"


def missing() -> list[str]:
    return [tool for tool in ("Xvfb", "import") if shutil.which(tool) is None]


def shared_display() -> str:
    """The ``:N`` of this process's Xvfb (started on first use)."""
    global _display
    with _lock:
        if _display is not None:
            return _display
        err = tempfile.NamedTemporaryFile(prefix="raksbl-xvfb-", suffix=".err", delete=False)
        err.close()
        proc, display = start_xvfb(SCREEN, Path(err.name))
        # the watchdog: stop Xvfb once this process has exited (however it exits)
        subprocess.Popen(
            ["sh", "-c", f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 1; done; kill {proc.pid}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        _display = display
        return _display


def screenshot(window_id: str, path, display: str | None = None) -> None:
    """Save the X window ``window_id`` (e.g. ``toplevel.wm_frame()``) as PNG with ImageMagick."""
    env = dict(os.environ)
    if display:
        env["DISPLAY"] = display
    Path(path).parent.mkdir(parents=True, exist_ok=True)  # test-artifacts/ does not exist in a fresh clone
    result = subprocess.run(["import", "-window", window_id, str(path)], capture_output=True, text=True,
                            timeout=30, env=env)
    if result.returncode != 0:
        raise AssertionError(f"screenshot of window {window_id} on {env.get('DISPLAY')} failed: "
                             f"{result.stderr.strip() or result.stdout.strip()}")
