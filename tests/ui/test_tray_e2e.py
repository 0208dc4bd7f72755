"""End to end under a real X server: the tray agent as its own process, docked in ``trayer``,
exporting from a real Firebird company database to the BaseLinker sandbox over HTTP, telling
``dunst`` what happened. Screenshots of the docked icon go to ``test-artifacts/``.

The configured agent is started as ``python -m agent tray --config …`` (the real CLI); the
unconfigured first start calls ``ui.app.main`` directly.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.support.export_env import REPO_ROOT, TOKEN
from tests.support.xserver import wait_for
from ui.icons import COLOURS

pytestmark = [pytest.mark.ui, pytest.mark.slow]

ARTIFACTS = REPO_ROOT / "test-artifacts"


def start_tray(env, xsession, config: Path) -> subprocess.Popen:
    process_env = env.env
    process_env.update(
        DISPLAY=xsession.display,
        DBUS_SESSION_BUS_ADDRESS=xsession.dbus_address,
        PYSTRAY_BACKEND="xorg",
        XDG_CONFIG_HOME=str(env.tmp / "xdg"),
    )
    # `raksbl tray` as the user starts it (agent/cli.py calls ui.app.main(config))
    return subprocess.Popen([sys.executable, "-m", "agent", "tray", "--config", str(config)], cwd=REPO_ROOT,
                            env=process_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def icon_window(xsession) -> int:
    return wait_for(lambda: (xsession.tray_icons() or [None])[0], 30, what="the icon docked in trayer")


def window_name(xsession, window_id: int) -> str:
    out = subprocess.run(["xdotool", "getwindowname", str(window_id)], env=xsession.env, capture_output=True,
                         text=True)
    return out.stdout.strip()


def share_of_colour(shot: Path, box: tuple[int, int, int, int], colour: tuple[int, int, int]) -> float:
    """Fraction of the icon's pixels within a small distance of ``colour``."""
    x, y, w, h = box
    img = Image.open(shot).convert("RGB").crop((x, y, x + w, y + h))
    px = img.load()
    pixels = [px[i, j] for i in range(img.width) for j in range(img.height)]
    near = sum(1 for p in pixels if sum(abs(a - b) for a, b in zip(p, colour)) < 60)
    return near / len(pixels)


def screenshot_icon(xsession, window_id: int, name: str, state: str) -> Path:
    """Screenshot of the whole screen plus the tray area; asserts the icon shows ``state``'s look."""
    box = xsession.window_geometry(window_id)

    def shot_shows_state():
        path = xsession.screenshot(ARTIFACTS / f"{name}.png")
        return path if share_of_colour(path, box, COLOURS[state]) > 0.3 else None

    path = wait_for(shot_shows_state, 20, interval=0.5, what=f"the icon to look {state!r} in a screenshot")
    x, y, w, h = box
    Image.open(path).crop((max(0, x - 180), 0, x + w + 10, y + h + 4)).resize(
        ((w + 190) * 3, (y + h + 4) * 3), Image.NEAREST).save(ARTIFACTS / f"{name}-tray.png")
    return path


def db(env, method: str, *args, **kwargs):
    """``env.<method>(...)`` on the test's own database connection, reconnecting once if the shared
    Firebird server was restarted under it (other suites restart it to inject faults)."""
    import fdb

    try:
        return getattr(env, method)(*args, **kwargs)
    except fdb.DatabaseError:
        env._conn = None  # the old attachment is gone with the restarted server
        return wait_for(lambda: _try(env, method, *args, **kwargs), 30, interval=0.5,
                        what=f"the database ({method})")[0]


def _try(env, method, *args, **kwargs):
    import fdb

    try:
        return (getattr(env, method)(*args, **kwargs),)
    except fdb.DatabaseError:
        env._conn = None
        return None


def agent_log(env) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in sorted((env.data_dir / "logs").glob("raksbl-*.log")))


