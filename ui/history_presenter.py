"""The logic of the "Historia" window: recent journal entries and the actions on them.

The window (:mod:`ui.history`) is a dumb :class:`HistoryView`; everything it shows and every
action ("Wyślij ponownie", "Pomiń", "Otwórz zamówienie w BaseLinker", copying the error) is
decided here, on top of the same :class:`~agent.export.journal.Journal` calls as the command
line (``raksbl history`` / ``retry`` / ``skip``).

With entries of several companies in the journal (``[[company]]``) the window shows a "Firma"
column and a company filter (:meth:`HistoryView.show_companies`); with one company neither.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

from agent.export.dbkey import split_key
from agent.export.states import STATE_PL
from agent.export.journal import Journal, JournalEntry
from agent.notify_policy import plural

log = logging.getLogger(__name__)

ORDER_URL = "https://panel-e.baselinker.com/orders.php#order:{order_id}"
DOC_TYPE_PL = {"FS": "faktura", "PA": "paragon", "KS": "korekta"}
#: States "Wyślij ponownie" applies to (a skipped one is un-skipped).
RETRYABLE = ("failed", "in_doubt", "skipped")
FAILED = ("failed", "in_doubt")
DEFAULT_LIMIT = 500
#: The company of entries written before the file listed companies (not adopted by a run yet).
NO_COMPANY = "(bez nazwy)"

IN_DOUBT_WARNING = (
    "{count} z zaznaczonych dokumentów {verb} sprawdzenia: agent nie wie, czy BaseLinker utworzył "
    "już {for_them} fakturę, korektę lub paragon.\n\n"
    "Ponowienie najpierw sprawdzi zamówienie w BaseLinker i nie utworzy drugiego dokumentu, jeśli "
    "znajdzie nasz. Ale jeśli ktoś usunął go w BaseLinker albo zmienił jego numer, powstanie nowy — "
    "klient może dostać dwa dokumenty.\n\n"
    "Sprawdź najpierw zamówienie w BaseLinker („Otwórz zamówienie w BaseLinker”).\n\n"
    "Czy wysłać ponownie?"
)


def in_doubt_warning(count: int) -> str:
    """The confirmation text, in agreement with ``count`` (1 wymaga / 2 wymagają / 5 wymaga)."""
    verb = "wymagają" if plural(count, "a", "b", "c") == "b" else "wymaga"
    return IN_DOUBT_WARNING.format(count=count, verb=verb, for_them="dla niego" if count == 1 else "dla nich")


@dataclass(frozen=True)
class HistoryRow:
    """One table row, already in words."""

    id: int
    date: str
    doc_type: str
    number: str
    order_id: str
    result: str
    detail: str          # BaseLinker number, or the error
    state: str           # for the row's colour: done | failed | in_doubt | skipped | other
    error: str
    company: str = ""    # whose document ("" = the single company's)


def row_of(entry: JournalEntry) -> HistoryRow:
    detail = entry.bl_number or (f"id {entry.bl_doc_id}" if entry.bl_doc_id else "")
    if entry.state in ("failed", "in_doubt", "skipped") and entry.error:
        detail = entry.error
    return HistoryRow(
        id=entry.id,
        date=time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.updated_at)),
        doc_type=DOC_TYPE_PL.get(entry.doc_type, entry.doc_type),
        number=entry.number,
        order_id=str(entry.order_id) if entry.order_id is not None else "",
        result=STATE_PL.get(entry.state, entry.state) + (
            " (ponowienie zaplanowane)" if entry.retry_allowed and entry.state in FAILED else ""),
        detail=detail,
        state=entry.state if entry.state in ("done", "failed", "in_doubt", "skipped") else "other",
        error=entry.error or "",
        company=entry.company,
    )


def company_label(company: str) -> str:
    """How the window names a company (entries of no named company: "(bez nazwy)")."""
    return company or NO_COMPANY


def order_url(order_id: int | str) -> str:
    return ORDER_URL.format(order_id=order_id)


class HistoryView(Protocol):
    def show_rows(self, rows: Sequence[HistoryRow], selected: Sequence[int]) -> None:
        """Replace the table's rows; keep ``selected`` (row ids) selected."""

    def set_actions(self, enabled: dict[str, bool]) -> None:
        """Enable/disable ``retry``, ``skip``, ``open_order``, ``copy_error``."""

    def set_detail(self, text: str) -> None:
        """The full text (error) of the selected row below the table."""

    def set_status(self, text: str, kind: str = "") -> None:
        """The message line; ``kind``: "", "ok", "warning", "error"."""

    def confirm(self, title: str, text: str) -> bool:
        """Ask yes/no (modal)."""

    def set_clipboard(self, text: str) -> None: ...

    def show_companies(self, names: Sequence[str], selected: str | None) -> None:
        """The companies of the journal (labels): with two or more show the "Firma" column and
        the filter (``selected`` label, None = all); with fewer hide both."""

    def close(self) -> None: ...


