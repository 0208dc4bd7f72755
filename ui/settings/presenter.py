"""The presentation of the "Ustawienia" dialog: load, live look-ups, messages, save (Solaar-style).

The model — which settings the dialog edits, the validation table turning the form's text into
typed settings, what to write back — is :mod:`agent.settings_model`, in the core. The presenter
talks to a :class:`SettingsView` protocol: the view only shows what it is given
(values, dropdown choices, inline status texts) and reports what the user typed. So every
behaviour of the dialog is tested with a fake view (``tests/unit/test_settings_presenter.py``).

Fields are named by their settings key (``sync.interval_seconds``), so a :class:`ConfigError`
from :mod:`agent.settings` lands next to the field its ``key`` names. Extra fields:
``secret:baselinker-token`` / ``secret:raks-password`` (the keyring secrets, named like the
``key`` of the ConfigError :func:`agent.secrets.get_secret` raises), ``raks.server`` +
``raks.path`` (together ``raks.database``), ``test:baselinker`` / ``test:raks`` (the status
lines of the "Testuj połączenie" buttons) and ``banner`` (the dialog's message line).

Several companies (``[[company]]``): the dialog lists them (:meth:`SettingsView.set_companies`)
and its tabs show the SELECTED company's settings (a view, :meth:`Settings.for_company`); "Zapisz"
writes that company's tables (``update_settings(…, company=)``) and its own secrets
(``baselinker-token/<name>``); ``[sync]`` / ``[log]`` stay shared. Switching to another company,
or adding / renaming / removing one, with unsaved changes asks first: save, discard or stay
(edits are not kept per company: one company's form at a time is what the user sees and saves).
The list edits themselves are :mod:`agent.settings_companies`; they write the file at once.

Threading: look-ups run through the ``start_thread`` seam; their results come back through the
``call_in_ui`` seam (in the dialog: :meth:`ui.uiloop.UiLoop.poster`, the UI loop's one queue), so the view
is touched only from the thread that created it. A result that arrives after a newer look-up
was started, or after the dialog closed, is dropped.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from agent import lookups, paths
from agent import secrets as agent_secrets
from agent import settings_companies as companies
from agent.errors import ConfigError
from agent.raks.profile import DEFAULT_QUERIES, SPECS
from agent.settings import (
    LOG_LEVELS,
    MIN_INTERVAL_SECONDS,
    RaksSettings,
    Settings,
    load_settings,
    update_settings,
)
from agent.settings_model import (
    DB_PATH,
    PASSWORD,
    QUERIES,
    SERVER,
    TOKEN,
    changes_to_write,
    form_to_settings,
    join_database,
    lenient_settings,
    normalize_sql,  # the view compares the SQL editor with the defaults through the presenter
    query_overrides,
    remove_settings_keys,
    settings_to_form,
)
from agent.threads import start_daemon_thread

log = logging.getLogger(__name__)

TEST_BASELINKER = "test:baselinker"
TEST_RAKS = "test:raks"
BANNER = "banner"
NOTE_SYNC = "note:sync"  # "shared by every company" on the Synchronizacja tab
NOTE_LOG = "note:log"
SINGLE_COMPANY = "(jedna firma)"
SHARED_NOTE = "Wspólne dla wszystkich firm."

TABS: dict[str, tuple[str, ...]] = {
    "BaseLinker": (TOKEN, TEST_BASELINKER, "baselinker.requests_per_minute", "baselinker.api_url",
                   "baselinker.timeout_seconds"),
    "RaksSQL": (SERVER, DB_PATH, "raks.user", PASSWORD, "raks.charset", "raks.client_library", TEST_RAKS),
    "Dokumenty": ("raks.statuses_to_send", "raks.status_after_send", "raks.status_on_error", "raks.document_types",
                  "raks.not_before", "baselinker.invoice_series_id", "baselinker.receipt_series_id",
                  "baselinker.correction_series_id", "baselinker.number_field", "baselinker.order_status_on_success",
                  "baselinker.order_status_on_error"),
    "Synchronizacja": ("sync.auto", "sync.interval_seconds", "sync.max_documents_per_run", "sync.notifications"),
    "Zaawansowane": (QUERIES, "log.level"),
}
FIELD_ORDER: tuple[str, ...] = tuple(f for fields in TABS.values() for f in fields)

BASELINKER_FIELDS = ("baselinker.invoice_series_id", "baselinker.receipt_series_id",
                     "baselinker.correction_series_id", "baselinker.number_field",
                     "baselinker.order_status_on_success", "baselinker.order_status_on_error")
RAKS_FIELDS = ("raks.statuses_to_send", "raks.status_after_send", "raks.status_on_error")

MIN_INTERVAL = MIN_INTERVAL_SECONDS
LOADING = "ładowanie…"
NO_CHANGE = "nie zmieniaj"
NONE_CHOSEN = "— wybierz —"
CHARSETS = ("WIN1250", "UTF8", "NONE", "ISO8859_2")
DOCUMENT_TYPE_CHOICES = [("FS", "faktury (FS)"), ("PA", "paragony (PA)"), ("KS", "korekty (KS)")]
NOTIFICATION_CHOICES = [("all", "wszystkie"), ("errors", "tylko błędy"), ("none", "żadne")]
LOG_LEVEL_CHOICES = [(level, level) for level in LOG_LEVELS]
NUMBER_FIELD_BASE = [("none", "nigdzie"), ("extra_field_1", "pole dodatkowe 1"), ("extra_field_2", "pole dodatkowe 2")]
QUERY_CHOICES = [(name, f"{name} — {spec.description}") for name, spec in SPECS.items()]


class SettingsView(Protocol):
    """What the presenter needs from the dialog's widgets (all calls on the UI thread)."""

    def set_values(self, values: dict[str, Any]) -> None:
        """Show these field values (dropdowns and lists by value, see :meth:`set_choices`)."""

    def get_values(self) -> dict[str, Any]:
        """Every field's current value: text of entries, the chosen value of dropdowns, lists of
        checked values, bools of checkboxes, ``{name: sql}`` of the query editor."""

    def set_choices(self, field: str, choices: Sequence[tuple[Any, str]]) -> None:
        """Offer ``(value, label)`` pairs in a dropdown / multi-select (keeps the value if offered)."""

    def set_status(self, field: str, text: str, kind: str = "") -> None:
        """Inline text next to ``field``; ``kind`` is "", "loading", "ok", "warning" or "error"."""

    def set_busy(self, action: str, busy: bool) -> None:
        """Disable/enable the button of ``action`` (``test:baselinker``, ``test:raks``, ``save``)."""

    def focus_field(self, field: str) -> None:
        """Show the tab of ``field`` and put the cursor in it."""

    def close(self) -> None:
        """Destroy the window."""

    def set_companies(self, names: Sequence[str], selected: str, several: bool) -> None:
        """Show the list of companies with ``selected`` highlighted; a single-company file
        (``several`` False) shows one row, :data:`SINGLE_COMPANY`, and only "Dodaj firmę…"."""

    def ask_name(self, title: str, prompt: str, initial: str = "", error: str = "") -> str | None:
        """A modal question for a company's name (``error``: why the last answer was refused);
        None when cancelled."""

    def ask_unsaved(self, question: str) -> str:
        """Unsaved changes: "save", "discard" or "cancel" (stay)."""

    def confirm(self, question: str) -> bool:
        """A yes/no question (removing a company)."""

    # Optional: show_fit(raks_settings, password, config_path, on_saved) opens the
    # "Dopasuj do bazy" assistant (ui.settings.fit); a view without it simply has no assistant.


