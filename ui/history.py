"""The "Historia" window: ttkbootstrap widgets implementing :class:`ui.history_presenter.HistoryView`.

Open it with :func:`open_history_window` on the Tk thread. It re-reads the journal every few
seconds while open (the agent may be exporting meanwhile); the logic is in the presenter.
"""

from __future__ import annotations

import logging
import os
import tkinter as tk
from tkinter import font as tkfont
from tkinter import messagebox
from typing import Any, Callable, Sequence

import ttkbootstrap as tb

from ui.dpi import scale, scale_size
from ui.history_presenter import HistoryPresenter, HistoryRow
from ui.window import Window, ensure_style

log = logging.getLogger(__name__)

COLUMNS = (
    ("date", "Data", 145),
    ("doc_type", "Rodzaj", 80),
    ("number", "Numer RaksSQL", 175),
    ("order_id", "Zamówienie", 105),
    ("result", "Wynik", 165),
    ("detail", "Numer w BaseLinker / błąd", 420),
    ("company", "Firma", 110),  # shown (after the date) only with entries of several companies
)
ONE_COMPANY = tuple(key for key, _, _ in COLUMNS if key != "company")
SEVERAL_COMPANIES = ("date", "company") + ONE_COMPANY[1:]
ALL_COMPANIES = "wszystkie firmy"
STATUS_STYLE = {"": "secondary", "ok": "success", "warning": "warning", "error": "danger"}
REFRESH_MS = 5000

_current: Any = None


