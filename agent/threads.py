"""The one place raksbl starts threads.

Every background thread (the timer, a run, the tray icon's loop, a notification, a settings
look-up) is a daemon thread made here: a stuck network call never blocks the process's exit, and
tests replace the ``start_thread`` seam with a synchronous one.
"""

from __future__ import annotations

import threading
from typing import Any, Callable


def daemon_thread(target: Callable[..., Any], *args: Any, name: str | None = None) -> threading.Thread:
    """A daemon thread, not started yet (for a caller that records it before it runs)."""
    return threading.Thread(target=target, args=args, name=name, daemon=True)


def start_daemon_thread(target: Callable[..., Any], *args: Any, name: str | None = None) -> threading.Thread:
    """The production ``start_thread``: a started daemon thread."""
    thread = daemon_thread(target, *args, name=name)
    thread.start()
    return thread