def _direct(fn: Callable[[], Any]) -> None:
    fn()



def field_for_key(key: str | None) -> str:
    """The dialog field showing the error of settings ``key`` (the banner when none does)."""
    if not key:
        return BANNER
    if key.startswith(QUERIES):
        return QUERIES
    if key == "raks.database":
        return DB_PATH
    return key if key in FIELD_ORDER else BANNER


def short_message(exc: ConfigError) -> str:
    """``"Ustawienie sync.x: najmniej 10 sekund."`` → ``"Najmniej 10 sekund."`` (the field says which)."""
    text = exc.detail  # the list of companies shows which one
    prefix = f"Ustawienie {exc.key}: "
    if exc.key and text.startswith(prefix):
        text = text[len(prefix):]
        text = text[:1].upper() + text[1:]
    return text


def _lookup_failure(exc: BaseException) -> str:
    """A failed BaseLinker look-up in Polish, once: an unreachable server is not the user's mistake."""
    from agent.baselinker.errors import TransportError

    if isinstance(exc, TransportError):
        return ("BaseLinker jest teraz nieosiągalny (brak połączenia), więc list nie wczytano. Ustawienia można "
                "zapisać; listy wczytasz tym przyciskiem, gdy połączenie wróci.")
    return lookups.describe_error(exc)


