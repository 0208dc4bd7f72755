"""Single-instance lock: a second process is refused and told the PID of the first."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.instance import AlreadyRunning, InstanceLock, read_pid

ROOT = Path(__file__).resolve().parents[2]

HOLDER = textwrap.dedent(
    """
    import sys, time
    from agent.instance import InstanceLock
    lock = InstanceLock(sys.argv[1])
    lock.acquire()
    print("locked", flush=True)
    sys.stdin.readline()   # hold until the test closes stdin
    lock.release()
    """
)

TRY = textwrap.dedent(
    """
    import sys
    from agent.instance import AlreadyRunning, InstanceLock
    try:
        InstanceLock(sys.argv[1]).acquire()
    except AlreadyRunning as exc:
        print(exc.pid, exc.user_message)
        sys.exit(3)
    print("acquired")
    """
)


def _py(code, *args, **kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=env, text=True, **kw)


def test_second_process_is_refused_with_the_pid(tmp_path):
    path = tmp_path / "raksbl.lock"
    holder = _py(HOLDER, str(path), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert read_pid(path) == holder.pid
        second = _py(TRY, str(path), stdout=subprocess.PIPE)
        out, _ = second.communicate(timeout=30)
        assert second.returncode == 3
        assert out.startswith(f"{holder.pid} raksbl już działa (PID {holder.pid})")
        # and in this process too
        with pytest.raises(AlreadyRunning) as info:
            InstanceLock(path).acquire()
        assert info.value.pid == holder.pid
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    # the holder is gone: the lock is free again
    third = _py(TRY, str(path), stdout=subprocess.PIPE)
    out, _ = third.communicate(timeout=30)
    assert third.returncode == 0 and out.strip() == "acquired"


def test_lock_of_a_killed_process_is_not_stale(tmp_path):
    path = tmp_path / "raksbl.lock"
    holder = _py(HOLDER, str(path), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait(timeout=30)
    holder.stdin.close()
    with InstanceLock(path) as lock:
        assert lock.held and read_pid(path) == os.getpid()
    assert read_pid(path) is None  # released: the file names nobody


def test_acquire_release_in_process(tmp_path):
    lock = InstanceLock(tmp_path / "sub" / "x.lock")
    lock.acquire()
    lock.acquire()  # idempotent for the holder
    lock.release()
    lock.release()
    assert not lock.held
