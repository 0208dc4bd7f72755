"""What every raksbl window (settings dialog, history) does the same way as a Tk Toplevel."""

from __future__ import annotations

import logging
import tkinter as tk
from typing import Any

log = logging.getLogger(__name__)


class Window:
    """Base for a window object holding a Toplevel in ``self.top``; ``self._closed`` marks it closed."""

    top: Any
    _closed: bool = False

    def raise_(self) -> None:
        """Bring the already open window to the front (a second "open" must not make another)."""
        self.top.deiconify()
        self.top.lift()
        self.top.focus_force()

    def exists(self) -> bool:
        if self._closed:
            return False
        try:
            return bool(self.top.winfo_exists())
        except tk.TclError:
            return False


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
