"""The "Ustawienia" window: ttkbootstrap widgets implementing :class:`SettingsView`.

Dumb on purpose: it shows what the presenter gives it and forwards clicks. Every widget is
found by its field key (``self.fields[key]``), which the UI tests use too.
"""

from __future__ import annotations

import logging
import tkinter as tk
from tkinter import filedialog
from typing import Any, Sequence

import ttkbootstrap as tb

from ui.settings import presenter as p
from ui.uiloop import UiLoop
from ui.window import Window, ensure_style

log = logging.getLogger(__name__)

STATUS_STYLE = {"": "secondary", "loading": "info", "ok": "success", "warning": "warning", "error": "danger"}
WRAP = 560


# ---------------------------------------------------------------------- field adapters

class TextField:
    def __init__(self, widget: Any, var: tk.StringVar):
        self.widget, self.var = widget, var

    def get(self) -> str:
        return self.var.get()

    def set(self, value: Any) -> None:
        self.var.set("" if value is None else str(value))


class BoolField:
    def __init__(self, widget: Any, var: tk.BooleanVar):
        self.widget, self.var = widget, var

    def get(self) -> bool:
        return bool(self.var.get())

    def set(self, value: Any) -> None:
        self.var.set(bool(value))


class ChoiceField:
    """A read-only combobox offering ``(value, label)`` pairs; get/set by value."""

    def __init__(self, widget: tb.Combobox):
        self.widget = widget
        self.choices: list[tuple[Any, str]] = []
        self._value: Any = None

    def set_choices(self, choices: Sequence[tuple[Any, str]]) -> None:
        current = self.get()
        self.choices = list(choices)
        self.widget.configure(values=[label for _, label in self.choices])
        self.set(current)

    def get(self) -> Any:
        index = self.widget.current()
        if 0 <= index < len(self.choices):
            return self.choices[index][0]
        return self._value

    def set(self, value: Any) -> None:
        self._value = value
        for i, (v, _) in enumerate(self.choices):
            if v == value:
                self.widget.current(i)
                return
        self.widget.set("" if value is None else str(value))

    def labels(self) -> list[str]:
        return [label for _, label in self.choices]


