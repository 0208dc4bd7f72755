"""The logic of "Dopasuj do bazy…" (Ustawienia → RaksSQL): the profile proposal as dropdowns.

The same proposal as ``raksbl inspect-db --propose`` (:mod:`agent.raks.propose`): one dropdown
per thing to find (Status, PDF, order id) listing the candidates best first, pre-selected as
proposed; the evidence of the chosen ones; a live preview of the first ten pending documents as
the agent would read them with those choices (number, order id, PDF size or the problem); then
"Zapisz" writes the profile into the settings file (replaced values kept as comments) — into the
selected company's ``[company.raks]`` when the file lists several.

An ambiguous database (two plausible Status columns) is said so, and "Zapisz" waits until the
user picks the Status. Database work runs through the ``start_thread`` seam and comes back
through ``call_in_ui``; stale results (an older choice) are dropped.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from agent.errors import ConfigError
from agent.lookups import describe_error
from agent.raks import propose as _propose
from agent.settings import update_settings
from agent.threads import start_daemon_thread

log = logging.getLogger(__name__)

WHATS = ("status", "pdf", "order")
TITLES = {"status": "Status dokumentu", "pdf": "PDF dokumentu", "order": "Numer zamówienia BaseLinker"}
PREVIEW_LIMIT = 10


class FitView(Protocol):
    def show_choices(self, what: str, labels: Sequence[str], index: int) -> None:
        """Fill the dropdown of ``what`` (status/pdf/order) and select ``index`` (-1: none)."""

    def show_evidence(self, text: str) -> None:
        """The proposal with its evidence and the TOML it would write."""

    def show_preview(self, rows: Sequence[_propose.PreviewRow], pending: int) -> None:
        """The first pending documents as the agent would read them."""

    def set_status(self, text: str, kind: str = "") -> None:
        """The assistant's message line; kind "", "loading", "ok", "warning", "error"."""

    def set_busy(self, busy: bool) -> None:
        """Disable "Zapisz" while reading the database."""

    def close(self) -> None:
        """Destroy the window."""


def _direct(fn: Callable[[], Any]) -> None:
    fn()


def _choice_label(choice: _propose.Choice, best: bool) -> str:
    return f"{choice.label}{'  (proponowane)' if best else ''}"


