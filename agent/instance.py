"""One agent per user: an OS file lock in the data dir that names the process holding it.

The lock is taken with ``flock`` (POSIX) or ``msvcrt.locking`` (Windows) on
``<data dir>/raksbl.lock``; the OS drops it when the process dies, so a crash never leaves a
stale lock behind. The holder writes its PID at the start of the file; on Windows the locked
byte lies far past that text so a second process can still read who is running.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from agent.errors import RaksblError

LOCK_FILE = "raksbl.lock"
_WIN_LOCK_OFFSET = 4096  # msvcrt locks are mandatory: keep the PID text outside the locked byte


class AlreadyRunning(RaksblError):
    """Another raksbl agent of this user holds the lock; ``pid`` names it when known."""

    def __init__(self, pid: int | None, path: Path):
        self.pid = pid
        self.path = path
        who = f"PID {pid}" if pid else "nieznany PID"
        super().__init__(f"raksbl już działa ({who}); zamknij go, zanim uruchomisz drugi (blokada: {path}).")


def default_lock_path() -> Path:
    from agent.paths import data_dir

    return data_dir() / LOCK_FILE


def read_pid(path: Path) -> int | None:
    """The PID written in a lock file, or None."""
    try:
        text = Path(path).read_text(encoding="ascii", errors="ignore")
    except OSError:
        return None
    first = text.strip().split("\n", 1)[0].strip().strip("\x00")
    return int(first) if first.isdigit() else None


class InstanceLock:
    """``with InstanceLock(): ...`` or ``acquire()`` / ``release()``; raises :class:`AlreadyRunning`."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else default_lock_path()
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock(fd)
        except OSError:
            os.close(fd)
            raise AlreadyRunning(read_pid(self.path), self.path) from None
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            os.fsync(fd)
        except OSError:
            _unlock(fd)
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)  # an empty file: nobody runs
        except OSError:
            pass
        try:
            _unlock(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> "InstanceLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


if sys.platform == "win32":
    import msvcrt

    def _lock(fd: int) -> None:
        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
