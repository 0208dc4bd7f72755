"""Handing results from worker threads to the Tk thread (docs/style.md, "pystray").

Tk may only be touched from the thread running its main loop, and ``after()`` itself is not
safe to call from another thread. Workers therefore only ``post()`` callables into a queue that
the Tk thread drains every ``poll_ms`` with ``after``.
"""

from __future__ import annotations

import logging
import queue
from typing import Any, Callable

log = logging.getLogger(__name__)


class TkDispatcher:
    """A queue drained on the Tk thread while ``widget`` exists."""

    def __init__(self, widget: Any, poll_ms: int = 50):
        self._widget = widget
        self._queue: queue.Queue[Callable[[], Any]] = queue.Queue()
        self.poll_ms = poll_ms
        self._stopped = False
        self._after_id = widget.after(poll_ms, self._poll)

    def post(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the Tk thread soon (callable from any thread)."""
        self._queue.put(fn)

    def drain(self) -> int:
        count = 0
        while True:
            try:
                fn = self._queue.get_nowait()
            except queue.Empty:
                return count
            count += 1
            try:
                fn()
            except Exception:  # an exception escaping a Tk callback would be lost silently
                log.exception("UI callback failed")

    def _poll(self) -> None:
        if self._stopped:
            return
        self.drain()
        try:
            if self._widget.winfo_exists():
                self._after_id = self._widget.after(self.poll_ms, self._poll)
        except Exception:  # the widget (or Tk) is gone
            self._stopped = True

    def stop(self) -> None:
        self._stopped = True
        try:
            self._widget.after_cancel(self._after_id)
        except Exception:
            pass


def ensure_style(master: Any) -> None:
    """Make ttkbootstrap's style singleton belong to ``master``'s Tk interpreter.

    ttkbootstrap keeps one ``Style`` per process, bound to the first Tk root; if that root was
    destroyed and another created (``raksbl settings`` after a closed window, tests), every
    themed widget fails with "Layout ... not found". A stale singleton is dropped so that the
    next widget builds the theme again in the live interpreter.
    """
    from ttkbootstrap.style.engine import Style

    current = Style.instance
    if current is None:
        return
    try:
        alive = current.tk is master.tk and bool(master.tk.call("winfo", "exists", "."))
    except Exception:
        alive = False
    if not alive:
        log.debug("dropping a ttkbootstrap Style bound to a destroyed Tk root")
        Style.instance = None
