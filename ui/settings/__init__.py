"""The "Ustawienia" dialog: :func:`open_settings_dialog` (tray, on the Tk thread) and
:func:`run_standalone` (``raksbl settings``). Logic in :mod:`ui.settings.presenter`, widgets in
:mod:`ui.settings.view`."""

from __future__ import annotations

import logging
import os
from typing import Any, Callable

log = logging.getLogger(__name__)

_current: Any = None  # the open dialog: a second "Ustawienia…" brings it to the front


def open_settings_dialog(
    master: Any,
    config_path: str | os.PathLike | None = None,
    *,
    on_saved: Callable[[Any], None] | None = None,
    on_closed: Callable[[], None] | None = None,
    **presenter_options: Any,
):
    """Open the settings dialog over Tk ``master`` (call on the Tk thread) and return the window.

    ``on_saved(settings)`` runs on the Tk thread after "Zapisz" wrote the file and the secrets;
    ``on_closed()`` when the window goes away (saved or not). If the dialog is already open, it
    is raised instead (and the callbacks of the first call stay in force).
    """
    global _current
    from ui.settings.presenter import SettingsPresenter
    from ui.settings.view import SettingsWindow

    if _current is not None and _current.exists():
        _current.raise_()
        return _current

    window = SettingsWindow(master)

    def closed() -> None:
        global _current
        if _current is window:
            _current = None
        if on_closed is not None:
            on_closed()

    presenter = SettingsPresenter(window, config_path, on_saved=on_saved, on_closed=closed,
                                  call_in_ui=window.post, **presenter_options)
    window.attach(presenter)
    _current = window
    presenter.load()
    window.fix_size()  # once filled: later messages (look-ups, errors) never resize it
    window.raise_()
    return window


def run_standalone(config_path: str | os.PathLike | None = None) -> int:
    """``raksbl settings``: the dialog alone, until it is closed. 0 saved, 1 cancelled, 2 no display."""
    import tkinter

    try:
        root = tkinter.Tk()
    except tkinter.TclError as exc:
        print(f"raksbl: nie można otworzyć okna ({exc}).", flush=True)
        return 2
    root.withdraw()
    saved: list[Any] = []
    open_settings_dialog(root, config_path, on_saved=saved.append, on_closed=root.quit)
    root.mainloop()
    try:
        root.destroy()
    except tkinter.TclError:
        pass
    return 0 if saved else 1


__all__ = ["open_settings_dialog", "run_standalone"]