class MultiCheckField:
    """Checkbuttons, one per ``(value, label)``; the value is the list of checked values."""

    def __init__(self, widget: tb.Frame, columns: int = 1):
        self.widget = widget
        self.columns = columns
        self.choices: list[tuple[Any, str]] = []
        self.vars: dict[Any, tk.BooleanVar] = {}
        self.buttons: dict[Any, tb.Checkbutton] = {}

    def set_choices(self, choices: Sequence[tuple[Any, str]]) -> None:
        current = self.get()
        for button in self.buttons.values():
            button.destroy()
        self.choices, self.vars, self.buttons = list(choices), {}, {}
        for i, (value, label) in enumerate(self.choices):
            var = tk.BooleanVar(master=self.widget, value=value in current)
            button = tb.Checkbutton(self.widget, text=label, variable=var)
            button.grid(row=i // self.columns, column=i % self.columns, sticky="w", padx=(0, 16), pady=1)
            self.vars[value], self.buttons[value] = var, button
        if not self.choices:
            label = tb.Label(self.widget, text="(brak — lista nie wczytana)", bootstyle="secondary")
            label.grid(row=0, column=0, sticky="w")
            self.buttons[None] = label

    def get(self) -> list[Any]:
        return [v for v, _ in self.choices if self.vars[v].get()]

    def set(self, values: Any) -> None:
        values = list(values or [])
        for v, var in self.vars.items():
            var.set(v in values)


class QueryEditor:
    """The profile's SQL statements: pick one by name, edit its text (value: ``{name: sql}``)."""

    def __init__(self, parent: Any):
        self.widget = tb.Frame(parent)
        self.selector = tb.Combobox(self.widget, state="readonly", width=48)
        self.selector.grid(row=0, column=0, sticky="w")
        self.marker = tb.Label(self.widget, text="", bootstyle="secondary")
        self.marker.grid(row=0, column=1, sticky="w", padx=8)
        self.text = tk.Text(self.widget, height=11, width=80, wrap="none", font=("TkFixedFont", 9), undo=True)
        scroll = tb.Scrollbar(self.widget, orient="vertical", command=self.text.yview)
        self.text.configure(yscrollcommand=scroll.set)
        self.text.grid(row=1, column=0, columnspan=2, sticky="nsew", pady=(6, 0))
        scroll.grid(row=1, column=2, sticky="ns", pady=(6, 0))
        self.widget.columnconfigure(1, weight=1)
        self.widget.rowconfigure(1, weight=1)
        self.names: list[str] = []
        self.data: dict[str, str] = {}
        self.current: str | None = None
        self.selector.bind("<<ComboboxSelected>>", lambda e: self._select(self.names[self.selector.current()]))
        self.text.bind("<KeyRelease>", lambda e: self._mark())

    def set_choices(self, choices: Sequence[tuple[Any, str]]) -> None:
        self.names = [name for name, _ in choices]
        self.selector.configure(values=[label for _, label in choices])
        if self.names and self.current is None:
            self.selector.current(0)
            self.current = self.names[0]

    def _store(self) -> None:
        if self.current is not None:
            self.data[self.current] = self.text.get("1.0", "end-1c")

    def _select(self, name: str) -> None:
        self._store()
        self.current = name
        self.text.delete("1.0", "end")
        self.text.insert("1.0", self.data.get(name, ""))
        self._mark()

    def _mark(self) -> None:
        if self.current is None:
            return
        text = self.text.get("1.0", "end-1c")
        default = p.normalize_sql(p.DEFAULT_QUERIES.get(self.current, ""))
        changed = p.normalize_sql(text) != default
        self.marker.configure(text="zmienione (własne zapytanie)" if changed else "domyślne",
                              bootstyle="warning" if changed else "secondary")

    def get(self) -> dict[str, str]:
        self._store()
        return dict(self.data)

    def set(self, value: Any) -> None:
        self.data = dict(value or {})
        if self.current is not None:
            self.text.delete("1.0", "end")
            self.text.insert("1.0", self.data.get(self.current, ""))
            self._mark()

    def select(self, name: str) -> None:
        if name in self.names:
            self.selector.current(self.names.index(name))
            self._select(name)


# ---------------------------------------------------------------------- questions

class AskDialog:
    """A small modal question over the dialog: a text, optionally an entry (a company's name)
    with the reason the last answer was refused, and buttons. :meth:`run` returns the value of
    the button pressed (``cancel`` for Esc or the window's [X]); the entry's text is ``self.value``.
    """

    #: Tests: called with each dialog once it is built (before it waits for an answer).
    opened: Any = None

    def __init__(self, master: Any, title: str, text: str, buttons: Sequence[tuple[str, str]], *,
                 entry: str | None = None, error: str = "", default: str = "", cancel: str = "cancel"):
        self.top = tb.Toplevel(master=master, title=title, resizable=(False, False))
        self.top.transient(master)
        self.answer, self.value, self._cancel = cancel, "", cancel
        frame = tb.Frame(self.top, padding=14)
        frame.pack(fill="both", expand=True)
        self.text = tb.Label(frame, text=text, wraplength=420, justify="left")
        self.text.pack(anchor="w")
        self.var = tk.StringVar(master=self.top, value=entry or "")
        self.entry = None
        if entry is not None:
            self.entry = tb.Entry(frame, textvariable=self.var, width=42)
            self.entry.pack(anchor="w", fill="x", pady=(8, 0))
            self.entry.select_range(0, "end")
        self.error = tb.Label(frame, text=error, wraplength=420, justify="left", bootstyle="danger")
        if error:
            self.error.pack(anchor="w", pady=(6, 0))
        row = tb.Frame(frame)
        row.pack(fill="x", pady=(12, 0))
        self.buttons: dict[str, tb.Button] = {}
        for value, label in reversed(buttons):
            style = "secondary" if value == cancel else ("danger" if value == "remove" else "primary")
            button = tb.Button(row, text=label, bootstyle=style, command=lambda v=value: self._answer(v))
            button.pack(side="right", padx=(8, 0))
            self.buttons[value] = button
        self.top.protocol("WM_DELETE_WINDOW", lambda: self._answer(cancel))
        self.top.bind("<Escape>", lambda e: self._answer(cancel))
        if default:
            self.top.bind("<Return>", lambda e: self._answer(default))

    def _answer(self, value: str) -> None:
        self.answer, self.value = value, self.var.get()
        try:
            self.top.destroy()
        except tk.TclError:
            pass

    def run(self) -> str:
        self.top.update_idletasks()
        (self.entry or self.top).focus_set()
        try:
            self.top.grab_set()  # modal: the dialog behind waits for the answer
        except tk.TclError:  # not viewable yet (no window manager): modal enough without the grab
            pass
        if AskDialog.opened is not None:
            AskDialog.opened(self)
        self.top.wait_window()
        return self.answer


# ---------------------------------------------------------------------- the window

class SettingsWindow(Window):
    """The dialog; :meth:`attach` connects it to a presenter (which fills it)."""

    def __init__(self, master: Any):
        ensure_style(master)
        self.top = tb.Toplevel(master=master, title="Ustawienia — raksbl", minsize=(900, 560))
        self.top.protocol("WM_DELETE_WINDOW", lambda: self._do("cancel"))
        self.presenter: p.SettingsPresenter | None = None
        self.post = UiLoop.of(self.top).poster(self.top)  # worker results, on the Tk thread
        self.fields: dict[str, Any] = {}
        self.status: dict[str, tb.Label] = {}
        self.buttons: dict[str, tb.Button] = {}
        self.tab_frames: dict[str, tb.Frame] = {}
        self._closed = False

        outer = tb.Frame(self.top, padding=(12, 10, 12, 10))
        outer.pack(fill="both", expand=True)
        self.status[p.BANNER] = tb.Label(outer, text="", wraplength=760, justify="left")
        self.status[p.BANNER].pack(fill="x", pady=(0, 8))
        middle = tb.Frame(outer)
        middle.pack(fill="both", expand=True)
        self._build_companies(middle)
        self.notebook = tb.Notebook(middle)
        self.notebook.pack(side="left", fill="both", expand=True)
        self._build_baselinker()
        self._build_raks()
        self._build_documents()
        self._build_sync()
        self._build_advanced()
        bottom = tb.Frame(outer)
        # Packed before the notebook: when space is short the notebook shrinks, never the buttons.
        bottom.pack(side="bottom", fill="x", pady=(10, 0), before=middle)
        self.buttons["cancel"] = tb.Button(bottom, text="Anuluj", bootstyle="secondary", width=12,
                                           command=lambda: self._do("cancel"))
        self.buttons["cancel"].pack(side="right")
        self.buttons["save"] = tb.Button(bottom, text="Zapisz", bootstyle="success", width=12,
                                         command=lambda: self._do("save"))
        self.buttons["save"].pack(side="right", padx=(0, 8))
        self.top.bind("<Escape>", lambda e: self._do("cancel"))

    def fix_size(self) -> None:
        """Fix the window's size once, fitted to the screen: messages shown later never grow it
        (an explicit geometry stops Tk from following the content's requested size)."""
        self.top.update_idletasks()
        width = min(max(self.top.winfo_reqwidth(), 900), self.top.winfo_screenwidth() - 40)
        height = min(max(self.top.winfo_reqheight(), 560), self.top.winfo_screenheight() - 80)
        self.top.geometry(f"{width}x{height}")

    # -- plumbing -----------------------------------------------------------------------

    def attach(self, presenter: p.SettingsPresenter) -> None:
        self.presenter = presenter

    def _do(self, action: str, *args: Any) -> None:
        """Forward a click to the presenter; a GUI callback must never let an exception escape."""
        if self.presenter is None:
            return
        try:
            getattr(self.presenter, action)(*args)
        except Exception:
            log.exception("settings action %s failed", action)
            self.set_status(p.BANNER, f"Błąd wewnętrzny ({action}); szczegóły w logu.", "error")

    def _tab(self, title: str) -> tb.Frame:
        frame = tb.Frame(self.notebook, padding=14)
        frame.columnconfigure(1, weight=1)
        self.notebook.add(frame, text=title)
        self.tab_frames[title] = frame
        return frame

    def _row(self, parent: Any, row: int, label: str, field: str, adapter: Any, *,
             extra: Any = None, note: str = "") -> int:
        """Label | widget | extra on ``row``; the inline status (and a note) below. Returns the next row."""
        tb.Label(parent, text=label).grid(row=row, column=0, sticky="nw", padx=(0, 12), pady=(6, 0))
        adapter.widget.grid(row=row, column=1, sticky="ew", pady=(4, 0))
        if extra is not None:
            extra.grid(row=row, column=2, sticky="w", padx=(8, 0), pady=(4, 0))
        self.fields[field] = adapter
        row += 1
        if note:
            tb.Label(parent, text=note, bootstyle="secondary", wraplength=WRAP, justify="left",
                     font=("TkDefaultFont", 8)).grid(row=row, column=1, columnspan=2, sticky="w")
            row += 1
        self._status_label(parent, row, field)
        return row + 1

    def _status_label(self, parent: Any, row: int, field: str, column: int = 1) -> None:
        label = tb.Label(parent, text="", wraplength=WRAP, justify="left", bootstyle="secondary")
        label.grid(row=row, column=column, columnspan=2, sticky="w")
        label.grid_remove()
        self.status[field] = label

    def _entry(self, parent: Any, *, show: str = "", width: int = 40) -> TextField:
        var = tk.StringVar(master=self.top)
        return TextField(tb.Entry(parent, textvariable=var, show=show, width=width), var)

    def _spin(self, parent: Any, low: int, high: int) -> TextField:
        var = tk.StringVar(master=self.top)
        return TextField(tb.Spinbox(parent, from_=low, to=high, textvariable=var, width=10), var)

    def _combo(self, parent: Any, width: int = 40) -> ChoiceField:
        return ChoiceField(tb.Combobox(parent, state="readonly", width=width))

    def _secret(self, parent: Any) -> tuple[TextField, tb.Checkbutton]:
        field = self._entry(parent, show="•")
        shown = tk.BooleanVar(master=self.top, value=False)
        toggle = tb.Checkbutton(parent, text="Pokaż", variable=shown, bootstyle="round-toggle",
                                command=lambda: field.widget.configure(show="" if shown.get() else "•"))
        return field, toggle

    # -- the list of companies ---------------------------------------------------------

    def _build_companies(self, parent: Any) -> None:
        box = tb.Labelframe(parent, text="Firmy", padding=8)
        box.pack(side="left", fill="y", padx=(0, 10))
        self.company_list = tk.Listbox(box, height=8, width=20, exportselection=False, activestyle="none")
        self.company_list.pack(fill="both", expand=True)
        self.company_list.bind("<<ListboxSelect>>", self._company_clicked)
        self.company_names: list[str] = []
        for key, label, action in (("company:add", "Dodaj firmę…", "add_company"),
                                   ("company:duplicate", "Duplikuj…", "duplicate_company"),
                                   ("company:rename", "Zmień nazwę…", "rename_company"),
                                   ("company:remove", "Usuń", "remove_company")):
            button = tb.Button(box, text=label, bootstyle="secondary-outline",
                               command=lambda a=action: self._do(a))
            button.pack(fill="x", pady=(6, 0))
            self.buttons[key] = button

    def _company_clicked(self, event: Any = None) -> None:
        chosen = self.company_list.curselection()
        if chosen and self.company_names and chosen[0] < len(self.company_names):
            self._do("select_company", self.company_names[chosen[0]])

    def set_companies(self, names: Sequence[str], selected: str, several: bool) -> None:
        self.company_names = list(names) if several else []
        longest = max((len(name) for name in names), default=0)
        # A name up to 40 characters: wide enough for most, never wider than the panel should be.
        self.company_list.configure(state="normal", width=max(20, min(32, longest + 1)))  # disabled ignores insert
        self.company_list.delete(0, "end")
        for name in names:
            self.company_list.insert("end", name)
        if selected in names:
            index = list(names).index(selected)
            self.company_list.selection_set(index)
            self.company_list.see(index)
        self.company_list.configure(state="normal" if several else "disabled")
        for key in ("company:duplicate", "company:rename"):
            self.buttons[key].configure(state="normal" if several else "disabled")
        self.buttons["company:remove"].configure(state="normal" if several and len(names) > 1 else "disabled")

    def ask_name(self, title: str, prompt: str, initial: str = "", error: str = "") -> str | None:
        dialog = AskDialog(self.top, title, prompt, [("ok", "OK"), ("cancel", "Anuluj")], entry=initial,
                           error=error, default="ok")
        return dialog.value if dialog.run() == "ok" else None

    def ask_unsaved(self, question: str) -> str:
        return AskDialog(self.top, "Niezapisane zmiany", question,
                         [("save", "Zapisz"), ("discard", "Nie zapisuj"), ("cancel", "Anuluj")], default="save").run()

    def confirm(self, question: str) -> bool:
        return AskDialog(self.top, "Usuń firmę", question, [("remove", "Usuń"), ("cancel", "Anuluj")]).run() == "remove"

    # -- tabs ---------------------------------------------------------------------------

    def _build_baselinker(self) -> None:
        tab = self._tab("BaseLinker")
        token, toggle = self._secret(tab)
        self.token_toggle = toggle
        r = self._row(tab, 0, "Token API", p.TOKEN, token, extra=toggle,
                      note="BaseLinker → Moje konto → API. Token trafia do magazynu haseł systemu, nie do pliku.")
        self.buttons[p.TEST_BASELINKER] = tb.Button(tab, text="Testuj połączenie", bootstyle="info-outline",
                                                    command=lambda: self._do("test_baselinker"))
        self.buttons[p.TEST_BASELINKER].grid(row=r, column=1, sticky="w", pady=(8, 0))
        self._status_label(tab, r + 1, p.TEST_BASELINKER)
        r += 2
        r = self._row(tab, r, "Zapytań na minutę", "baselinker.requests_per_minute", self._spin(tab, 1, 1000),
                      note="BaseLinker pozwala na 100 zapytań na minutę na token — wspólnie dla wszystkich "
                           "programów, które go używają. Jeśli ten sam token ma też inna integracja, "
                           "zmniejsz tę wartość (np. do 50), inaczej BaseLinker zablokuje token na kilka minut. "
                           "Firmy z tym samym tokenem dzielą jeden limit: obowiązuje najmniejsza z ich wartości.")
        adv = tb.Labelframe(tab, text="Zaawansowane", padding=10)
        adv.grid(row=r, column=0, columnspan=3, sticky="ew", pady=(16, 0))
        adv.columnconfigure(1, weight=1)
        a = self._row(adv, 0, "Adres API", "baselinker.api_url", self._entry(adv, width=50))
        self._row(adv, a, "Limit czasu (s)", "baselinker.timeout_seconds", self._spin(adv, 1, 600))

    def _build_raks(self) -> None:
        tab = self._tab("RaksSQL")
        r = self._row(tab, 0, "Serwer", p.SERVER, self._entry(tab, width=30),
                      note="Np. localhost albo 192.168.1.10/3050. Puste = plik bazy otwierany bezpośrednio.")
        pick = tb.Button(tab, text="Wybierz plik…", bootstyle="secondary-outline", command=self._pick_database)
        r = self._row(tab, r, "Baza firmy (ścieżka)", p.DB_PATH, self._entry(tab, width=50), extra=pick,
                      note="Ścieżka na serwerze, np. C:/RAKS/Data/F00001.fdb.")
        r = self._row(tab, r, "Użytkownik", "raks.user", self._entry(tab, width=20))
        password, toggle = self._secret(tab)
        r = self._row(tab, r, "Hasło", p.PASSWORD, password, extra=toggle)
        r = self._row(tab, r, "Strona kodowa", "raks.charset", self._combo(tab, width=18))
        lib = tb.Button(tab, text="Wybierz…", bootstyle="secondary-outline", command=self._pick_library)
        r = self._row(tab, r, "Biblioteka klienta", "raks.client_library", self._entry(tab, width=50), extra=lib,
                      note="Ścieżka do fbclient.dll (np. z folderu RaksSQL); puste = znajdź automatycznie.")
        self.buttons[p.TEST_RAKS] = tb.Button(tab, text="Testuj połączenie", bootstyle="info-outline",
                                              command=lambda: self._do("test_raks"))
        self.buttons[p.TEST_RAKS].grid(row=r, column=1, sticky="w", pady=(8, 0))
        self.buttons["fit"] = tb.Button(tab, text="Dopasuj do bazy…", bootstyle="primary-outline",
                                        command=lambda: self._do("open_fit"))
        self.buttons["fit"].grid(row=r, column=2, sticky="w", padx=(8, 0), pady=(8, 0))
        self._status_label(tab, r + 1, p.TEST_RAKS)

    def _build_documents(self) -> None:
        tab = self._tab("Dokumenty")
        raks = tb.Labelframe(tab, text="RaksSQL — które dokumenty wysyłać", padding=10)
        raks.grid(row=0, column=0, columnspan=3, sticky="ew")
        raks.columnconfigure(1, weight=1)
        statuses = MultiCheckField(tb.Frame(raks), columns=2)
        r = self._row(raks, 0, "Statusy do wysłania", "raks.statuses_to_send", statuses)
        r = self._row(raks, r, "Status po wysłaniu", "raks.status_after_send", self._combo(raks))
        r = self._row(raks, r, "Status po błędzie", "raks.status_on_error", self._combo(raks))
        r = self._row(raks, r, "Rodzaje dokumentów", "raks.document_types", MultiCheckField(tb.Frame(raks), columns=2))
        self._row(raks, r, "Nie wysyłaj wystawionych przed", "raks.not_before", self._entry(raks, width=12),
                  note="Data RRRR-MM-DD; puste = bez ograniczenia. Chroni przed wysłaniem całej historii.")
        bl = tb.Labelframe(tab, text="BaseLinker — co zrobić z zamówieniem", padding=10)
        bl.grid(row=1, column=0, columnspan=3, sticky="ew", pady=(10, 0))
        bl.columnconfigure(1, weight=1)
        r = self._row(bl, 0, "Seria faktur", "baselinker.invoice_series_id", self._combo(bl))
        r = self._row(bl, r, "Seria paragonów", "baselinker.receipt_series_id", self._combo(bl))
        r = self._row(bl, r, "Seria korekt", "baselinker.correction_series_id", self._combo(bl))
        r = self._row(bl, r, "Numer z RaksSQL zapisz w", "baselinker.number_field", self._combo(bl))
        r = self._row(bl, r, "Status zamówienia po wysłaniu", "baselinker.order_status_on_success", self._combo(bl))
        self._row(bl, r, "Status zamówienia po błędzie", "baselinker.order_status_on_error", self._combo(bl))

    def _build_sync(self) -> None:
        tab = self._tab("Synchronizacja")
        var = tk.BooleanVar(master=self.top)
        auto = BoolField(tb.Checkbutton(tab, text="Automatyczna synchronizacja faktur", variable=var,
                                        bootstyle="round-toggle"), var)
        self._status_label(tab, 0, p.NOTE_SYNC, column=0)  # "shared by every company"
        r = self._row(tab, 1, "Automatycznie", "sync.auto", auto)
        r = self._row(tab, r, "Co ile sekund", "sync.interval_seconds", self._spin(tab, p.MIN_INTERVAL, 86400),
                      note=f"Co ile sekund agent sprawdza, czy w RaksSQL czekają dokumenty (najmniej {p.MIN_INTERVAL}).")
        r = self._row(tab, r, "Najwięcej dokumentów naraz", "sync.max_documents_per_run", self._spin(tab, 0, 100000),
                      note="0 = bez limitu.")
        self._row(tab, r, "Powiadomienia", "sync.notifications", self._combo(tab, width=18))

    def _build_advanced(self) -> None:
        tab = self._tab("Zaawansowane")
        tab.rowconfigure(0, weight=1)
        box = tb.Labelframe(tab, text="Zapytania SQL profilu (dla instalatora)", padding=10)
        box.grid(row=0, column=0, columnspan=3, sticky="nsew")
        box.columnconfigure(0, weight=1)
        box.rowconfigure(0, weight=1)
        editor = QueryEditor(box)
        editor.widget.grid(row=0, column=0, columnspan=3, sticky="nsew")
        self.fields[p.QUERIES] = editor
        buttons = tb.Frame(box)
        buttons.grid(row=1, column=0, sticky="w", pady=(6, 0))
        tb.Button(buttons, text="Przywróć domyślne", bootstyle="secondary-outline",
                  command=lambda: self._do("restore_default_query", editor.current)).pack(side="left")
        tb.Button(buttons, text="Przywróć wszystkie domyślne", bootstyle="secondary-outline",
                  command=lambda: self._do("restore_all_default_queries")).pack(side="left", padx=8)
        self._status_label(box, 2, p.QUERIES, column=0)
        logs = tb.Labelframe(tab, text="Logi", padding=10)
        logs.grid(row=1, column=0, columnspan=3, sticky="ew", pady=(10, 0))
        logs.columnconfigure(1, weight=1)
        folder = tb.Button(logs, text="Otwórz folder logów", bootstyle="secondary-outline",
                           command=lambda: self._do("open_log_folder"))
        r = self._row(logs, 0, "Poziom logowania", "log.level", self._combo(logs, width=12), extra=folder)
        self._status_label(logs, r, p.NOTE_LOG, column=0)

    def show_fit(self, raks_settings: Any, password: str, config_path: Any, on_saved: Any, company: str = "") -> None:
        """Open the "Dopasuj do bazy" assistant (one at a time) over this dialog."""
        from ui.settings.fit_view import open_fit_window

        current = getattr(self, "fit_window", None)
        if current is not None and current.exists():
            current.raise_()
            return
        self.fit_window = open_fit_window(self.top, raks_settings, password, config_path, on_saved=on_saved,
                                          company=company)
        if company:
            self.fit_window.top.title(f"Dopasuj do bazy — firma {company} — raksbl")

    def _pick_database(self) -> None:
        path = filedialog.askopenfilename(parent=self.top, title="Baza firmy RaksSQL",
                                          filetypes=[("Bazy Firebird", "*.fdb *.FDB *.gdb"), ("Wszystkie pliki", "*")])
        if path:
            self._do("choose_database_file", path)

    def _pick_library(self) -> None:
        path = filedialog.askopenfilename(parent=self.top, title="Biblioteka klienta Firebird",
                                          filetypes=[("fbclient", "fbclient.dll libfbclient.so*"), ("Wszystkie", "*")])
        if path:
            self._do("choose_client_library", path)

    # -- SettingsView -------------------------------------------------------------------

    def set_values(self, values: dict[str, Any]) -> None:
        for field, value in values.items():
            if field in self.fields:
                self.fields[field].set(value)

    def get_values(self) -> dict[str, Any]:
        return {field: adapter.get() for field, adapter in self.fields.items()}

    def set_choices(self, field: str, choices: Sequence[tuple[Any, str]]) -> None:
        self.fields[field].set_choices(choices)

    def set_status(self, field: str, text: str, kind: str = "") -> None:
        label = self.status.get(field)
        if label is None:
            return
        label.configure(text=text, bootstyle=STATUS_STYLE.get(kind, "secondary"))
        if field == p.BANNER:
            return
        if text:
            label.grid()
        else:
            label.grid_remove()

    def set_busy(self, action: str, busy: bool) -> None:
        button = self.buttons.get(action)
        if button is not None:
            button.configure(state="disabled" if busy else "normal")

    def tab_of(self, field: str) -> str | None:
        for title, fields in p.TABS.items():
            if field in fields:
                return title
        return None

    def focus_field(self, field: str) -> None:
        title = self.tab_of(field)
        if title is not None:
            self.notebook.select(self.tab_frames[title])
        adapter = self.fields.get(field)
        widget = getattr(adapter, "text", None) or getattr(adapter, "widget", None)
        if widget is not None:
            try:
                widget.focus_set()
            except tk.TclError:
                pass

    def select_tab(self, title: str) -> None:
        self.notebook.select(self.tab_frames[title])

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.top.destroy()
        except tk.TclError:
            pass

