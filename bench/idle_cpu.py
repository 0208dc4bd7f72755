"""Idle CPU of the tray agent: how much CPU the agent burns while it has nothing to do.

    .venv/bin/python -m bench.idle_cpu                 # 60 s settle + 120 s measured, configured, auto off
    .venv/bin/python -m bench.idle_cpu --seconds 300 --auto   # auto sync on (interval 3600 s)

In a temporary directory: a private X desktop (Xvfb + trayer, as the UI tests use) and the real
tray agent (``python -m agent tray --config ...``) with a valid settings file. After it docked
and settled, the agent's user+system CPU time (``psutil``, all its threads) is sampled at the
start and the end of the window; the figure is that difference / wall time, in percent of one
core. The target (issue 16, "Quiet") is <= 0.1 %. Wake-ups are the voluntary context switches
of all its threads over the same window (/proc/<pid>/task/*/status).

Needs the test tools (``scripts/bootstrap.sh test``). Not a test: figures go to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.xserver import XSession, wait_for  # noqa: E402


def wakeups(pid: int) -> int:
    """Voluntary context switches of all the process's threads (Linux /proc; 0 elsewhere)."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            for line in status.read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
        except OSError:
            pass  # a thread ended meanwhile
    return total


def measure(seconds: float, settle: float, auto: bool) -> dict:
    from agent.settings import update_settings, write_default_settings

    with tempfile.TemporaryDirectory(prefix="raksbl-idle-") as tmp:
        tmp_path = Path(tmp)
        cfg = tmp_path / "raksbl.toml"
        write_default_settings(cfg)
        update_settings(cfg, {"sync.auto": auto, "sync.interval_seconds": 3600})
        with XSession(tmp_path / "x", notifications=False) as xs:
            env = xs.env
            env.update(RAKSBL_DATA_DIR=str(tmp_path / "data"), PYSTRAY_BACKEND="xorg",
                       XDG_CONFIG_HOME=str(tmp_path / "xdg"), PYTHONPATH=str(REPO))
            proc = subprocess.Popen([sys.executable, "-m", "agent", "tray", "--config", str(cfg)], cwd=REPO, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_for(lambda: xs.tray_icons(), 60, what="the icon docked in trayer")
                time.sleep(settle)
                p = psutil.Process(proc.pid)
                c0, s0, t0 = p.cpu_times(), wakeups(proc.pid), time.monotonic()
                time.sleep(seconds)
                c1, s1, t1 = p.cpu_times(), wakeups(proc.pid), time.monotonic()
                threads = p.num_threads()
            finally:
                proc.terminate()
                proc.wait(60)
    cpu = (c1.user - c0.user) + (c1.system - c0.system)
    wall = t1 - t0
    return {
        "seconds": round(wall, 1),
        "auto_sync": auto,
        "cpu_seconds": round(cpu, 3),
        "cpu_percent_of_one_core": round(100.0 * cpu / wall, 3),
        "wakeups_per_second": round((s1 - s0) / wall, 1),
        "threads": threads,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=120.0, help="measured window (default 120)")
    parser.add_argument("--settle", type=float, default=60.0, help="wait after docking first (default 60)")
    parser.add_argument("--auto", action="store_true", help="automatic sync on (interval 3600 s)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    result = measure(args.seconds, args.settle, args.auto)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