def count_runs(env) -> int:
    # "starting a run" is logged by the timer thread before the run starts, so a run begun just
    # before the count is never counted late (the run's own "N pending" line comes after connecting)
    return len(re.findall(r"starting a run \((auto|manual)\)", agent_log(env)))


def minutes_ahead(tooltip: str) -> int:
    """Minutes from now to the tooltip's "nastepna HH:MM" (-1 without one)."""
    import datetime as dt

    match = re.search(r"nastepna (\d\d):(\d\d)", tooltip)
    if not match:
        return -1
    now = dt.datetime.now()
    return (int(match[1]) * 60 + int(match[2]) - (now.hour * 60 + now.minute)) % (24 * 60)


def keep_logs(env, xsession, name: str) -> None:
    """Copy the agent's log and dunst's log next to the screenshots (for a failed run's reader)."""
    ARTIFACTS.mkdir(exist_ok=True)
    logs = sorted((env.data_dir / "logs").glob("raksbl-*.log")) if env is not None else []
    (ARTIFACTS / f"{name}-agent.log").write_text("".join(p.read_text(encoding="utf-8") for p in logs),
                                                 encoding="utf-8")
    (ARTIFACTS / f"{name}-dunst.log").write_text(xsession.notifications(), encoding="utf-8")


def test_tray_agent_exports_notifies_and_docks(xsession, tray_export_env):
    env = tray_export_env
    env.configure(sync__auto=True, sync__interval_seconds=10)
    fs_raks, fs_order = db(env, "add_doc", "FS")
    pa_raks, pa_order = db(env, "add_doc", "PA")

    tray = start_tray(env, xsession, env.settings_path)
    try:
        # --- the timer's first run sends both documents; one notification says so
        wait_for(lambda: env.documents("FS", fs_order) and env.documents("PA", pa_order), 60,
                 what="both documents in the sandbox")
        wait_for(lambda: "Wysłano 2 dokumenty do BaseLinker" in xsession.notifications(), 20,
                 what="the summary notification in dunst")
        assert db(env, "status", "FS", fs_raks) == env.settings().raks.status_after_send
        win = icon_window(xsession)
        wait_for(lambda: "ostatnio" in window_name(xsession, win), 10, what="the tooltip with the last run")
        name = window_name(xsession, win)
        assert "wyslano 2" in name and "nastepna" in name, name
        screenshot_icon(xsession, win, "tray-e2e-idle", "idle")

        # --- one more good and one bad document: the next timer run sends one, reports the other
        good_raks, good_order = db(env, "add_doc", "FS")
        bad_raks, _ = db(env, "add_doc", "FS", order_id=False)
        wait_for(lambda: env.documents("FS", good_order), 40, what="the third document in the sandbox")
        wait_for(lambda: "1 dokument nie został wysłany" in xsession.notifications(), 20,
                 what="the failure notification")
        log = xsession.notifications()
        # one run or two (the timer may fire between the two inserts): either way both are told
        assert "Wysłano 1 dokument do BaseLinker" in log
        assert "brak numeru zamówienia" in log
        screenshot_icon(xsession, win, "tray-e2e-attention", "attention")
        wait_for(lambda: "bledy 1" in window_name(xsession, win), 15, what="the tooltip to count the failure")

        # --- the same failure on the following timer runs is not notified again
        runs = count_runs(env)
        wait_for(lambda: count_runs(env) >= runs + 2, 40, what="two more timer runs")
        assert xsession.notifications().count("summary: '1 dokument nie został wysłany'") == 1

        # --- live interval change (no restart): the agent re-reads the changed file by itself
        # and the tooltip's next run moves an hour ahead (no waiting for an absence of runs)
        env.configure(sync__interval_seconds=3600)
        wait_for(lambda: "automatic sync interval changed to 3600 s" in agent_log(env), 30,
                 what="the agent to apply the new interval")
        wait_for(lambda: minutes_ahead(window_name(xsession, win)) >= 55, 30,
                 what="the tooltip's next run an hour ahead")

        # --- a left click never sends: it opens the history window (xorg trays have no menu)
        runs = count_runs(env)
        x, y, w, h = xsession.window_geometry(win)
        subprocess.run(["xdotool", "mousemove", str(x + w // 2), str(y + h // 2), "click", "1"],
                       env=xsession.env, check=True)
        history = wait_for(lambda: find_window(xsession, "Historia"), 30, what="the history window")
        subprocess.run(["xdotool", "windowclose", history], env=xsession.env, check=False, timeout=10)
        assert count_runs(env) == runs
        assert "starting a run (manual)" not in agent_log(env)

        # --- one agent per user: a second start names the running PID and exits 3
        second = start_tray(env, xsession, env.settings_path)
        out, err = second.communicate(timeout=60)
        assert second.returncode == 3, (out, err)
        assert f"PID {tray.pid}" in err
        assert tray.poll() is None

        # --- SIGTERM: a clean stop
        tray.send_signal(signal.SIGTERM)
        out, err = tray.communicate(timeout=60)
        assert tray.returncode == 0, err
    finally:
        if tray.poll() is None:
            tray.kill()
            tray.communicate()
        keep_logs(env, xsession, "tray-e2e")

    logs = "".join(p.read_text(encoding="utf-8") for p in (env.data_dir / "logs").glob("raksbl-*.log"))
    assert "tray agent stopped" in logs
    assert TOKEN not in logs and env.db.password not in logs
    assert bad_raks and good_raks  # (kept for the reader: both were real RaksSQL rows)


def find_window(xsession, title: str) -> str | None:
    """The id of a visible window whose title contains ``title`` (xdotool), or None."""
    out = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", title], env=xsession.env,
                         capture_output=True, text=True, timeout=10)
    ids = out.stdout.split()
    return ids[0] if ids else None


def test_unconfigured_first_start_says_so_and_runs_nothing(xsession, private_tmp):
    """No settings file: the icon docks with the attention look and tooltip "nieskonfigurowany",
    dunst gets the hint, the settings dialog opens by itself, and no timer runs; SIGTERM ends it
    with 0."""
    tmp_path = private_tmp
    data = tmp_path / "data"
    process_env = xsession.env
    process_env.update(RAKSBL_DATA_DIR=str(data), PYSTRAY_BACKEND="xorg", PYTHONPATH=str(REPO_ROOT))
    process_env.pop("RAKSBL_CONFIG", None)
    config = tmp_path / "missing.toml"
    code = f"import ui.app, sys; sys.exit(ui.app.main({str(config)!r}))"
    tray = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, env=process_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        win = icon_window(xsession)
        wait_for(lambda: "nieskonfigurowany" in window_name(xsession, win), 10, what="the unconfigured tooltip")
        wait_for(lambda: "raksbl nie jest skonfigurowany" in xsession.notifications(), 20, what="the hint")
        # the first start opens the settings dialog by itself; move it off the tray strip (this
        # X server has no window manager to place it) before looking at the icon
        dialog = wait_for(lambda: find_window(xsession, "Ustawienia"), 20, what="the settings dialog")
        subprocess.run(["xdotool", "windowmove", dialog, "0", "120"], env=xsession.env, check=True, timeout=10)
        screenshot_icon(xsession, win, "tray-e2e-unconfigured", "attention")
        tray.send_signal(signal.SIGTERM)
        out, err = tray.communicate(timeout=30)
        assert tray.returncode == 0, err
    finally:
        if tray.poll() is None:
            tray.kill()
            tray.communicate()
    assert not config.exists()  # nothing was written behind the user's back
    assert not (data / "journal.sqlite3").exists()  # and no run happened
    os.environ.get("DISPLAY")  # the developer's own display was never touched (xsession.env is private)