class HistoryWindow(Window):
    def __init__(self, master: Any, *, refresh_ms: int = REFRESH_MS):
        ensure_style(master)
        # sizes are designed at 96 DPI; at 125 %/150 % scaling they grow with the fonts
        self.top = tb.Toplevel(master=master, title="Historia — raksbl", size=scale_size(master, (1120, 560)),
                               minsize=scale_size(master, (760, 360)))
        self.top.protocol("WM_DELETE_WINDOW", lambda: self._do("close"))
        self.presenter: HistoryPresenter | None = None
        self.refresh_ms = refresh_ms
        self._after_id: str | None = None
        self._closed = False
        self._showing = False  # selection events caused by show_rows are not the user's

        outer = tb.Frame(self.top, padding=10)
        outer.pack(fill="both", expand=True)
        bar = tb.Frame(outer)
        bar.pack(fill="x", pady=(0, 8))
        self.failed_only = tk.BooleanVar(master=self.top, value=False)
        self.filter = tb.Checkbutton(bar, text="tylko błędy", variable=self.failed_only, bootstyle="round-toggle",
                                     command=lambda: self._do("set_failed_only", self.failed_only.get()))
        self.filter.pack(side="left", padx=(0, 16))
        # the company filter: packed only when the journal has entries of several companies
        # (in a frame of its own, packed now: it keeps the filter's place before the buttons)
        self._filter_frame = tb.Frame(bar)
        self._filter_frame.pack(side="left")
        self.company = tk.StringVar(master=self.top, value=ALL_COMPANIES)
        self.company_filter = tb.Combobox(self._filter_frame, textvariable=self.company, state="readonly",
                                          width=18, values=[ALL_COMPANIES])
        self.company_filter.bind("<<ComboboxSelected>>", lambda e: self._do(
            "set_company", None if self.company.get() == ALL_COMPANIES else self.company.get()))
        self.buttons: dict[str, tb.Button] = {}
        for key, text, style in (("retry", "Wyślij ponownie", "primary"), ("skip", "Pomiń", "secondary"),
                                 ("open_order", "Otwórz zamówienie w BaseLinker", "info-outline"),
                                 ("copy_error", "Kopiuj treść błędu", "secondary-outline")):
            button = tb.Button(bar, text=text, bootstyle=style, command=lambda k=key: self._do(k), state="disabled")
            button.pack(side="left", padx=(0, 6))
            self.buttons[key] = button
        tb.Button(bar, text="Odśwież", bootstyle="link", command=lambda: self._do("refresh")).pack(side="right")

        table = tb.Frame(outer)
        table.pack(fill="both", expand=True)
        self.tree = tb.Treeview(table, columns=[c for c, _, _ in COLUMNS], show="headings", selectmode="extended")
        self.tree.configure(displaycolumns=ONE_COMPANY)
        for key, title, width in COLUMNS:
            self.tree.heading(key, text=title, anchor="w")
            width = scale(master, width)
            self.tree.column(key, width=width, minwidth=width if key != "detail" else scale(master, 120), anchor="w",
                             stretch=key == "detail")
        self.tree.tag_configure("failed", foreground="#c0392b")
        self.tree.tag_configure("in_doubt", foreground="#b9770e")
        self.tree.tag_configure("skipped", foreground="#7f8c8d")
        scroll = tb.Scrollbar(table, orient="vertical", command=self.tree.yview)
        self.tree.configure(yscrollcommand=scroll.set)
        self.tree.pack(side="left", fill="both", expand=True)
        scroll.pack(side="right", fill="y")
        self.tree.bind("<<TreeviewSelect>>", self._on_select)
        self.tree.bind("<Control-c>", lambda e: self._do("copy_error"))

        self.detail = tk.Text(outer, height=4, wrap="word", relief="flat", background=self.top.cget("background"))
        self.detail.pack(fill="x", pady=(8, 0))
        self.detail.configure(state="disabled")
        self.status = tb.Label(outer, text="", bootstyle="secondary")
        self.status.pack(fill="x", pady=(6, 0))

    # -- plumbing -----------------------------------------------------------------------

    def attach(self, presenter: HistoryPresenter) -> None:
        self.presenter = presenter
        self._schedule()

    def _do(self, action: str, *args: Any) -> None:
        if self.presenter is None:
            return
        try:
            getattr(self.presenter, action)(*args)
        except Exception:  # never let an exception escape a Tk callback
            log.exception("history action %s failed", action)
            self.set_status(f"Błąd wewnętrzny ({action}); szczegóły w logu.", "error")

    def _schedule(self) -> None:
        if self.refresh_ms and not self._closed:
            self._after_id = self.top.after(self.refresh_ms, self._tick)

    def _tick(self) -> None:
        if self._closed:
            return
        self._do("refresh")
        self._schedule()

    def _on_select(self, _event: Any = None) -> None:
        if self._showing:
            return
        self._do("select", [int(i) for i in self.tree.selection()])

    # -- HistoryView --------------------------------------------------------------------

    def show_rows(self, rows: Sequence[HistoryRow], selected: Sequence[int]) -> None:
        self._showing = True
        try:
            self.tree.delete(*self.tree.get_children())
            for row in rows:
                self.tree.insert("", "end", iid=str(row.id), tags=(row.state,), values=_values(row, self.shows_companies))
            keep = [str(i) for i in selected if self.tree.exists(str(i))]
            self.tree.selection_set(keep)
            self._fit_columns(rows)
            self.top.update_idletasks()
        finally:
            self._showing = False

    def _fit_columns(self, rows: Sequence[HistoryRow]) -> None:
        """Widen a column to its longest value (and title) in the current font: a long number or
        "w trakcie (PDF dołączony)" is never cut off, whatever the font or screen scaling."""
        font = tkfont.nametofont("TkDefaultFont")
        pad = font.measure("MM")
        for index, (key, title, width) in enumerate(COLUMNS):
            if key == "detail":  # the last column stretches; its full text is shown below the table
                continue
            texts = [title] + [str(_values(r, self.shows_companies)[index]) for r in rows]
            needed = max(font.measure(t) for t in texts) + pad
            self.tree.column(key, width=max(width, needed), minwidth=max(width, needed))

    def show_companies(self, names: Sequence[str], selected: str | None) -> None:
        several = len(names) > 1
        self.tree.configure(displaycolumns=SEVERAL_COMPANIES if several else ONE_COMPANY)
        self.company_filter.configure(values=[ALL_COMPANIES, *names])
        self.company.set(selected or ALL_COMPANIES)
        if several:
            self.company_filter.pack(side="left", padx=(0, 16))
        else:
            self.company_filter.pack_forget()

    @property
    def shows_companies(self) -> bool:
        return "company" in self.tree.cget("displaycolumns")

    def column_width(self, key: str) -> int:
        return int(self.tree.column(key, "width"))

    def set_actions(self, enabled: dict[str, bool]) -> None:
        for key, on in enabled.items():
            if key in self.buttons:
                self.buttons[key].configure(state="normal" if on else "disabled")

    def set_detail(self, text: str) -> None:
        self.detail.configure(state="normal")
        self.detail.delete("1.0", "end")
        self.detail.insert("1.0", text)
        self.detail.configure(state="disabled")

    def set_status(self, text: str, kind: str = "") -> None:
        self.status.configure(text=text, bootstyle=STATUS_STYLE.get(kind, "secondary"))

    def confirm(self, title: str, text: str) -> bool:
        return bool(messagebox.askyesno(title, text, parent=self.top, icon="warning"))

    def set_clipboard(self, text: str) -> None:
        self.top.clipboard_clear()
        self.top.clipboard_append(text)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._after_id is not None:
            try:
                self.top.after_cancel(self._after_id)
            except tk.TclError:
                pass
        try:
            self.top.destroy()
        except tk.TclError:
            pass


def _values(row: HistoryRow, several: bool) -> tuple:
    """The table's values of ``row``, in COLUMNS order."""
    from ui.history_presenter import company_label

    return (row.date, row.doc_type, row.number, row.order_id, row.result, row.detail.replace("\n", " "),
            company_label(row.company) if several else "")


def open_history_window(
    master: Any,
    journal_path: str | os.PathLike | None = None,
    *,
    on_closed: Callable[[], None] | None = None,
    open_url: Callable[[str], Any] | None = None,
    refresh_ms: int = REFRESH_MS,
) -> HistoryWindow:
    """Open "Historia" over Tk ``master`` (on the Tk thread); raise it if already open.

    ``journal_path`` defaults to :func:`agent.paths.journal_path` (``RAKSBL_DATA_DIR`` aware).
    """
    global _current
    from agent.export.journal import Journal

    if _current is not None and _current.exists():
        _current.presenter.refresh()
        _current.raise_()
        return _current
    window = HistoryWindow(master, refresh_ms=refresh_ms)

    def closed() -> None:
        global _current
        if _current is window:
            _current = None
        if on_closed is not None:
            on_closed()

    if journal_path is None:
        factory = None
    else:
        factory = lambda: Journal(journal_path)  # noqa: E731
    presenter = HistoryPresenter(window, factory, open_url=open_url, on_closed=closed)
    window.attach(presenter)
    _current = window
    presenter.load()
    window.raise_()
    return window