class SettingsPresenter:
    """Loads the settings into a :class:`SettingsView`, runs look-ups, validates and saves.

    ``on_saved(settings)`` is called (on the UI thread) after the file was written, so the
    running agent can apply the new settings; ``on_closed()`` when the dialog goes away.
    """

    def __init__(
        self,
        view: SettingsView,
        config_path: Path | str | None = None,
        *,
        on_saved: Callable[[Settings], None] | None = None,
        on_closed: Callable[[], None] | None = None,
        start_thread: Callable[..., Any] = start_daemon_thread,
        call_in_ui: Callable[[Callable[[], Any]], None] = _direct,
        baselinker_lookup: Callable[..., lookups.BaseLinkerCatalog] = lookups.load_baselinker_catalog,
        raks_lookup: Callable[..., lookups.RaksCatalog] = lookups.load_raks_catalog,
        secrets: Any = agent_secrets,
        opener: Callable[[Path], None] | None = None,
    ):
        self.view = view
        self.path = paths.config_path(config_path)
        self.on_saved = on_saved
        self.on_closed = on_closed
        self._start_thread = start_thread
        self._call_in_ui = call_in_ui
        self._baselinker_lookup = baselinker_lookup
        self._raks_lookup = raks_lookup
        self._secrets = secrets
        self._opener = opener
        self._cancel = threading.Event()
        self._generation = {TEST_BASELINKER: 0, TEST_RAKS: 0}
        self.closed = False
        self.first_run = False
        self.load_error: ConfigError | None = None
        self.settings = Settings(path=self.path)  # the selected company's view (the file: single company)
        self.file_settings = self.settings  # the whole file (every company)
        self.company = ""  # the selected company ("" = a single-company file)
        self._baseline: Settings | None = None  # what the file holds (None: unknown → write every key)
        self._shared_secret: dict[str, bool] = {}  # a company's empty secret field falls back to these
        self._loaded_secrets: dict[str, str] = {}
        self.baselinker_catalog: lookups.BaseLinkerCatalog | None = None
        self.raks_catalog: lookups.RaksCatalog | None = None
        self._shown_errors: set[str] = set()

    # ------------------------------------------------------------------ loading

    def load(self, *, lookups_now: bool = True, company: str | None = None) -> None:
        """Fill the view from the file (or the defaults on a first start), then start look-ups.

        ``company`` selects the company whose settings the tabs show (default: the one a load
        error names, else the first).
        """
        self.first_run = not self.path.exists()
        self.load_error = None
        if self.first_run:
            whole = Settings(path=self.path)
            self._baseline = whole
        else:
            try:
                whole = load_settings(self.path)
                self._baseline = whole
            except ConfigError as exc:
                self.load_error = exc
                whole = lenient_settings(self.path)
                self._baseline = None
        self.file_settings = whole
        self.company = self._pick_company(whole, company, self.load_error)
        self.settings = whole.for_company(self.company) if self.company else whole
        if self._baseline is not None and self.company:
            self._baseline = self.settings
        self._forget_company_state()
        values = settings_to_form(self.settings)
        for field, name in ((TOKEN, agent_secrets.BASELINKER_TOKEN), (PASSWORD, agent_secrets.RAKS_PASSWORD)):
            self._loaded_secrets[field] = self._read_secret(name)
            values[field] = self._loaded_secrets[field]
        self.view.set_companies(list(whole.company_names) or [SINGLE_COMPANY], self.company or SINGLE_COMPANY,
                                whole.several)

        self.view.set_choices("raks.charset", [(c, c) for c in CHARSETS])
        self.view.set_choices("raks.document_types", DOCUMENT_TYPE_CHOICES)
        self.view.set_choices("sync.notifications", NOTIFICATION_CHOICES)
        self.view.set_choices("log.level", LOG_LEVEL_CHOICES)
        self.view.set_choices(QUERIES, QUERY_CHOICES)
        self._offer_baselinker_choices(values, None)
        self._offer_raks_choices(values, None)
        self.view.set_values(values)
        shared = SHARED_NOTE if whole.several else ""
        self.view.set_status(NOTE_SYNC, shared, "")
        self.view.set_status(NOTE_LOG, shared, "")
        self._show_fallbacks(values)

        if self.first_run:
            self.view.set_status(BANNER, f"Pierwsze uruchomienie: uzupełnij ustawienia i kliknij „Zapisz” "
                                         f"(plik zostanie utworzony: {self.path}).", "warning")
        elif self.load_error is not None:
            field = field_for_key(self.load_error.key)
            if field != BANNER:
                self._show_error(field, short_message(self.load_error))
            self.view.set_status(BANNER, f"Plik ustawień zawiera błąd: {self.load_error} "
                                         "Popraw go tutaj i zapisz.", "error")
        else:
            whose = f" — firma {self.company}" if self.company else ""
            self.view.set_status(BANNER, f"Plik ustawień: {self.path}{whose}", "")

        if not lookups_now:
            return
        if values[TOKEN] or self._shared_secret.get(TOKEN):
            self.test_baselinker()
        else:
            self.view.set_status(BASELINKER_FIELDS[0], "Listy z BaseLinker wczytają się po wpisaniu tokenu i "
                                                       "„Testuj połączenie” na zakładce BaseLinker.", "")
        if (values[PASSWORD] or self._shared_secret.get(PASSWORD)) and values[DB_PATH]:
            self.test_raks()
        else:
            self.view.set_status(RAKS_FIELDS[0], "Statusy wczytają się po uzupełnieniu zakładki RaksSQL i "
                                                 "„Testuj połączenie”.", "")

    @staticmethod
    def _pick_company(whole: Settings, wanted: str | None, error: ConfigError | None) -> str:
        """The company to show: the one asked for, else the one a load error names, else the first."""
        names = whole.company_names
        if not names:
            return ""
        for candidate in (wanted, error.company if error is not None else ""):
            for name in names:
                if candidate and name.casefold() == candidate.casefold():
                    return name
        return names[0]

    def _forget_company_state(self) -> None:
        """Another company (or the same one re-read): its look-ups and messages start afresh."""
        for which in self._generation:
            self._next(which)  # a look-up still running for the previous company is dropped
            self.view.set_busy(which, False)
        self.baselinker_catalog = self.raks_catalog = None
        self._clear_errors()
        for field in (TEST_BASELINKER, TEST_RAKS, TOKEN, PASSWORD, *BASELINKER_FIELDS, *RAKS_FIELDS):
            self.view.set_status(field, "", "")
        self._shared_secret = {}

    def _read_secret(self, name: str) -> str:
        """The secret the field shows: a company's OWN one (the shared one is its fallback, said
        next to the field), or for a single-company file the one the agent uses."""
        field = TOKEN if name == agent_secrets.BASELINKER_TOKEN else PASSWORD
        try:
            if self.company:
                self._shared_secret[field] = companies.shared_secret_present(name)
                return companies.own_secret(name, self.company)[0]
            return self._secrets.get_secret(name)
        except ConfigError:
            return ""
        except Exception:  # a broken keyring must not stop the dialog from opening
            log.exception("cannot read the secret %s", name)
            return ""

    def _show_fallbacks(self, values: dict[str, Any]) -> None:
        """An empty secret field of a company with the shared secret present: say it is used."""
        texts = {TOKEN: "Pole puste: używany wspólny token (zapisany bez nazwy firmy). Wpisz tu własny, jeśli "
                        f"firma {self.company} ma inne konto BaseLinker.",
                 PASSWORD: "Pole puste: używane wspólne hasło (zapisane bez nazwy firmy). Wpisz tu własne, jeśli "
                           f"baza firmy {self.company} ma inne."}
        for field, text in texts.items():
            if self.company and not values.get(field) and self._shared_secret.get(field):
                self.view.set_status(field, text, "")

    def _secret_in_use(self, values: dict[str, Any], field: str) -> str:
        """What the agent would use for ``field``: the typed value, else (a company) the shared one."""
        typed = values.get(field) or ""
        if field == TOKEN:
            typed = typed.strip()
        if typed.strip() or not (self.company and self._shared_secret.get(field)):
            return typed
        name = agent_secrets.BASELINKER_TOKEN if field == TOKEN else agent_secrets.RAKS_PASSWORD
        try:
            return self._secrets.get_secret(name, self.company)
        except Exception:
            return ""

    # ------------------------------------------------------------------ choices

    def _offer_baselinker_choices(self, values: dict[str, Any], catalog: lookups.BaseLinkerCatalog | None) -> None:
        """Dropdowns of BaseLinker things; the current value is always offered (marked when missing)."""
        missing = "nie ma go w BaseLinker" if catalog is not None else "lista nie wczytana"
        warnings: dict[str, str] = {}

        def with_current(field: str, choices: list[tuple[Any, str]], label: Callable[[Any], str], what: str):
            current = values.get(field)
            if current not in (None, 0, "", "none") and current not in [v for v, _ in choices]:
                choices.append((current, f"{label(current)} ({missing})"))
                if catalog is not None:
                    warnings[field] = f"Wybrany element ({current}) nie istnieje w BaseLinker — wybierz {what} z listy."
            self.view.set_choices(field, choices)

        for field, series_type, what in (("baselinker.invoice_series_id", "INVOICE", "serię faktur"),
                                         ("baselinker.receipt_series_id", "RECEIPT", "serię paragonów"),
                                         ("baselinker.correction_series_id", "CORRECTION", "serię korekt")):
            series = catalog.series_of_type(series_type) if catalog else []
            choices = [(0, NONE_CHOSEN)] + [(s.id, f"{s.name} ({s.format}) — id {s.id}" if s.format else
                                             f"{s.name} — id {s.id}") for s in series]
            with_current(field, choices, lambda v: f"seria id {v}", what)
        fields = catalog.extra_fields if catalog else ()
        # The number goes only into a text field: other extra fields are not offered.
        text_fields = [f for f in fields if f.editor_type == "text"]
        choices = list(NUMBER_FIELD_BASE) + [(f"custom:{f.id}", f"pole własne: {f.name}") for f in text_fields]
        with_current("baselinker.number_field", choices, lambda v: f"pole {v}", "pole")
        current = str(values.get("baselinker.number_field") or "")
        wrong = next((f for f in fields if current == f"custom:{f.id}" and f.editor_type != "text"), None)
        if wrong is not None:
            warnings["baselinker.number_field"] = (
                f"Pole „{wrong.name}” jest typu {wrong.editor_type or 'nieznanego'} — numer można zapisać tylko "
                "w polu tekstowym; wybierz inne pole.")
        for field in ("baselinker.order_status_on_success", "baselinker.order_status_on_error"):
            statuses = catalog.order_statuses if catalog else ()
            choices = [(0, NO_CHANGE)] + [(s.id, s.name) for s in statuses]
            with_current(field, choices, lambda v: f"status id {v}", "status")
        for field, text in warnings.items():
            self.view.set_status(field, text, "warning")

    def _offer_raks_choices(self, values: dict[str, Any], catalog: lookups.RaksCatalog | None) -> None:
        known = dict(catalog.statuses) if catalog else {}

        def label(status_id: int) -> str:
            if status_id not in known:
                return f"status id {status_id} ({'nie ma go w bazie' if catalog else 'lista nie wczytana'})"
            return f"{known[status_id]} — dokumentów: {catalog.count(status_id)}"

        ids = list(known)
        to_send = ids + [s for s in values.get("raks.statuses_to_send", []) if s not in known]
        self.view.set_choices("raks.statuses_to_send", [(s, label(s)) for s in to_send])
        after = values.get("raks.status_after_send")
        choices = [(0, NONE_CHOSEN)] + [(s, label(s)) for s in ids]
        if after and after not in known:
            choices.append((after, label(after)))
        self.view.set_choices("raks.status_after_send", choices)
        on_error = values.get("raks.status_on_error")
        choices = [(0, NO_CHANGE)] + [(s, label(s)) for s in ids]
        if on_error and on_error not in known:
            choices.append((on_error, label(on_error)))
        self.view.set_choices("raks.status_on_error", choices)
        if catalog is not None:
            for field in RAKS_FIELDS:
                chosen = values.get(field)
                chosen = chosen if isinstance(chosen, list) else [chosen]
                unknown = [s for s in chosen if s and s not in known]
                if unknown:
                    self.view.set_status(field, f"Statusu {', '.join(map(str, unknown))} nie ma w bazie RaksSQL.",
                                         "warning")

    # ------------------------------------------------------------------ look-ups / tests

    def test_baselinker(self) -> None:
        """"Testuj połączenie" (BaseLinker): load series, order statuses and extra fields."""
        if self.closed:
            return
        values = self.view.get_values()
        token = self._secret_in_use(values, TOKEN)
        api_url = (values.get("baselinker.api_url") or "").strip()
        if not token:
            self.view.set_status(TEST_BASELINKER, "Wpisz token API BaseLinker.", "error")
            return
        if not api_url.startswith(("http://", "https://")):
            self.view.set_status(TEST_BASELINKER, "Adres API musi zaczynać się od http:// lub https://.", "error")
            return
        rpm = self.settings.baselinker.requests_per_minute  # the saved budget: the agent shares the limiter
        gen = self._next(TEST_BASELINKER)
        self.view.set_busy(TEST_BASELINKER, True)
        self.view.set_status(TEST_BASELINKER, "Łączenie z BaseLinker…", "loading")
        for field in BASELINKER_FIELDS:
            self.view.set_status(field, LOADING, "loading")

        def work() -> None:
            try:
                result: Any = self._baselinker_lookup(token, api_url, requests_per_minute=rpm,
                                                      timeout=lookups.LOOKUP_TIMEOUT_SECONDS, cancel=self._cancel)
                ok = True
            except BaseException as exc:  # everything reaches the dialog, nothing kills the thread
                result, ok = exc, False
            self._call_in_ui(lambda: self._baselinker_done(gen, ok, result))

        self._start_thread(work, name="raksbl-settings-baselinker")

    def _baselinker_done(self, gen: int, ok: bool, result: Any) -> None:
        if self.closed or gen != self._generation[TEST_BASELINKER]:
            return
        self.view.set_busy(TEST_BASELINKER, False)
        if ok:
            self.baselinker_catalog = result
            for field in BASELINKER_FIELDS:
                self.view.set_status(field, "", "")
            values = self.view.get_values()
            self._offer_baselinker_choices(values, result)
            self.view.set_values({f: values.get(f) for f in BASELINKER_FIELDS})
            self.view.set_status(TEST_BASELINKER, result.summary(), "ok")
        else:
            # Said once, next to the button; the fields keep their values (they can still be saved).
            self.view.set_status(TEST_BASELINKER, _lookup_failure(result), "error")
            for field in BASELINKER_FIELDS:
                self.view.set_status(field, "", "")

    def test_raks(self) -> None:
        """"Testuj połączenie" (RaksSQL): server version, status dictionary, counts per status."""
        if self.closed:
            return
        values = self.view.get_values()
        overrides, error = query_overrides(values)
        if error:
            self.view.set_status(TEST_RAKS, error, "error")
            self._show_error(QUERIES, error)
            return
        candidate = self._raks_candidate(values, queries=overrides)
        if candidate is None:
            return
        password = self._secret_in_use(values, PASSWORD)
        gen = self._next(TEST_RAKS)
        self.view.set_busy(TEST_RAKS, True)
        self.view.set_status(TEST_RAKS, "Łączenie z bazą RaksSQL…", "loading")
        for field in RAKS_FIELDS:
            self.view.set_status(field, LOADING, "loading")

        def work() -> None:
            try:
                result: Any = self._raks_lookup(candidate, password)
                ok = True
            except BaseException as exc:
                result, ok = exc, False
            self._call_in_ui(lambda: self._raks_done(gen, ok, result))

        self._start_thread(work, name="raksbl-settings-raks")

    def _raks_candidate(self, values: dict, **changes: Any) -> RaksSettings | None:
        """The RaksSQL settings as typed in the tab (saved or not); None (said next to the test
        button) when no database path is given."""
        database = join_database(values.get(SERVER, ""), values.get(DB_PATH, ""))
        if not database:
            self.view.set_status(TEST_RAKS, "Podaj ścieżkę bazy firmy.", "error")
            return None
        return dataclasses.replace(
            self.settings.raks, database=database, user=(values.get("raks.user") or "").strip(),
            charset=values.get("raks.charset") or "WIN1250",
            client_library=(values.get("raks.client_library") or "").strip(), **changes,
        )

    def _raks_done(self, gen: int, ok: bool, result: Any) -> None:
        if self.closed or gen != self._generation[TEST_RAKS]:
            return
        self.view.set_busy(TEST_RAKS, False)
        if ok:
            self.raks_catalog = result
            for field in RAKS_FIELDS:
                self.view.set_status(field, "", "")
            values = self.view.get_values()
            self._offer_raks_choices(values, result)
            self.view.set_values({f: values.get(f) for f in RAKS_FIELDS})
            self.view.set_status(TEST_RAKS, result.summary(), "ok")
        else:
            message = lookups.describe_error(result)
            self.view.set_status(TEST_RAKS, message, "error")
            if isinstance(result, ConfigError) and field_for_key(result.key) == QUERIES:
                self._show_error(QUERIES, message)
            for field in RAKS_FIELDS:
                self.view.set_status(field, "", "")

    # ------------------------------------------------------------------ "Dopasuj do bazy…"

    def open_fit(self) -> None:
        """Open the profile assistant for the database typed in the RaksSQL tab (saved or not)."""
        if self.closed:
            return
        values = self.view.get_values()
        candidate = self._raks_candidate(values)
        if candidate is None:
            return
        show = getattr(self.view, "show_fit", None)
        if show is None:
            return
        password = self._secret_in_use(values, PASSWORD)
        if self.company:  # the assistant writes this company's tables
            show(candidate, password, self.path, self.adopt_fitted, company=self.company)
        else:
            show(candidate, password, self.path, self.adopt_fitted)

    def adopt_fitted(self, settings: Settings) -> None:
        """The assistant wrote the profile: show its statuses and statements in this dialog too,
        and treat them as what the file holds (so "Zapisz" here does not undo them)."""
        if self.closed:
            return
        self.file_settings = settings
        if self.company:
            settings = settings.for_company(self.company)
        self.settings = settings
        if self._baseline is not None:
            self._baseline = settings
        fresh = settings_to_form(settings)
        self._offer_raks_choices(fresh, None)  # the new ids must be offered before they can be shown
        self.view.set_values({k: fresh[k] for k in (*RAKS_FIELDS, QUERIES) if k in fresh})
        self.view.set_status(TEST_RAKS, "Zapisano profil dopasowany do bazy.", "ok")
        self.test_raks()

    def _next(self, which: str) -> int:
        self._generation[which] += 1
        return self._generation[which]

    # ------------------------------------------------------------------ small actions

    def choose_database_file(self, path: str) -> None:
        """A file picked with the file dialog becomes the database path (the server stays)."""
        if path:
            self.view.set_values({DB_PATH: str(path)})

    def choose_client_library(self, path: str) -> None:
        if path:
            self.view.set_values({"raks.client_library": str(path)})

    def restore_default_query(self, name: str) -> None:
        """"Przywróć domyślne": the statement goes back to the built-in SQL (saved with "Zapisz")."""
        if name not in DEFAULT_QUERIES:
            return
        queries = dict(self.view.get_values().get(QUERIES) or {})
        queries[name] = DEFAULT_QUERIES[name]
        self.view.set_values({QUERIES: queries})
        self.view.set_status(QUERIES, f"Przywrócono domyślne zapytanie {name} (zapisz, aby zastosować).", "ok")

    def restore_all_default_queries(self) -> None:
        self.view.set_values({QUERIES: {name: DEFAULT_QUERIES[name] for name in SPECS}})
        self.view.set_status(QUERIES, "Przywrócono wszystkie domyślne zapytania (zapisz, aby zastosować).", "ok")

    def open_log_folder(self) -> None:
        opener = self._opener
        if opener is None:
            from ui.opener import open_path as opener  # the OS default application
        try:
            opener(paths.log_dir())
        except Exception as exc:
            log.exception("cannot open the log folder")
            self.view.set_status("log.level", f"Nie można otworzyć folderu logów: {exc}", "error")

    # ------------------------------------------------------------------ validation and saving

    def validate(self, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """Typed settings values from the form and Polish messages per field (the model's table).

        A company's empty token field is fine when the shared token is there (its fallback).
        """
        typed, errors = form_to_settings(values)
        if self.company and self._shared_secret.get(TOKEN):
            errors.pop(TOKEN, None)
        return typed, errors

    def _show_error(self, field: str, message: str) -> None:
        self._shown_errors.add(field)
        self.view.set_status(field, message, "error")

    def _clear_errors(self) -> None:
        for field in self._shown_errors:
            self.view.set_status(field, "", "")
        self._shown_errors.clear()

    def unsaved(self) -> bool:
        """Whether the form differs from what the file and the keyring hold."""
        if self.closed:
            return False
        values = self.view.get_values()
        typed, errors = self.validate(values)
        errors.pop(TOKEN, None)  # an empty token is not a change
        if errors:
            return True
        changes, removals = changes_to_write(self._baseline, self.settings, typed)
        if changes or removals:
            return True
        return any((values.get(f) or "") != self._loaded_secrets.get(f, "") for f in (TOKEN, PASSWORD))

    def save(self) -> bool:
        """"Zapisz": validate, write the file (atomically, comments kept) and the secrets; close.

        Returns True when everything was saved and the dialog closed.
        """
        if self._write():
            self._close()
            return True
        return False

    def _write(self) -> bool:
        """Validate and write the selected company's settings and secrets (the dialog stays)."""
        if self.closed:
            return False
        values = self.view.get_values()
        self._clear_errors()
        typed, errors = self.validate(values)
        if errors:
            for field, message in errors.items():
                self._show_error(field, message)
            first = min(errors, key=lambda f: FIELD_ORDER.index(f) if f in FIELD_ORDER else len(FIELD_ORDER))
            self.view.focus_field(first)
            count = len(errors)
            self.view.set_status(BANNER, f"Nie zapisano — popraw zaznaczone pola ({count}).", "error")
            return False

        changes, removals = changes_to_write(self._baseline, self.settings, typed)
        self.view.set_busy("save", True)
        try:
            if changes or not self.path.exists():
                settings = update_settings(self.path, changes, company=self.company)
            else:
                settings = load_settings(self.path)
            if removals:
                settings = remove_settings_keys(self.path, removals, company=self.company)
        except ConfigError as exc:
            field = field_for_key(exc.key)
            if exc.company and exc.company.casefold() != self.company.casefold():
                # Another company's table is wrong (edited by hand): name it, write nothing.
                self.view.set_status(BANNER, f"Nie zapisano: {exc} Wybierz firmę {exc.company} z listy i popraw "
                                             "ją (zmiany tej firmy zapisz potem ponownie).", "error")
            elif field != BANNER:
                self._show_error(field, short_message(exc))
                self.view.focus_field(field)
                self.view.set_status(BANNER, "Nie zapisano — popraw zaznaczone pole.", "error")
            else:
                self.view.set_status(BANNER, f"Nie zapisano: {exc}", "error")
            return False
        except OSError as exc:
            self.view.set_status(BANNER, f"Nie można zapisać pliku ustawień {self.path}: {exc}", "error")
            return False
        finally:
            self.view.set_busy("save", False)
        log.info("settings saved to %s (%d keys changed%s)", self.path, len(changes) + len(removals),
                 f", company {self.company}" if self.company else "")
        self.file_settings = settings
        self.settings = self._baseline = settings.for_company(self.company) if self.company else settings
        self.load_error = None
        self.first_run = False

        failed = []
        for field, name in ((TOKEN, agent_secrets.BASELINKER_TOKEN), (PASSWORD, agent_secrets.RAKS_PASSWORD)):
            value = values.get(field) or ""
            if value == self._loaded_secrets.get(field, ""):
                continue
            try:
                if self.company:
                    self._secrets.set_secret(name, value, self.company)
                else:
                    self._secrets.set_secret(name, value)
                self._loaded_secrets[field] = value
            except Exception as exc:
                log.warning("cannot store the secret %s: %s", name, type(exc).__name__)
                self._show_error(field, f"Nie zapisano w magazynie haseł systemu: {exc}")
                failed.append(field)

        self._notify_saved(settings)
        if failed:
            self.view.focus_field(failed[0])
            self.view.set_status(BANNER, "Ustawienia zapisano, ale magazyn haseł systemu odmówił zapisu sekretu "
                                         "(zob. pole). Możesz użyć zmiennej środowiskowej "
                                         f"{agent_secrets.env_var(agent_secrets.BASELINKER_TOKEN, self.company)}.",
                                 "error")
            return False
        return True

    # ------------------------------------------------------------------ the list of companies

    def _settle_unsaved(self, before: str) -> bool:
        """Unsaved changes before switching / editing the list: save them, drop them, or stay.
        True when the action may go on."""
        if not self.unsaved():
            return True
        whose = f"firmy {self.company}" if self.company else "ustawień"
        answer = self.view.ask_unsaved(f"Zmiany {whose} nie są zapisane. Zapisać je, zanim {before}?")
        if answer == "save":
            return self._write()
        return answer == "discard"

    def select_company(self, name: str) -> None:
        """The user picked company ``name`` in the list: show its settings."""
        if self.closed or not self.file_settings.several or name == self.company:
            return
        if not self._settle_unsaved(f"przejdziesz do firmy {name}"):
            self._show_companies()  # the list goes back to the company still shown
            return
        self.load(company=name)

    def _show_companies(self) -> None:
        whole = self.file_settings
        self.view.set_companies(list(whole.company_names) or [SINGLE_COMPANY], self.company or SINGLE_COMPANY,
                                whole.several)

    def _ask_name(self, title: str, prompt: str, check: Callable[[str], str], initial: str = "") -> str | None:
        """Ask until the name passes ``check`` (its Polish message shown in the question) or the
        user cancels."""
        error = ""
        while True:
            answer = self.view.ask_name(title, prompt, initial, error)
            if answer is None:
                return None
            try:
                return check(answer)
            except ConfigError as exc:
                error, initial = str(exc), answer

    def _edited(self, edit: companies.CompanyEdit, company: str, done: str) -> None:
        """A list edit was written: show ``company``, tell the running agent, say what happened."""
        self._notify_saved(edit.settings)
        self.load(company=company)
        notes = " ".join(edit.notes)
        self.view.set_status(BANNER, f"{done} {notes}".strip(), "ok")

    def _list_edit(self, action: Callable[[], companies.CompanyEdit], company: str, done: str) -> None:
        try:
            edit = action()
        except ConfigError as exc:
            self.view.set_status(BANNER, f"Nie zmieniono listy firm: {exc}", "error")
            return
        except OSError as exc:
            self.view.set_status(BANNER, f"Nie można zapisać pliku ustawień {self.path}: {exc}", "error")
            return
        self._edited(edit, company, done)

    def add_company(self) -> None:
        """"Dodaj firmę…": a new company from the template. A single-company file first becomes a
        list: its company needs a name too (asked first)."""
        if self.closed or not self._settle_unsaved("dodasz firmę"):
            return
        names = list(self.file_settings.company_names)
        first = ""
        if not self.file_settings.several:
            first = self._ask_name(
                "Nazwa obecnej firmy",
                "Ustawienia opisują teraz jedną firmę. Aby dodać kolejną, nadaj nazwę obecnej (np. sklep-a; "
                "litery bez polskich znaków, cyfry, „-” i „_”):", companies.check_name) or ""
            if not first:
                return
            names = [first]
        name = self._ask_name("Nowa firma", "Nazwa nowej firmy (np. sklep-b):",
                              lambda n: companies.check_name(n, names))
        if name is None:
            return

        def action() -> companies.CompanyEdit:
            if first:
                companies.to_companies(self.path, first)
            return companies.add_company(self.path, name)

        self._list_edit(action, name, f"Dodano firmę {name}: uzupełnij jej ustawienia i kliknij „Zapisz”.")

    def duplicate_company(self) -> None:
        """"Duplikuj…": a copy of the selected company's settings, without its secrets."""
        if self.closed or not self.company or not self._settle_unsaved("powielisz firmę"):
            return
        source, names = self.company, list(self.file_settings.company_names)
        name = self._ask_name("Duplikuj firmę", f"Nazwa nowej firmy (kopia ustawień firmy {source}, bez tokenu "
                                                "i hasła):", lambda n: companies.check_name(n, names))
        if name is None:
            return
        self._list_edit(lambda: companies.add_company(self.path, name, copy_from=source), name,
                        f"Dodano firmę {name} (kopia {source}).")

    def rename_company(self) -> None:
        """"Zmień nazwę…": the file and the company's keyring secrets follow."""
        if self.closed or not self.company or not self._settle_unsaved("zmienisz nazwę firmy"):
            return
        old, names = self.company, list(self.file_settings.company_names)
        name = self._ask_name("Zmień nazwę firmy", f"Nowa nazwa firmy {old}:",
                              lambda n: companies.check_name(n, names, renaming=old), initial=old)
        if name is None or name == old:
            return
        self._list_edit(lambda: companies.rename_company(self.path, old, name, secrets=self._secrets), name,
                        f"Zmieniono nazwę firmy {old} na {name}.")

    def remove_company(self) -> None:
        """"Usuń": after a confirmation, the company and its own secrets go (never the last one)."""
        if self.closed or not self.company:
            return
        name, names = self.company, self.file_settings.company_names
        if len(names) <= 1:
            self.view.set_status(BANNER, f"Nie można usunąć firmy {name}: to jedyna firma w ustawieniach.", "error")
            return
        if not self.view.confirm(f"Usunąć firmę {name} z ustawień? Jej token i hasło zostaną usunięte z magazynu "
                                 "haseł systemu. Historia wysłanych dokumentów zostaje."):
            return
        rest = [n for n in names if n != name]
        self.load_error = None
        self._list_edit(lambda: companies.remove_company(self.path, name, secrets=self._secrets), rest[0],
                        f"Usunięto firmę {name}.")

    def _notify_saved(self, settings: Settings) -> None:
        if self.on_saved is None:
            return
        try:
            self.on_saved(settings)
        except Exception:  # the file is saved; the agent picks it up on its next read anyway
            log.exception("on_saved callback failed")

    def cancel(self) -> None:
        """"Anuluj" / closing the window: nothing is written; running look-ups are abandoned."""
        if not self.closed:
            log.debug("settings dialog cancelled")
        self._close()

    def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._cancel.set()
        try:
            self.view.close()
        finally:
            if self.on_closed is not None:
                try:
                    self.on_closed()
                except Exception:
                    log.exception("on_closed callback failed")
