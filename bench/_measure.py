"""Run a command and report its CPU time and peak RSS (``python -m bench._measure OUT.json CMD...``).

Why a separate launcher: on Linux a child's ``ru_maxrss`` starts from the RSS of the process
that forked it (the high-water mark survives fork and exec), so measuring the agent directly
from the benchmark process (which holds the sandbox and its data) would report the benchmark's
own size. This launcher is a small fresh process: what it forks inherits only its ~10 MiB,
less than the agent ever uses, so ``wait4``'s ``ru_maxrss`` is the agent's own peak.
"""

import json
import os
import subprocess
import sys
import time


def main() -> int:
    out_path, cmd = sys.argv[1], sys.argv[2:]
    started = time.time()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    finished = time.time()
    code = os.waitstatus_to_exitcode(status)
    with open(out_path, "w", encoding="utf-8") as fh:
        json.dump({"returncode": code, "cpu": usage.ru_utime + usage.ru_stime, "maxrss": usage.ru_maxrss * 1024,
                   "started": started, "finished": finished}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
