"""The "Dopasuj do bazy" window: ttkbootstrap widgets implementing :class:`ui.settings.fit.FitView`.

Dumb on purpose: dropdowns, the evidence text, the preview table and two buttons; every click
goes to :class:`ui.settings.fit.FitPresenter`. Widgets are reachable by name for the UI tests
(``self.combos[what]``, ``self.preview``, ``self.buttons``).
"""

from __future__ import annotations

import logging
import tkinter as tk
from typing import Any, Sequence

import ttkbootstrap as tb

from ui.settings import fit as f
from ui.uiloop import UiLoop
from ui.window import Window, ensure_style

log = logging.getLogger(__name__)

STATUS_STYLE = {"": "secondary", "loading": "info", "ok": "success", "warning": "warning", "error": "danger"}


class FitWindow(Window):
    def __init__(self, master: Any):
        ensure_style(master)
        self.top = tb.Toplevel(master=master, title="Dopasuj do bazy — raksbl", minsize=(820, 620))
        self.top.protocol("WM_DELETE_WINDOW", lambda: self._do("cancel"))
        self.post = UiLoop.of(self.top).poster(self.top)  # worker results, on the Tk thread
        self.presenter: f.FitPresenter | None = None
        self.combos: dict[str, tb.Combobox] = {}
        self.buttons: dict[str, tb.Button] = {}
        self._closed = False

        outer = tb.Frame(self.top, padding=(12, 10, 12, 10))
        outer.pack(fill="both", expand=True)
        outer.columnconfigure(1, weight=1)
        tb.Label(outer, text="Agent sprawdził bazę (tylko odczyt) i proponuje, skąd czytać status, PDF i numer "
                             "zamówienia. Zmień wybór, jeśli trzeba — podgląd pokaże skutek.",
                 wraplength=780, justify="left").grid(row=0, column=0, columnspan=3, sticky="w")
        row = 1
        for what in f.WHATS:
            tb.Label(outer, text=f.TITLES[what]).grid(row=row, column=0, sticky="w", padx=(0, 12), pady=(6, 0))
            combo = tb.Combobox(outer, state="readonly", width=60)
            combo.grid(row=row, column=1, columnspan=2, sticky="ew", pady=(6, 0))
            combo.bind("<<ComboboxSelected>>", lambda e, w=what: self._do("choose", w, self.combos[w].current()))
            self.combos[what] = combo
            row += 1
        tb.Label(outer, text="Folder z wydrukami").grid(row=row, column=0, sticky="w", padx=(0, 12), pady=(6, 0))
        self.folder = tk.StringVar(master=self.top)
        folder_row = tb.Frame(outer)
        folder_row.grid(row=row, column=1, sticky="ew", pady=(6, 0))
        folder_row.columnconfigure(0, weight=1)
        tb.Entry(folder_row, textvariable=self.folder, width=44).grid(row=0, column=0, sticky="ew")
        tb.Button(folder_row, text="Wybierz…", bootstyle="secondary-outline", command=self._pick_folder).grid(
            row=0, column=1, padx=(6, 0))
        self.buttons["folder"] = tb.Button(outer, text="Szukaj też w folderze", bootstyle="secondary-outline",
                                           command=lambda: self._do("set_folder", self.folder.get()))
        self.buttons["folder"].grid(row=row, column=2, sticky="w", padx=(8, 0), pady=(6, 0))
        row += 1
        self.status = tb.Label(outer, text="", wraplength=780, justify="left", bootstyle="secondary")
        self.status.grid(row=row, column=0, columnspan=3, sticky="w", pady=(8, 4))
        row += 1
        tb.Label(outer, text="Pierwsze dokumenty do wysłania — tak je odczyta agent:").grid(
            row=row, column=0, columnspan=3, sticky="w")
        row += 1
        self.preview = tb.Treeview(outer, columns=("number", "order", "pdf"), show="headings", height=10)
        for col, title, width in (("number", "Dokument", 200), ("order", "Zamówienie", 180), ("pdf", "PDF", 380)):
            self.preview.heading(col, text=title)
            self.preview.column(col, width=width, stretch=(col == "pdf"))
        self.preview.grid(row=row, column=0, columnspan=3, sticky="nsew")
        row += 1
        self.evidence = tk.Text(outer, height=10, wrap="word", font=("TkFixedFont", 9))
        self.evidence.grid(row=row, column=0, columnspan=3, sticky="nsew", pady=(8, 0))
        outer.rowconfigure(row, weight=1)
        row += 1
        bottom = tb.Frame(outer)
        bottom.grid(row=row, column=0, columnspan=3, sticky="ew", pady=(10, 0))
        self.buttons["cancel"] = tb.Button(bottom, text="Anuluj", bootstyle="secondary", width=12,
                                           command=lambda: self._do("cancel"))
        self.buttons["cancel"].pack(side="right")
        self.buttons["save"] = tb.Button(bottom, text="Zapisz", bootstyle="success", width=12,
                                         command=lambda: self._do("save"))
        self.buttons["save"].pack(side="right", padx=(0, 8))
        self.top.bind("<Escape>", lambda e: self._do("cancel"))

    def _pick_folder(self) -> None:
        from tkinter import filedialog

        chosen = filedialog.askdirectory(parent=self.top, title="Folder, do którego RaksSQL zapisuje wydruki PDF")
        if chosen:
            self.folder.set(chosen)
            self._do("set_folder", chosen)

    def attach(self, presenter: f.FitPresenter) -> None:
        self.presenter = presenter

    def _do(self, action: str, *args: Any) -> None:
        """Forward a click; a GUI callback must never let an exception escape."""
        if self.presenter is None:
            return
        try:
            getattr(self.presenter, action)(*args)
        except Exception:
            log.exception("fit action %s failed", action)
            self.set_status(f"Błąd wewnętrzny ({action}); szczegóły w logu.", "error")

    # -- FitView ------------------------------------------------------------------------------
    def show_choices(self, what: str, labels: Sequence[str], index: int) -> None:
        combo = self.combos[what]
        combo.configure(values=list(labels) or ["(nie znaleziono)"])
        if 0 <= index < len(labels):
            combo.current(index)
        else:
            combo.set("(nie znaleziono)")

    def show_evidence(self, text: str) -> None:
        self.evidence.configure(state="normal")
        self.evidence.delete("1.0", "end")
        self.evidence.insert("1.0", text)
        self.evidence.configure(state="disabled")

    def show_preview(self, rows: Sequence[Any], pending: int) -> None:
        self.preview.delete(*self.preview.get_children())
        for r in rows:
            self.preview.insert("", "end", values=(r.number, r.order, r.pdf), tags=("ok" if r.ok else "bad",))
        self.preview.tag_configure("bad", foreground="#b00020")

    def preview_rows(self) -> list[tuple[str, str, str]]:
        return [tuple(str(v) for v in self.preview.item(i, "values")) for i in self.preview.get_children()]

    def set_status(self, text: str, kind: str = "") -> None:
        self.status.configure(text=text, bootstyle=STATUS_STYLE.get(kind, "secondary"))

    def set_busy(self, busy: bool) -> None:
        self.buttons["save"].configure(state="disabled" if busy else "normal")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.top.destroy()
        except tk.TclError:
            pass


def open_fit_window(master: Any, raks_settings, password: str, config_path, *, on_saved=None, **options: Any) -> FitWindow:
    """Open the assistant over ``master`` (on the Tk thread) and start examining the database."""
    window = FitWindow(master)
    presenter = f.FitPresenter(window, raks_settings, password, config_path, on_saved=on_saved,
                               call_in_ui=window.post, **options)
    window.attach(presenter)
    presenter.start()
    window.raise_()
    return window
