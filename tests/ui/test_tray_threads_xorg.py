"""16.8 on the real backend: pystray's xorg icon docked in trayer under Xvfb, its state changed
from four threads at once while the icon is clicked (the click runs a menu action on pystray's
loop thread that changes the state too). Every call into the icon must come from the tray
thread, none with our lock held, and nothing may hang: the old code deadlocked here (our lock
held by a thread waiting for the loop thread, the loop thread waiting for our lock).

pystray picks its backend at import, and the unit tests import it with the dummy backend, so
the icon lives in a child process (the real ``ui.tray.TrayIcon``), which reports as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.export_env import REPO_ROOT
from tests.support.xserver import wait_for

pytestmark = pytest.mark.ui

CHILD = r'''
import json, os, sys, threading
os.environ["PYSTRAY_BACKEND"] = "xorg"
from agent.autosync import AutoSyncState
from ui.tray import TrayIcon

def state(i):
    return AutoSyncState(configured=True, config_error=None, paused=i % 5 == 0, running=i % 2 == 0,
                         trigger=None, interval_seconds=60, next_run_at=None, last_summary=None,
                         last_error="x" if i % 3 == 0 else None, last_finished_at=1e9)

class Actions:
    clicks = 0
    def open_history(self):
        Actions.clicks += 1
        tray.show(state(Actions.clicks))  # from pystray's loop thread, as a real action would
        clicked.set()
    def __getattr__(self, name):
        return lambda *a: False

clicked = threading.Event()
tray = TrayIcon(Actions())
calls = []
for name in ("_update_icon", "_update_title", "_show", "update_menu", "_draw", "_dock_window"):
    original = getattr(tray.icon, name)
    def wrapper(*a, _original=original, _name=name, **k):
        calls.append((_name, threading.get_ident(), tray._lock.locked()))
        return _original(*a, **k)
    setattr(tray.icon, name, wrapper)
tray.start()
assert tray.wait_visible(30), "not visible"
print("WINDOW", tray.icon._window.id, flush=True)

def hammer(k):
    for i in range(150):
        tray.show(state(i + k))
        tray.update_menu()

workers = [threading.Thread(target=hammer, args=(k,)) for k in range(4)]
for w in workers:
    w.start()
assert sys.stdin.readline().strip() == "clicked"  # the test clicked while the workers ran
for w in workers:
    w.join(60)
assert not any(w.is_alive() for w in workers), "a thread hung in show()"
assert clicked.wait(60), "the click never reached the action"
done = threading.Event()
tray.balloon("t", "b", lambda shown: done.set())  # applied after everything asked before
assert done.wait(60), "the tray thread never applied the last wish"
loop = tray._thread.ident
print("RESULT", json.dumps({
    "calls": len(calls),
    "foreign": [c[0] for c in calls if c[1] != loop],
    "under_lock": [c[0] for c in calls if c[2]],
    "clicks": Actions.clicks,
    "draws": sum(1 for c in calls if c[0] == "_draw"),
    "dock_requests": sum(1 for c in calls if c[0] == "_dock_window"),
}), flush=True)
tray.stop()
'''


def test_xorg_icon_is_only_touched_by_its_thread_and_never_hangs(xsession):
    env = xsession.env
    env.update(PYTHONPATH=str(REPO_ROOT))
    child = subprocess.Popen([sys.executable, "-c", CHILD], cwd=REPO_ROOT, env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        assert line.startswith("WINDOW"), line + child.stderr.read()
        try:
            window = wait_for(lambda: (xsession.tray_icons() or [None])[0], 30, what="the icon docked in trayer")
        except AssertionError as exc:
            child.kill()
            raise AssertionError(f"{exc}\n{child.communicate()[1]}") from None
        x, y, w, h = xsession.window_geometry(window)
        for _ in range(3):
            subprocess.run(["xdotool", "mousemove", str(x + w // 2), str(y + h // 2), "click", "1"],
                           env=xsession.env, check=True, timeout=10)
        child.stdin.write("clicked\n")
        child.stdin.flush()
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, err
    result = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT"))[len("RESULT "):])
    assert result["clicks"] >= 1
    assert result["calls"] > 0
    assert result["foreign"] == [], result
    assert result["under_lock"] == [], result
    # the look changed many times; the tray was asked to dock only when showing (and when a
    # retry found it undocked), never once per image change
    assert result["draws"] >= 3, result
    assert result["dock_requests"] <= 1 + 6, result