class FitPresenter:
    def __init__(
        self,
        view: FitView,
        raks_settings,
        password: str,
        config_path: Path,
        *,
        on_saved: Callable[[Any], None] | None = None,
        start_thread: Callable[..., Any] = start_daemon_thread,
        call_in_ui: Callable[[Callable[[], Any]], None] = _direct,
        propose_fn: Callable[..., _propose.Proposal] = _propose.propose_database,
        preview_fn: Callable[..., tuple[int, list]] = _propose.preview,
        company: str = "",
    ):
        self.view = view
        self.raks = raks_settings
        self._password = password
        self.path = Path(config_path)
        self.company = company  # with several companies: the one whose [company.raks] "Zapisz" writes
        self.on_saved = on_saved
        self._start_thread = start_thread
        self._call_in_ui = call_in_ui
        self._propose = propose_fn
        self._preview = preview_fn
        self.proposal: _propose.Proposal | None = None
        self.changes: dict[str, Any] = {}
        self.preview_rows: list = []
        self.folder = ""
        self._gen = 0
        self.closed = False

    # -- proposing ---------------------------------------------------------------------------
    def start(self, folder: str = "") -> None:
        """Examine the database (in a thread) and show the proposal."""
        if self.closed:
            return
        self.folder = folder.strip()
        self._gen += 1
        gen = self._gen
        self.view.set_busy(True)
        self.view.set_status("Sprawdzam bazę RaksSQL (tylko odczyt)…", "loading")
        raks, password, folder = self.raks, self._password, self.folder

        def work() -> None:
            try:
                result: Any = self._propose(raks, password, folder=folder)
                ok = True
            except BaseException as exc:  # shown to the user, never lost in the thread
                result, ok = exc, False
            self._call_in_ui(lambda: self._proposed(gen, ok, result))

        self._start_thread(work, name="raksbl-fit-propose")

    def _proposed(self, gen: int, ok: bool, result: Any) -> None:
        if self.closed or gen != self._gen:
            return
        if not ok:
            self.view.set_busy(False)
            message = describe_error(result)
            self.view.set_status(f"Nie udało się sprawdzić bazy: {message}", "error")
            return
        self.proposal = result
        for what in WHATS:
            items = getattr(result, what)
            self.view.show_choices(what, [_choice_label(c, i == 0) for i, c in enumerate(items)],
                                   getattr(result, f"{what}_pick") if items else -1)
        self._refresh()

    def choose(self, what: str, index: int) -> None:
        """The user picked candidate ``index`` of ``what`` in its dropdown."""
        prop = self.proposal
        if self.closed or prop is None or what not in WHATS:
            return
        if not 0 <= index < len(getattr(prop, what)):
            return
        setattr(prop, f"{what}_pick", index)
        if what == "status":
            prop.status_pick_forced = True
        self._refresh()

    def set_folder(self, folder: str) -> None:
        """"Szukaj w folderze": propose again, now trying this folder of printouts too."""
        self.start(folder)

    def _refresh(self) -> None:
        """Evidence and settings for the current picks, then the preview (in a thread)."""
        prop = self.proposal
        self.changes = _propose.build_changes(prop, self.raks)
        self.view.show_evidence(_propose.render(prop, self.changes))
        if prop.chosen("status") is None:
            self.view.set_busy(False)
            self.view.set_status("Nie znaleziono statusu dokumentów — tego profilu nie da się zapisać.", "error")
            return
        self._gen += 1
        gen = self._gen
        self.view.set_busy(True)
        self.view.set_status("Czytam dokumenty do wysłania tak, jak zrobi to agent…", "loading")
        try:
            candidate = _propose.apply(self.raks, self.changes)
        except (TypeError, ValueError) as exc:
            self.view.set_status(f"Nie można zastosować propozycji: {exc}", "error")
            return
        password = self._password

        def work() -> None:
            try:
                result: Any = self._preview(candidate, password, PREVIEW_LIMIT)
                ok = True
            except BaseException as exc:
                result, ok = exc, False
            self._call_in_ui(lambda: self._previewed(gen, ok, result))

        self._start_thread(work, name="raksbl-fit-preview")

    def _previewed(self, gen: int, ok: bool, result: Any) -> None:
        if self.closed or gen != self._gen:
            return
        self.view.set_busy(False)
        if not ok:
            self.preview_rows = []
            self.view.show_preview([], 0)
            self.view.set_status(f"Podgląd nie działa z tymi wyborami: {describe_error(result)}", "error")
            return
        pending, rows = result
        self.preview_rows = rows
        self.view.show_preview(rows, pending)
        prop = self.proposal
        if prop.ambiguous:
            a, b = prop.status[0], prop.status[1]
            self.view.set_status(
                f"Dwie kolumny wyglądają na status: {a.label} i {b.label}. Wybierz właściwą z listy „Status "
                "dokumentu”, zanim zapiszesz.", "warning")
            return
        bad = sum(1 for r in rows if not r.ok)
        if bad:
            self.view.set_status(f"Podgląd gotowy: {len(rows)} z {pending} — z problemem: {bad} (zob. tabela).", "warning")
        else:
            self.view.set_status(f"Podgląd gotowy: {len(rows)} z {pending}, wszystko czytelne.", "ok")

    # -- saving --------------------------------------------------------------------------------
    def save(self) -> bool:
        """"Zapisz": write the proposal into the settings file, hand the result back, close."""
        prop = self.proposal
        if self.closed or prop is None:
            return False
        if prop.ambiguous:
            self.view.set_status("Najpierw wybierz właściwą kolumnę statusu (dwie wyglądają podobnie).", "error")
            return False
        if prop.chosen("status") is None:
            self.view.set_status("Nie zapisano: nie znaleziono statusu dokumentów.", "error")
            return False
        label = f"Ustawienia → Dopasuj do bazy {time.strftime('%Y-%m-%d %H:%M')}"
        try:
            settings = update_settings(self.path, self.changes, keep_replaced=label, company=self.company)
        except ConfigError as exc:
            self.view.set_status(f"Nie zapisano: {exc}", "error")
            return False
        if self.on_saved is not None:
            self.on_saved(settings)
        self._close()
        return True

    def cancel(self) -> None:
        self._close()

    def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.view.close()
