"""The settings dialog's logic, driven through a fake view (no Tk): load, look-ups, validation, save."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import keyring
import pytest

from agent import lookups, secrets, settings_model
from agent.baselinker.errors import AuthError, TransportError
from agent.raks.errors import RaksConnectionError
from agent.raks.profile import DEFAULT_QUERIES, LOCK_DOCUMENT, STATUSES
from agent.settings import load_settings, update_settings, write_default_settings
from tests.support.file_keyring import install_file_keyring
from ui.settings import presenter as p

TOKEN = "tok-123"
CATALOG = lookups.BaseLinkerCatalog(
    series=(
        lookups.Series(15, "INVOICE", "Faktury", "%N/%M/%Y"),
        lookups.Series(16, "INVOICE", "Faktury Allegro", "A/%N/%Y"),
        lookups.Series(61178, "RECEIPT", "Paragony", "PAR/%N/%Y"),
        lookups.Series(99, "CORRECTION", "Korekty", "K/%N"),
    ),
    order_statuses=(lookups.OrderStatus(3000, "Nowe"), lookups.OrderStatus(3001, "Wysłano dokument")),
    # Only text fields may take the number: the radio field must never be offered.
    extra_fields=(lookups.ExtraField(135, "Numer z RaksSQL", "text"), lookups.ExtraField(136, "Typ klienta", "radio")),
)
RAKS = lookups.RaksCatalog(
    server_version="WI-V3.0.11 Firebird 3.0",
    statuses=((1, "Nowy"), (2, "Do wysłania"), (3, "Wysłany do BaseLinker"), (4, "Błąd wysyłki")),
    counts={(2, "FS"): 3, (2, "PA"): 1, (3, "FS"): 7},
)


class FakeView:
    def __init__(self):
        self.values: dict = {}
        self.choices: dict = {}
        self.status: dict = {}
        self.busy: dict = {}
        self.focused: list = []
        self.closed = False
        self.calls_after_close: list = []

    def _record(self, name):
        if self.closed:
            self.calls_after_close.append(name)

    def set_values(self, values):
        self._record("set_values")
        self.values.update(copy.deepcopy(values))

    def get_values(self):
        return copy.deepcopy(self.values)

    def set_choices(self, field, choices):
        self._record("set_choices")
        self.choices[field] = list(choices)

    def set_status(self, field, text, kind=""):
        self._record("set_status")
        self.status[field] = (text, kind)

    def set_busy(self, action, busy):
        self.busy[action] = busy

    def focus_field(self, field):
        self.focused.append(field)

    def close(self):
        self.closed = True

    # the list of companies and the questions (answers queued by the test)
    companies: tuple = ((), "", False)
    names_to_answer: list
    unsaved_answer = "cancel"
    confirm_answer = True

    def set_companies(self, names, selected, several):
        self._record("set_companies")
        self.companies = (list(names), selected, several)

    def ask_name(self, title, prompt, initial="", error=""):
        self.asked = getattr(self, "asked", []) + [(title, prompt, initial, error)]
        answers = getattr(self, "names_to_answer", [])
        return answers.pop(0) if answers else None

    def ask_unsaved(self, question):
        self.questions = getattr(self, "questions", []) + [question]
        return self.unsaved_answer

    def confirm(self, question):
        self.questions = getattr(self, "questions", []) + [question]
        return self.confirm_answer

    # helpers
    def choice_values(self, field):
        return [v for v, _ in self.choices[field]]

    def text(self, field):
        return self.status.get(field, ("", ""))[0]

    def kind(self, field):
        return self.status.get(field, ("", ""))[1]


class ManualThreads:
    """The start_thread seam: work waits until the test runs it (look-ups "in the background")."""

    def __init__(self):
        self.pending: list = []

    def __call__(self, fn, name=None):
        self.pending.append((name, fn))

    def run(self, index: int = 0):
        name, fn = self.pending.pop(index)
        fn()
        return name

    def run_all(self):
        while self.pending:
            self.run()


class FakeLookups:
    def __init__(self, bl=CATALOG, raks=RAKS):
        self.bl_result, self.raks_result = bl, raks
        self.bl_calls: list = []
        self.raks_calls: list = []

    def baselinker(self, token, api_url, **kwargs):
        self.bl_calls.append((token, api_url, kwargs))
        if isinstance(self.bl_result, BaseException):
            raise self.bl_result
        return self.bl_result

    def raks(self, raks_settings, password):
        self.raks_calls.append((raks_settings, password))
        if isinstance(self.raks_result, BaseException):
            raise self.raks_result
        return self.raks_result


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.delenv("RAKSBL_BASELINKER_TOKEN", raising=False)
    monkeypatch.delenv("RAKSBL_RAKS_PASSWORD", raising=False)
    monkeypatch.delenv("RAKSBL_CONFIG", raising=False)
    monkeypatch.setenv("RAKSBL_DATA_DIR", str(tmp_path / "data"))
    backend, previous = install_file_keyring(tmp_path)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def config(tmp_path):
    return tmp_path / "cfg" / "raksbl.toml"


def configured_file(path: Path, **changes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    base = {"baselinker.invoice_series_id": 15, "baselinker.receipt_series_id": 61178,
            "raks.database": "localhost:C:/RAKS/F00001.fdb", "raks.user": "SYSDBA"}
    base.update(changes)
    write_default_settings(path, **base)
    return path


def make(config, *, lookups_fake=None, **kwargs):
    view, threads = FakeView(), ManualThreads()
    fake = lookups_fake or FakeLookups()
    saved: list = []
    closed: list = []
    presenter = p.SettingsPresenter(
        view, config, on_saved=saved.append, on_closed=lambda: closed.append(True), start_thread=threads,
        baselinker_lookup=fake.baselinker, raks_lookup=fake.raks, **kwargs,
    )
    return presenter, view, threads, fake, saved, closed


def with_secrets():
    secrets.set_secret(secrets.BASELINKER_TOKEN, TOKEN)
    secrets.set_secret(secrets.RAKS_PASSWORD, "masterkey")


# ------------------------------------------------------------------------------ loading


def test_first_start_shows_defaults_asks_to_configure_and_writes_nothing(env, config):
    presenter, view, threads, fake, saved, _ = make(config)
    presenter.load()
    assert presenter.first_run
    assert view.values["sync.interval_seconds"] == "60"
    assert view.values["raks.statuses_to_send"] == [2]
    assert view.values[p.TOKEN] == "" and view.values[p.PASSWORD] == ""
    assert "Pierwsze uruchomienie" in view.text(p.BANNER)
    assert threads.pending == []  # nothing to look up without a token / password
    assert "token" in view.text("baselinker.invoice_series_id").lower()
    assert not config.exists()


def test_load_fills_fields_from_file_and_keyring_and_starts_both_lookups(env, config):
    configured_file(config, **{"sync.interval_seconds": 120, "raks.not_before": "2026-01-01",
                               "baselinker.number_field": "custom:135", "raks.queries.statuses":
                               "SELECT s.ID, s.NAZWA FROM MOJE_STATUSY s"})
    with_secrets()
    presenter, view, threads, fake, _, _ = make(config)
    presenter.load()
    v = view.values
    assert v[p.TOKEN] == TOKEN and v[p.PASSWORD] == "masterkey"
    assert (v[p.SERVER], v[p.DB_PATH]) == ("localhost", "C:/RAKS/F00001.fdb")
    assert v["sync.interval_seconds"] == "120"
    assert v["raks.not_before"] == "2026-01-01"
    assert v["baselinker.invoice_series_id"] == 15
    assert v["baselinker.number_field"] == "custom:135"
    assert v[p.QUERIES][STATUSES] == "SELECT s.ID, s.NAZWA FROM MOJE_STATUSY s"
    assert v[p.QUERIES][LOCK_DOCUMENT] == DEFAULT_QUERIES[LOCK_DOCUMENT]
    # before the look-ups answer, the saved choices are offered and the fields say "ładowanie…"
    assert 15 in view.choice_values("baselinker.invoice_series_id")
    assert "custom:135" in view.choice_values("baselinker.number_field")
    assert [name for name, _ in threads.pending] == ["raksbl-settings-baselinker", "raksbl-settings-raks"]
    assert view.status["baselinker.invoice_series_id"] == (p.LOADING, "loading")
    assert view.status["raks.status_after_send"] == (p.LOADING, "loading")
    assert view.busy[p.TEST_BASELINKER] is True


# ------------------------------------------------------------------------------ look-ups


def test_baselinker_lookup_fills_dropdowns_filtered_by_type(env, config):
    configured_file(config)
    with_secrets()
    presenter, view, threads, fake, _, _ = make(config)
    presenter.load()
    threads.run_all()
    assert view.choice_values("baselinker.invoice_series_id") == [0, 15, 16]
    assert view.choice_values("baselinker.receipt_series_id") == [0, 61178]
    assert view.choice_values("baselinker.correction_series_id") == [0, 99]  # CORRECTION series only
    assert view.choice_values("baselinker.number_field") == ["none", "extra_field_1", "extra_field_2", "custom:135"]
    assert view.choice_values("baselinker.order_status_on_success") == [0, 3000, 3001]
    assert view.choice_values("baselinker.order_status_on_error") == [0, 3000, 3001]
    labels = dict(view.choices["baselinker.invoice_series_id"])
    assert "Faktury Allegro" in labels[16]
    assert view.values["baselinker.invoice_series_id"] == 15  # the saved choice stays chosen
    assert view.kind(p.TEST_BASELINKER) == "ok" and "paragony 1" in view.text(p.TEST_BASELINKER)
    assert view.status["baselinker.invoice_series_id"] == ("", "")
    assert view.busy[p.TEST_BASELINKER] is False
    token, url, kwargs = fake.bl_calls[0]
    assert token == TOKEN and url == "https://api.baselinker.com/connector.php"
    assert kwargs["requests_per_minute"] == 100


def test_test_connection_uses_the_token_typed_in_the_form(env, config):
    configured_file(config)
    presenter, view, threads, fake, _, _ = make(config)
    presenter.load()
    view.values[p.TOKEN] = "  new-token  "
    view.values["baselinker.api_url"] = "http://127.0.0.1:9/connector.php"
    presenter.test_baselinker()
    threads.run_all()
    assert fake.bl_calls[-1][:2] == ("new-token", "http://127.0.0.1:9/connector.php")


def test_test_connection_without_token_says_so_and_calls_nothing(env, config):
    presenter, view, threads, fake, _, _ = make(config)
    presenter.load()
    presenter.test_baselinker()
    assert threads.pending == [] and fake.bl_calls == []
    assert view.status[p.TEST_BASELINKER] == ("Wpisz token API BaseLinker.", "error")


@pytest.mark.parametrize("error, words", [
    (AuthError("Invalid user token", code="ERROR_AUTH_TOKEN", method="getSeries"), "odrzucił token"),
    (TransportError("connection refused", may_have_executed=False, method="getSeries"), "nieosiągalny"),
])
def test_baselinker_lookup_error_is_shown_inline_in_words(env, config, error, words):
    configured_file(config)
    with_secrets()
    presenter, view, threads, fake, _, _ = make(config, lookups_fake=FakeLookups(bl=error))
    presenter.load()
    threads.run_all()
    text, kind = view.status[p.TEST_BASELINKER]
    assert kind == "error" and words in text
    # Issue 16.9: offline is said once, in Polish (no English exception text), not under each field.
    assert (error.message in text) == isinstance(error, AuthError)
    assert view.text("baselinker.invoice_series_id") == ""
    assert view.busy[p.TEST_BASELINKER] is False
    assert view.values["baselinker.invoice_series_id"] == 15  # the saved value is kept


def test_a_late_answer_of_an_older_lookup_is_dropped(env, config):
    configured_file(config)
    with_secrets()
    old = lookups.BaseLinkerCatalog(series=(lookups.Series(1, "INVOICE", "Stara", "%N"),))
    fake = FakeLookups(bl=old)
    presenter, view, threads, _, _, _ = make(config, lookups_fake=fake)
    presenter.load()                       # look-up 1 (will answer "old")
    threads.run(1)                         # (the RaksSQL one)
    presenter.test_baselinker()            # look-up 2
    fake.bl_result = CATALOG
    threads.run(1)                         # look-up 2 answers first
    fake.bl_result = old
    threads.run(0)                         # look-up 1 answers late
    assert view.choice_values("baselinker.invoice_series_id") == [0, 15, 16]


def test_an_answer_after_the_dialog_closed_touches_nothing(env, config):
    configured_file(config)
    with_secrets()
    presenter, view, threads, _, _, _ = make(config)
    presenter.load()
    presenter.cancel()
    threads.run_all()
    assert view.calls_after_close == []


def test_saved_series_missing_in_baselinker_is_kept_and_warned_about(env, config):
    configured_file(config, **{"baselinker.invoice_series_id": 777})
    with_secrets()
    presenter, view, threads, _, _, _ = make(config)
    presenter.load()
    threads.run_all()
    assert view.choice_values("baselinker.invoice_series_id") == [0, 15, 16, 777]
    assert "nie ma go w BaseLinker" in dict(view.choices["baselinker.invoice_series_id"])[777]
    assert view.kind("baselinker.invoice_series_id") == "warning"


def test_raks_lookup_fills_statuses_with_counts_and_shows_version(env, config):
    configured_file(config)
    with_secrets()
    presenter, view, threads, fake, _, _ = make(config)
    presenter.load()
    threads.run_all()
    assert view.choice_values("raks.statuses_to_send") == [1, 2, 3, 4]
    assert view.choice_values("raks.status_after_send") == [0, 1, 2, 3, 4]
    assert view.choice_values("raks.status_on_error") == [0, 1, 2, 3, 4]
    assert dict(view.choices["raks.status_on_error"])[0] == p.NO_CHANGE
    assert dict(view.choices["raks.statuses_to_send"])[2] == "Do wysłania — dokumentów: 4"
    text, kind = view.status[p.TEST_RAKS]
    assert kind == "ok" and "WI-V3.0.11" in text and "Do wysłania: 3 / 1" in text
    assert view.values["raks.statuses_to_send"] == [2] and view.values["raks.status_after_send"] == 3


def test_raks_test_connects_with_the_values_typed_in_the_form(env, config):
    configured_file(config)
    presenter, view, threads, fake, _, _ = make(config)
    presenter.load()
    view.values.update({p.SERVER: "192.168.1.5/3051", p.DB_PATH: "D:/Dane/F00002.fdb", "raks.user": "JAN",
                        p.PASSWORD: "tajne", "raks.charset": "UTF8"})
    presenter.test_raks()
    threads.run_all()
    candidate, password = fake.raks_calls[-1]
    assert candidate.database == "192.168.1.5/3051:D:/Dane/F00002.fdb"
    assert (candidate.user, candidate.charset, password) == ("JAN", "UTF8", "tajne")


def test_raks_lookup_error_is_shown_inline(env, config):
    configured_file(config)
    with_secrets()
    error = RaksConnectionError("Nie można połączyć z serwerem Firebird localhost: odmowa połączenia.")
    presenter, view, threads, _, _, _ = make(config, lookups_fake=FakeLookups(raks=error))
    presenter.load()
    threads.run_all()
    assert view.status[p.TEST_RAKS] == (str(error), "error")
    assert view.text("raks.statuses_to_send") == "" and view.text("raks.status_after_send") == ""  # said once


# ------------------------------------------------------------------------------ validation


def test_validation_messages_per_field_and_nothing_written(env, config):
    configured_file(config)
    before = config.read_bytes()
    presenter, view, threads, _, saved, _ = make(config)
    presenter.load(lookups_now=False)
    view.values.update({
        "sync.interval_seconds": "co minutę",
        "raks.not_before": "31.01.2026",
        "baselinker.invoice_series_id": 0,
        p.TOKEN: "",
        "baselinker.requests_per_minute": "",
    })
    assert presenter.save() is False
    assert view.status["sync.interval_seconds"] == ("Podaj liczbę całkowitą.", "error")
    assert view.status["baselinker.requests_per_minute"] == ("Pole nie może być puste.", "error")
    assert "RRRR-MM-DD" in view.text("raks.not_before")
    assert view.text("baselinker.invoice_series_id") == ""  # 0 = BaseLinker's default series (issue 16.9)
    assert "token" in view.text(p.TOKEN).lower()
    assert view.focused[-1] == p.TOKEN  # the first field in tab order
    assert "(4)" in view.text(p.BANNER)
    assert config.read_bytes() == before and saved == [] and not view.closed


@pytest.mark.parametrize("changes, field, words", [
    ({"sync.interval_seconds": "5"}, "sync.interval_seconds", "Najmniej 10 sekund"),
    ({"raks.statuses_to_send": [2, 3], "raks.status_after_send": 3}, "raks.status_after_send",
     "nie może być jednym ze statusów do wysłania"),
    ({"raks.status_on_error": 2}, "raks.status_on_error", "nie może być jednym ze statusów do wysłania"),
    ({"raks.statuses_to_send": []}, "raks.statuses_to_send", "co najmniej jeden status"),
    ({"baselinker.requests_per_minute": "5000"}, "baselinker.requests_per_minute", "od 1 do 1000"),
    ({p.SERVER: "", p.DB_PATH: ""}, p.DB_PATH, "ścieżkę do bazy"),
])
def test_rules_of_the_settings_file_are_shown_at_their_field(env, config, changes, field, words):
    configured_file(config)
    with_secrets()
    before = config.read_bytes()
    presenter, view, _, _, saved, _ = make(config)
    presenter.load(lookups_now=False)
    view.values.update(changes)
    assert presenter.save() is False
    text, kind = view.status[field]
    assert kind == "error" and words in text
    assert not text.startswith("Ustawienie ")  # the field already says which setting
    assert view.focused[-1] == field
    assert config.read_bytes() == before and saved == []


def test_an_invalid_sql_override_is_refused_at_the_query_editor(env, config):
    configured_file(config)
    with_secrets()
    presenter, view, _, _, _, _ = make(config)
    presenter.load(lookups_now=False)
    queries = view.values[p.QUERIES]
    queries[LOCK_DOCUMENT] = "SELECT f.ID_STATUSU FROM GM_FS f WHERE f.TYP_DOK_MAGAZYNOWEGO = ? AND f.ID = ?"
    assert presenter.save() is False
    assert "WITH LOCK" in view.text(p.QUERIES)
    assert load_settings(config).raks.queries == {}


# ------------------------------------------------------------------------------ saving


USER_COMMENT = "# moja uwaga: nie ruszać\n"


def test_save_writes_file_keeping_comments_and_secrets_to_keyring(env, config):
    configured_file(config)
    config.write_text(USER_COMMENT + config.read_text(encoding="utf-8"), encoding="utf-8")
    presenter, view, threads, _, saved, closed = make(config)
    presenter.load()
    view.values.update({
        p.TOKEN: "nowy-token", p.PASSWORD: "haslo-firebird",
        "sync.auto": True, "sync.interval_seconds": "300", "sync.notifications": "errors",
        "raks.statuses_to_send": [1, 2], "raks.status_after_send": 3, "raks.status_on_error": 4,
        "raks.not_before": "2026-02-01", "raks.document_types": ["FS", "KS"],
        "baselinker.invoice_series_id": 16, "baselinker.correction_series_id": 99, "baselinker.number_field": "custom:135",
        "baselinker.order_status_on_success": 3001, "log.level": "DEBUG",
    })
    assert presenter.save() is True
    text = config.read_text(encoding="utf-8")
    assert text.startswith(USER_COMMENT)
    assert "# budget for this agent; lower it when the token is shared" in text  # template comments kept
    s = load_settings(config)
    assert (s.sync.auto, s.sync.interval_seconds, s.sync.notifications) == (True, 300, "errors")
    assert s.raks.statuses_to_send == (1, 2) and s.raks.status_on_error == 4
    assert s.raks.not_before.isoformat() == "2026-02-01" and s.raks.document_types == ("FS", "KS")
    assert s.baselinker.correction_series_id == 99
    assert s.baselinker.invoice_series_id == 16 and s.baselinker.custom_field_id == 135
    assert s.baselinker.order_status_on_success == 3001 and s.log.level == "DEBUG"
    assert "nowy-token" not in text and "haslo-firebird" not in text
    assert env.stored()["raksbl"] == {"baselinker-token": "nowy-token", "raks-password": "haslo-firebird"}
    assert saved and saved[0].sync.interval_seconds == 300  # the running agent gets the new settings
    assert view.closed and closed == [True]


def test_save_changes_only_what_the_user_changed(env, config):
    configured_file(config)
    config.write_text(config.read_text(encoding="utf-8").replace("retention_days = 30", "retention_days = 14   # krócej"),
                      encoding="utf-8")
    with_secrets()
    presenter, view, _, _, _, _ = make(config)
    presenter.load(lookups_now=False)
    before = config.read_text(encoding="utf-8")
    view.values["sync.max_documents_per_run"] = "25"
    assert presenter.save() is True
    after = config.read_text(encoding="utf-8")
    assert after == before.replace("max_documents_per_run = 0", "max_documents_per_run = 25")
    assert "retention_days = 14   # krócej" in after


def test_first_start_save_creates_the_file_from_the_template(env, config):
    presenter, view, _, _, saved, _ = make(config)
    presenter.load()
    view.values.update({p.TOKEN: TOKEN, p.SERVER: "localhost", p.DB_PATH: "C:/RAKS/Data/F00009.fdb",
                        "baselinker.invoice_series_id": 15, "baselinker.receipt_series_id": 61178})
    assert presenter.save() is True
    text = config.read_text(encoding="utf-8")
    assert text.startswith("# raksbl settings.")
    s = load_settings(config)
    assert s.raks.database == "localhost:C:/RAKS/Data/F00009.fdb"
    assert (s.baselinker.invoice_series_id, s.baselinker.receipt_series_id) == (15, 61178)
    assert secrets.get_secret(secrets.BASELINKER_TOKEN) == TOKEN
    assert saved[0].path == config


def test_cancel_changes_nothing(env, config):
    configured_file(config)
    with_secrets()
    before = config.read_bytes()
    stored = copy.deepcopy(env.stored())
    presenter, view, threads, _, saved, closed = make(config)
    presenter.load()
    view.values.update({p.TOKEN: "inny", "sync.interval_seconds": "600", "raks.statuses_to_send": [1]})
    presenter.cancel()
    threads.run_all()
    assert config.read_bytes() == before and env.stored() == stored
    assert saved == [] and view.closed and closed == [True]
    assert presenter.save() is False  # a closed dialog saves nothing
    assert config.read_bytes() == before


def test_unchanged_secrets_are_not_rewritten(env, config, monkeypatch):
    configured_file(config)
    with_secrets()
    presenter, view, _, _, _, _ = make(config)
    presenter.load(lookups_now=False)
    writes = []
    monkeypatch.setattr(secrets, "set_secret", lambda name, value: writes.append(name))
    view.values["sync.interval_seconds"] = "90"
    assert presenter.save() is True
    assert writes == []


def test_a_keyring_that_refuses_is_reported_at_the_field(env, config):
    configured_file(config)

    class RefusingSecrets:
        get_secret = staticmethod(secrets.get_secret)

        @staticmethod
        def set_secret(name, value):
            raise RuntimeError("brak usługi Secret Service")

    presenter, view, _, _, saved, _ = make(config, secrets=RefusingSecrets)
    presenter.load(lookups_now=False)
    view.values.update({p.TOKEN: "x-token", "sync.interval_seconds": "77"})
    assert presenter.save() is False
    assert view.kind(p.TOKEN) == "error" and "brak usługi Secret Service" in view.text(p.TOKEN)
    assert "RAKSBL_BASELINKER_TOKEN" in view.text(p.BANNER)
    assert load_settings(config).sync.interval_seconds == 77 and saved  # the file part is saved
    assert not view.closed


def test_query_override_is_saved_and_restore_default_removes_it(env, config):
    configured_file(config)
    with_secrets()
    custom = "SELECT s.ID, s.NAZWA FROM MOJE_STATUSY s ORDER BY s.ID"
    presenter, view, _, _, _, _ = make(config)
    presenter.load(lookups_now=False)
    view.values[p.QUERIES][STATUSES] = custom
    assert presenter.save() is True
    assert load_settings(config).raks.queries == {STATUSES: custom}
    assert "[raks.queries]" in config.read_text(encoding="utf-8")

    presenter, view, _, _, _, _ = make(config)
    presenter.load(lookups_now=False)
    assert view.values[p.QUERIES][STATUSES] == custom
    presenter.restore_default_query(STATUSES)
    assert view.values[p.QUERIES][STATUSES] == DEFAULT_QUERIES[STATUSES]
    assert view.kind(p.QUERIES) == "ok"
    assert presenter.save() is True
    assert load_settings(config).raks.queries == {}
    assert "MOJE_STATUSY" not in config.read_text(encoding="utf-8")


def test_a_file_with_a_wrong_value_opens_shows_the_error_and_can_be_fixed(env, config):
    configured_file(config)
    config.write_text(config.read_text(encoding="utf-8").replace("interval_seconds = 60", "interval_seconds = 3"),
                      encoding="utf-8")
    with_secrets()
    presenter, view, _, _, _, _ = make(config)
    presenter.load(lookups_now=False)
    assert presenter.load_error is not None
    assert view.values["sync.interval_seconds"] == "3"  # what the file says, to be corrected
    assert view.status["sync.interval_seconds"] == ("Najmniej 10 sekund.", "error")
    assert view.kind(p.BANNER) == "error"
    assert view.values["baselinker.invoice_series_id"] == 15  # the rest of the file is shown
    view.values["sync.interval_seconds"] = "30"
    assert presenter.save() is True
    assert load_settings(config).sync.interval_seconds == 30


def test_update_settings_still_validates_what_the_dialog_writes(env, config):
    """The dialog relies on update_settings refusing invalid files: pin that contract here."""
    configured_file(config)
    with pytest.raises(Exception) as info:
        update_settings(config, {"sync.interval_seconds": 1})
    assert getattr(info.value, "key", None) == "sync.interval_seconds"


def test_choosing_files_fills_the_fields(env, config):
    presenter, view, _, _, _, _ = make(config)
    presenter.load(lookups_now=False)
    presenter.choose_database_file("/srv/raks/F00003.fdb")
    presenter.choose_client_library("/opt/firebird/lib/libfbclient.so")
    assert view.values[p.DB_PATH] == "/srv/raks/F00003.fdb"
    assert view.values[p.SERVER] == "localhost"  # the server part stays
    assert view.values["raks.client_library"] == "/opt/firebird/lib/libfbclient.so"


def test_open_log_folder_opens_the_log_directory(env, config, tmp_path):
    opened = []
    presenter, view, _, _, _, _ = make(config, opener=opened.append)
    presenter.load(lookups_now=False)
    presenter.open_log_folder()
    assert opened == [tmp_path / "data" / "logs"]


@pytest.mark.parametrize("database, parts", [
    ("localhost:C:/RAKS/Data/F00001.fdb", ("localhost", "C:/RAKS/Data/F00001.fdb")),
    ("192.168.1.10/3051:/srv/f.fdb", ("192.168.1.10/3051", "/srv/f.fdb")),
    ("C:/RAKS/Data/F00001.fdb", ("", "C:/RAKS/Data/F00001.fdb")),
    ("/var/lib/firebird/f.fdb", ("", "/var/lib/firebird/f.fdb")),
])
def test_database_is_split_into_server_and_path_and_back(database, parts):
    assert settings_model.split_database(database) == parts
    assert settings_model.join_database(*parts) == database


def test_file_keyring_fixture_really_is_the_process_keyring(env):
    secrets.set_secret(secrets.RAKS_PASSWORD, "x")
    assert json.loads(env.path.read_text())["raksbl"]["raks-password"] == "x"