class HistoryPresenter:
    """Loads the journal into the view and performs the actions on the selected rows."""

    def __init__(
        self,
        view: HistoryView,
        journal_factory: Callable[[], Journal] | None = None,
        *,
        open_url: Callable[[str], Any] | None = None,
        limit: int = DEFAULT_LIMIT,
        on_closed: Callable[[], None] | None = None,
    ):
        if journal_factory is None:
            from agent import paths

            journal_factory = lambda: Journal(paths.journal_path())  # noqa: E731
        if open_url is None:
            import webbrowser

            open_url = webbrowser.open
        self.view = view
        self._journal_factory = journal_factory
        self._journal: Journal | None = None
        self._open_url = open_url
        self.limit = limit
        self.on_closed = on_closed
        self.failed_only = False
        self.company: str | None = None  # the company filter (None = every company)
        self.companies: list[str] = []  # the companies the journal has entries of (two or more)
        self._companies_shown = False
        self.entries: dict[int, JournalEntry] = {}
        self.selected: list[int] = []
        self.closed = False

    @property
    def journal(self) -> Journal:
        if self._journal is None:
            self._journal = self._journal_factory()
        return self._journal

    # ------------------------------------------------------------------ showing

    def load(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Re-read the journal (keeps the selection of rows still shown)."""
        if self.closed:
            return
        try:
            self._read_companies()
            entries = self.journal.recent(self.limit, failed_only=self.failed_only, company=self.company)
        except Exception as exc:
            log.exception("cannot read the journal")
            self.view.set_status(f"Nie można odczytać dziennika: {exc}", "error")
            return
        self.entries = {e.id: e for e in entries}
        self.selected = [i for i in self.selected if i in self.entries]
        self.view.show_rows([row_of(e) for e in entries], self.selected)
        if not entries:
            self.view.set_status("Brak dokumentów z błędami." if self.failed_only else "Dziennik jest pusty.")
        else:
            failed = sum(1 for e in entries if e.state in FAILED)
            self.view.set_status(f"Dokumentów: {len(entries)}, z błędami lub do sprawdzenia: {failed}.")
        self._update_actions()

    def _read_companies(self) -> None:
        companies = sorted({split_key(key)[0] for key in self.journal.database_keys()})
        if len(companies) < 2:
            companies = []
        if self.company is not None and self.company not in companies:
            self.company = None  # its entries are gone (adopted by a renamed company): show all
        if companies != self.companies or not self._companies_shown:
            self.companies = companies
            self._companies_shown = True
            self.view.show_companies([company_label(c) for c in companies],
                                     None if self.company is None else company_label(self.company))

    @property
    def several(self) -> bool:
        return bool(self.companies)

    def set_company(self, label: str | None) -> None:
        """The company filter: a label from :meth:`HistoryView.show_companies`, None = all."""
        self.company = next((c for c in self.companies if company_label(c) == label), None)
        self.selected = []
        self.refresh()

    def set_failed_only(self, flag: bool) -> None:
        """The "tylko błędy" filter."""
        self.failed_only = bool(flag)
        self.refresh()

    def select(self, ids: Sequence[int]) -> None:
        self.selected = [int(i) for i in ids if int(i) in self.entries]
        self._update_actions()
        errors = [self.entries[i].error for i in self.selected if self.entries[i].error]
        if len(self.selected) == 1:
            e = self.entries[self.selected[0]]
            whose = f"{company_label(e.company)}: " if self.several else ""
            lines = [f"{whose}{DOC_TYPE_PL.get(e.doc_type, e.doc_type)} {e.number} — "
                     f"{STATE_PL.get(e.state, e.state)}, prób: {e.attempts}"]
            if e.error:
                lines.append(e.error)
            elif e.bl_number:
                lines.append(f"Numer w BaseLinker: {e.bl_number}")
            self.view.set_detail("\n".join(lines))
        else:
            self.view.set_detail("\n".join(errors))

    def _chosen(self) -> list[JournalEntry]:
        return [self.entries[i] for i in self.selected if i in self.entries]

    def _update_actions(self) -> None:
        chosen = self._chosen()
        self.view.set_actions({
            "retry": any(e.state in RETRYABLE for e in chosen),
            "skip": any(e.state != "done" and e.state != "skipped" for e in chosen),
            "open_order": any(e.order_id is not None for e in chosen),
            "copy_error": any(e.error for e in chosen),
        })

    # ------------------------------------------------------------------ actions

    def retry(self) -> int:
        """"Wyślij ponownie": failed, in-doubt (after a confirmation) or skipped documents.

        Returns how many documents were released for the next run.
        """
        chosen = [e for e in self._chosen() if e.state in RETRYABLE]
        if not chosen:
            self.view.set_status("Zaznacz dokument z błędem, do sprawdzenia albo pominięty.", "warning")
            return 0
        in_doubt = [e for e in chosen if e.state == "in_doubt"]
        if in_doubt and not self.view.confirm(
            "Wyślij ponownie — dokument do sprawdzenia", in_doubt_warning(len(in_doubt))
        ):
            self.view.set_status("Nie ponowiono.", "")
            return 0
        done = self._apply(chosen, self.journal.allow_retry)
        if done:
            self.view.set_status(
                f"Dokumentów do ponownego wysłania: {done}. Zostaną wysłane przy następnym uruchomieniu "
                "(o ile w RaksSQL mają status do wysłania).", "ok")
        return done

    def skip(self) -> int:
        """"Pomiń": never send these documents (undone by "Wyślij ponownie")."""
        chosen = [e for e in self._chosen() if e.state not in ("done", "skipped")]
        if not chosen:
            self.view.set_status("Zaznacz dokument, który nie został wysłany.", "warning")
            return 0
        names = ", ".join(e.number for e in chosen[:5]) + (" …" if len(chosen) > 5 else "")
        if not self.view.confirm(
            "Pomiń dokumenty",
            f"Agent nie będzie wysyłał: {names}.\n\nMożesz to cofnąć przyciskiem „Wyślij ponownie”. Pominąć?",
        ):
            return 0
        done = self._apply(chosen, self.journal.skip)
        if done:
            self.view.set_status(f"Pominięto dokumentów: {done}.", "ok")
        return done

    def _apply(self, entries: list[JournalEntry], action: Callable[[int], Any]) -> int:
        done, problems = 0, []
        for e in entries:
            try:
                action(e.id)
                done += 1
            except ValueError:
                problems.append(f"{e.number}: został już wysłany")
            except KeyError:
                problems.append(f"{e.number}: nie ma go już w dzienniku")
        self.refresh()
        if problems:
            self.view.set_status("Nie zmieniono: " + "; ".join(problems), "warning")
        return done

    def open_order(self) -> int:
        """"Otwórz zamówienie w BaseLinker": the order page of each selected row (at most 10)."""
        ids = []
        for e in self._chosen():
            if e.order_id is not None and e.order_id not in ids:
                ids.append(e.order_id)
        if not ids:
            self.view.set_status("Zaznaczony dokument nie ma numeru zamówienia BaseLinker.", "warning")
            return 0
        for order_id in ids[:10]:
            try:
                self._open_url(order_url(order_id))
            except Exception as exc:
                log.exception("cannot open the browser")
                self.view.set_status(f"Nie można otworzyć przeglądarki: {exc}", "error")
                return 0
        return min(len(ids), 10)

    def copy_error(self) -> str:
        """Copy the error text of the selected rows (one line per document) to the clipboard."""
        lines = [f"{e.number} (zam. {e.order_id or '?'}): {e.error}" if len(self.selected) > 1 else e.error
                 for e in self._chosen() if e.error]
        text = "\n".join(lines)
        if not text:
            self.view.set_status("Zaznaczony dokument nie ma treści błędu.", "warning")
            return ""
        self.view.set_clipboard(text)
        self.view.set_status("Skopiowano treść błędu do schowka.", "ok")
        return text

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        try:
            self.view.close()
        finally:
            if self.on_closed is not None:
                try:
                    self.on_closed()
                except Exception:
                    log.exception("on_closed callback failed")
