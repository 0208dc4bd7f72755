"""What every raksbl window (settings dialog, history) does the same way as a Tk Toplevel."""

from __future__ import annotations

import tkinter as tk
from typing import Any


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
