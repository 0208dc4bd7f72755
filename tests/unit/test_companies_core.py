"""Several companies, the core: the [[company]] settings, per-company secrets, journal keys
naming the company, and run_companies (one company's failure never stops the others).

The end-to-end behaviour (two Firebird databases, two sandbox accounts) is in
tests/integration/test_companies.py; these are the rules, fast.
"""

from __future__ import annotations

import dataclasses
import threading

import keyring
import pytest

from agent import secrets
from agent.errors import ConfigError, RunAborted
from agent.export import events as ev
from agent.export import run as run_mod
from agent.export.dbkey import company_key, database_key, split_key
from agent.export.journal import Journal
from agent.export.results import CompaniesSummary, DocumentRef, DocumentResult, Outcome, RunSummary
from agent.settings import parse_settings, update_settings
from tests.support.file_keyring import install_file_keyring

TWO = """
[sync]
interval_seconds = 30

[[company]]
name = "sklep-a"
[company.baselinker]
requests_per_minute = 80
invoice_series_id = 7
[company.raks]
database = "localhost:/data/a.fdb"

[[company]]
name = "sklep_b"
[company.baselinker]
requests_per_minute = 50
[company.raks]
database = "localhost:/data/b.fdb"
status_after_send = 4
[company.raks.queries]
pending_documents = "SELECT 1 FROM RDB$DATABASE"
"""


# -- settings ----------------------------------------------------------------------------------

def test_a_companies_file_gives_each_company_its_own_view():
    s = parse_settings(TWO)
    assert s.several and s.company_names == ("sklep-a", "sklep_b")
    a, b = s.each_company()
    assert (a.company, a.raks.database, a.baselinker.invoice_series_id) == ("sklep-a", "localhost:/data/a.fdb", 7)
    assert (b.company, b.raks.database, b.raks.status_after_send) == ("sklep_b", "localhost:/data/b.fdb", 4)
    assert b.raks.queries == {"pending_documents": "SELECT 1 FROM RDB$DATABASE"}
    assert a.sync.interval_seconds == b.sync.interval_seconds == 30  # [sync] is shared
    assert s.for_company("SKLEP-A").company == "sklep-a"  # names are matched case-insensitively
    assert not s.is_view and a.is_view


def test_a_single_company_file_is_one_unnamed_company():
    s = parse_settings('[raks]\ndatabase = "localhost:/x.fdb"\n')
    assert not s.several and s.company == "" and s.is_view
    assert s.each_company() == [s]
    with pytest.raises(ConfigError) as exc:
        s.for_company("sklep-a")
    assert exc.value.key == "company"


def test_an_unknown_company_names_the_known_ones():
    with pytest.raises(ConfigError) as exc:
        parse_settings(TWO).each_company("sklep-c")
    assert exc.value.key == "company" and "sklep-a" in str(exc.value) and "sklep_b" in str(exc.value)


@pytest.mark.parametrize("change, key, company, words", [
    (('name = "sklep_b"', 'name = "Sklep_A"'), "company.name", "Sklep_A", "tej samej nazwie"),
    (('name = "sklep_b"', 'name = "sklep b"'), "company.name", "", "name musi"),
    (('name = "sklep_b"', 'name = "żółw"'), "company.name", "", "bez polskich znaków"),
    (("status_after_send = 4", "status_after_send = 0"), "raks.status_after_send", "sklep_b", "Firma sklep_b"),
    (("requests_per_minute = 80", "requests_per_minute = 0"), "baselinker.requests_per_minute", "sklep-a", "od 1"),
    (("status_after_send = 4", "colour = 4"), "raks.colour", "sklep_b", "Nieznane ustawienie"),
])
def test_a_bad_company_setting_names_the_company_and_the_key(change, key, company, words):
    with pytest.raises(ConfigError) as exc:
        parse_settings(TWO.replace(*change))
    assert exc.value.key == key and exc.value.company == company
    assert words in str(exc.value)


def test_a_file_with_both_a_single_company_and_a_list_is_refused():
    with pytest.raises(ConfigError) as exc:
        parse_settings('[raks]\nuser = "X"\n' + TWO)
    assert exc.value.key == "company" and "[raks]" in str(exc.value)


def test_a_company_without_a_name_is_refused():
    with pytest.raises(ConfigError) as exc:
        parse_settings("[[company]]\n[company.raks]\nuser = \"X\"\n")
    assert exc.value.key == "company.name" and "nr 1" in str(exc.value)


def test_update_settings_writes_into_the_named_company_only(tmp_path):
    path = tmp_path / "raksbl.toml"
    path.write_text("# my comment\n" + TWO, encoding="utf-8")
    new = update_settings(path, {"raks.status_after_send": 9, "baselinker.order_status_on_success": 3},
                          company="sklep_b")
    assert new.for_company("sklep_b").raks.status_after_send == 9
    assert new.for_company("sklep_b").baselinker.order_status_on_success == 3
    assert new.for_company("sklep-a").raks.status_after_send == parse_settings(TWO).for_company("sklep-a").raks.status_after_send
    assert new.for_company("sklep-a").baselinker.order_status_on_success == 0
    assert path.read_text(encoding="utf-8").startswith("# my comment\n")
    with pytest.raises(ConfigError) as exc:
        update_settings(path, {"raks.user": "Y"}, company="sklep-c")
    assert exc.value.key == "company"


# -- secrets -----------------------------------------------------------------------------------

@pytest.fixture
def keyring_file(tmp_path, monkeypatch):
    for name in ("RAKSBL_BASELINKER_TOKEN", "RAKSBL_RAKS_PASSWORD", "RAKSBL_BASELINKER_TOKEN_SKLEP_A"):
        monkeypatch.delenv(name, raising=False)
    backend, previous = install_file_keyring(tmp_path)
    yield backend
    keyring.set_keyring(previous)


def test_a_company_secret_comes_first_then_the_shared_one(keyring_file, monkeypatch):
    secrets.set_secret(secrets.BASELINKER_TOKEN, "shared-token")
    assert secrets.get_secret(secrets.BASELINKER_TOKEN, "sklep-a") == "shared-token"  # the fallback
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-a", "sklep-a")
    assert keyring_file.stored()["raksbl"]["baselinker-token/sklep-a"] == "token-a"
    assert secrets.get_secret(secrets.BASELINKER_TOKEN, "sklep-a") == "token-a"
    assert secrets.get_secret(secrets.BASELINKER_TOKEN) == "shared-token"
    monkeypatch.setenv("RAKSBL_BASELINKER_TOKEN_SKLEP_A", "env-token-a")
    assert secrets.get_secret(secrets.BASELINKER_TOKEN, "sklep-a") == "env-token-a"
    assert secrets.env_var(secrets.BASELINKER_TOKEN, "sklep-a") == "RAKSBL_BASELINKER_TOKEN_SKLEP_A"
    secrets.delete_secret(secrets.BASELINKER_TOKEN, "sklep-a")
    assert "baselinker-token/sklep-a" not in keyring_file.stored()["raksbl"]


def test_a_missing_company_secret_says_where_to_put_it(keyring_file):
    with pytest.raises(ConfigError) as exc:
        secrets.get_secret(secrets.RAKS_PASSWORD, "sklep_b")
    text = str(exc.value)
    assert exc.value.company == "sklep_b" and exc.value.key == "secret:raks-password"
    assert "firmy sklep_b" in text and "raks-password/sklep_b" in text and "RAKSBL_RAKS_PASSWORD_SKLEP_B" in text


# -- journal keys ------------------------------------------------------------------------------

class _Repo:
    def __init__(self, key):
        self._key = key

    def identity(self):
        return self._key


def test_company_keys_round_trip():
    assert company_key("", "fb:/a.fdb@x") == "fb:/a.fdb@x"
    assert split_key(company_key("sklep-a", "fb:/a.fdb@x")) == ("sklep-a", "fb:/a.fdb@x")
    assert split_key("fb:/a.fdb@x") == ("", "fb:/a.fdb@x")


def test_converting_to_companies_and_renaming_keep_the_journal(tmp_path):
    journal = Journal(tmp_path / "journal.sqlite3")
    single = parse_settings('[raks]\ndatabase = "localhost:/data/a.fdb"\n')
    key = database_key(single, _Repo("fb:/data/a.fdb@2026"), journal)
    assert key == "fb:/data/a.fdb@2026"  # a single company's key is unchanged
    skipped = journal.skip(journal.ensure(key, "FS", 1, "FS 1/2026", 10).id)

    companies = parse_settings(TWO)
    a = companies.for_company("sklep-a")
    key_a = database_key(a, _Repo("fb:/data/a.fdb@2026"), journal)
    assert key_a == "[sklep-a] fb:/data/a.fdb@2026"
    assert journal.get(key_a, "FS", 1).state == "skipped" and journal.get(key_a, "FS", 1).id == skipped.id
    # sklep_b is on another database: it adopts nothing
    key_b = database_key(companies.for_company("sklep_b"), _Repo("fb:/data/b.fdb@2026"), journal)
    assert journal.get(key_b, "FS", 1) is None

    renamed = parse_settings(TWO.replace('"sklep-a"', '"sklep-north"'))
    key_n = database_key(renamed.for_company("sklep-north"), _Repo("fb:/data/a.fdb@2026"), journal)
    assert journal.get(key_n, "FS", 1).state == "skipped"
    assert [e.company for e in journal.recent(company="sklep-north")] == ["sklep-north"]
    assert journal.recent(company="sklep-a") == [] and journal.recent(company="") == []
    journal.close()


def test_a_configured_company_never_adopts_another_configured_companys_entries(tmp_path):
    journal = Journal(tmp_path / "journal.sqlite3")
    companies = parse_settings(TWO.replace("localhost:/data/b.fdb", "localhost:/data/a.fdb"))
    key_a = database_key(companies.for_company("sklep-a"), _Repo("fb:/data/a.fdb@2026"), journal)
    journal.ensure(key_a, "FS", 1, "FS 1/2026", 10)
    key_b = database_key(companies.for_company("sklep_b"), _Repo("fb:/data/a.fdb@2026"), journal)
    assert key_b != key_a and journal.get(key_b, "FS", 1) is None and journal.get(key_a, "FS", 1) is not None
    journal.close()


# -- run_companies -----------------------------------------------------------------------------

def _summary(view, sent=0, failed=0, aborted=None):
    s = RunSummary(run_id="r", trigger="cli", dry_run=False, started_at=0.0, company=view.company, aborted=aborted)
    for i in range(sent):
        s.results.append(DocumentResult(DocumentRef("FS", i, f"FS {i}", i), Outcome("sent", bl_doc_id=i)))
    for i in range(failed):
        s.results.append(DocumentResult(DocumentRef("FS", 100 + i, f"FS x{i}", i), Outcome("failed", "zły NIP")))
    return s


@pytest.fixture
def fake_export(monkeypatch, tmp_path):
    monkeypatch.setenv("RAKSBL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAKSBL_BASELINKER_TOKEN", "one-token")
    calls: list = []
    behaviour: dict = {}

    def fake(view, **kwargs):
        calls.append((view.company, view.baselinker.requests_per_minute, kwargs))
        what = behaviour.get(view.company)
        if isinstance(what, BaseException):
            raise what
        summary = what(view) if what else _summary(view, sent=1)
        kwargs["bus"].publish(ev.RunFinished(summary))
        return summary

    monkeypatch.setattr(run_mod, "run_export", fake)
    return calls, behaviour


def test_one_companys_failure_never_stops_the_others(fake_export):
    calls, behaviour = fake_export
    behaviour["sklep-a"] = RunAborted("Nie można połączyć się z bazą RaksSQL localhost:/data/a.fdb.")
    behaviour["sklep_b"] = lambda view: _summary(view, sent=2, failed=1)
    seen = []
    bus = ev.EventBus()
    bus.subscribe(seen.append)
    total = run_mod.run_companies(parse_settings(TWO), trigger="cli", bus=bus)
    assert [c[0] for c in calls] == ["sklep-a", "sklep_b"]
    a, b = total.runs
    assert isinstance(a.setup_error, RunAborted) and a.exit_code == 2 and "Nie można połączyć" in a.aborted
    assert (len(b.sent), len(b.failed), b.exit_code) == (2, 1, 1)
    assert total.exit_code == 2  # the worst of them
    assert total.aborted.startswith("sklep-a: ") and len(total.sent) == 2 and not total.ok
    finished = [e for e in seen if isinstance(e, ev.RunFinished)]
    assert [e.summary.company for e in finished] == ["sklep-a", "sklep_b"]
    assert isinstance(seen[-1], ev.CompaniesFinished) and seen[-1].summary is total


def test_a_settings_error_of_one_company_is_its_own(fake_export):
    calls, behaviour = fake_export
    behaviour["sklep_b"] = ConfigError("Firma sklep_b: Brak sekretu: token API BaseLinker firmy sklep_b.",
                                       "secret:baselinker-token", "sklep_b")
    total = run_mod.run_companies(parse_settings(TWO), trigger="cli")
    assert total.runs[0].exit_code == 0 and total.runs[1].exit_code == 2
    assert total.runs[1].aborted == "błąd ustawień: Brak sekretu: token API BaseLinker firmy sklep_b."


def test_one_company_raises_as_a_single_company_run_always_did(fake_export):
    calls, behaviour = fake_export
    behaviour["sklep_b"] = RunAborted("brak połączenia")
    with pytest.raises(RunAborted):
        run_mod.run_companies(parse_settings(TWO), company="sklep_b", trigger="cli")
    single = parse_settings('[raks]\ndatabase = "localhost:/x.fdb"\n')
    behaviour[""] = ConfigError("Brak sekretu", "secret:baselinker-token")
    with pytest.raises(ConfigError):
        run_mod.run_companies(single, trigger="cli")


def test_companies_on_one_token_share_the_lowest_budget(fake_export, monkeypatch):
    calls, _ = fake_export
    run_mod.run_companies(parse_settings(TWO), trigger="cli")
    assert [(c[0], c[1]) for c in calls] == [("sklep-a", 50), ("sklep_b", 50)]
    calls.clear()
    monkeypatch.setenv("RAKSBL_BASELINKER_TOKEN_SKLEP_A", "own-token")  # separate accounts, separate budgets
    run_mod.run_companies(parse_settings(TWO), trigger="cli")
    assert [(c[0], c[1]) for c in calls] == [("sklep-a", 80), ("sklep_b", 50)]


def test_a_stop_between_companies_leaves_the_rest_for_next_time(fake_export):
    calls, behaviour = fake_export
    cancel = threading.Event()

    def stop_after(view):
        cancel.set()
        return _summary(view, sent=1)

    behaviour["sklep-a"] = stop_after
    total = run_mod.run_companies(parse_settings(TWO), trigger="cli", cancel=cancel)
    assert [c[0] for c in calls] == ["sklep-a"] and total.stopped == run_mod.STOPPED
    assert total.exit_code == 1 and not total.ok


def test_run_export_refuses_the_whole_companies_file():
    with pytest.raises(ValueError):
        run_mod.run_export(parse_settings(TWO))


def test_a_companies_summary_reads_like_a_run_summary():
    s = parse_settings(TWO)
    a, b = (_summary(v, sent=1) for v in s.each_company())
    total = CompaniesSummary(trigger="auto", dry_run=False, started_at=0.0, runs=[a, b])
    assert total.several and total.ok and total.exit_code == 0 and total.aborted is None
    assert len(total.sent) == 2 and len(total.results) == 2
    single = CompaniesSummary(trigger="auto", dry_run=False, started_at=0.0,
                              runs=[dataclasses.replace(a, company="")])
    assert not single.several


def test_two_companies_reading_the_same_documents_are_warned_about():
    same = TWO.replace("localhost:/data/b.fdb", "LOCALHOST:/data/a.fdb").replace(
        '[company.raks.queries]\npending_documents = "SELECT 1 FROM RDB$DATABASE"\n', "")
    warnings = parse_settings(same).warnings
    assert len(warnings) == 1 and "sklep-a i sklep_b" in warnings[0] and "raks.database firmy sklep_b" in warnings[0]
    # the same database with other statements (two shops in one RaksSQL company) is deliberate
    assert parse_settings(TWO.replace("localhost:/data/b.fdb", "localhost:/data/a.fdb")).warnings == ()
    assert parse_settings(TWO).warnings == ()


def test_companies_on_separate_tokens_run_side_by_side(fake_export, monkeypatch):
    """sklep-a's run waits until sklep_b's has started: only possible when they run side by side
    (a big batch of one account never delays another account's documents)."""
    calls, behaviour = fake_export
    monkeypatch.setenv("RAKSBL_BASELINKER_TOKEN_SKLEP_A", "own-token")
    b_started = threading.Event()

    def a_waits_for_b(view):
        assert b_started.wait(10), "sklep_b did not start while sklep-a was running"
        return _summary(view, sent=1)

    def b_runs(view):
        b_started.set()
        return _summary(view, sent=2)

    behaviour.update({"sklep-a": a_waits_for_b, "sklep_b": b_runs})
    total = run_mod.run_companies(parse_settings(TWO), trigger="cli")
    assert [r.company for r in total.runs] == ["sklep-a", "sklep_b"]  # the settings' order, whoever ended first
    assert len(total.sent) == 3 and total.exit_code == 0


def test_a_bug_in_one_side_by_side_run_stops_the_others_and_is_raised(fake_export, monkeypatch):
    calls, behaviour = fake_export
    monkeypatch.setenv("RAKSBL_BASELINKER_TOKEN_SKLEP_A", "own-token")
    behaviour["sklep-a"] = ZeroDivisionError("bug")
    cancel = threading.Event()
    with pytest.raises(ZeroDivisionError):
        run_mod.run_companies(parse_settings(TWO), trigger="cli", cancel=cancel)
    assert cancel.is_set()


def test_token_groups_keep_companies_of_one_token_together():
    views = parse_settings(TWO.replace("[sync]", "[sync]") + '\n[[company]]\nname = "c"\n').each_company()
    groups = run_mod.token_groups(views, {"sklep-a": "t1", "sklep_b": "t2", "c": "t1"})
    assert [[v.company for v in g] for g in groups] == [["sklep-a", "c"], ["sklep_b"]]
    no_token = run_mod.token_groups(views, {"sklep-a": None, "sklep_b": None, "c": "t1"})
    assert [[v.company for v in g] for g in no_token] == [["sklep-a"], ["sklep_b"], ["c"]]


def test_a_wrong_setting_of_one_company_stops_only_that_company_when_running(fake_export):
    """Read for running (the tray, raksbl run/send/doctor), a hand edit that breaks sklep-a's
    table leaves sklep_b running; read strictly (the settings dialog) the file is refused."""
    broken = TWO.replace("requests_per_minute = 80", "requests_per_minute = 0").replace(
        "requests_per_minute = 50", "requests_per_minute = 200")
    with pytest.raises(ConfigError):
        parse_settings(broken)
    settings = parse_settings(broken, keep_broken_companies=True)
    a, b = settings.each_company()
    assert a.company_error is not None and a.company_error.key == "baselinker.requests_per_minute"
    assert b.company_error is None and b.raks.status_after_send == 4
    calls, behaviour = fake_export
    behaviour["sklep-a"] = a.company_error  # what the real run_export raises (next test)
    total = run_mod.run_companies(settings, trigger="cli")
    assert [r.company for r in total.runs] == ["sklep-a", "sklep_b"]
    assert total.runs[0].setup_error is a.company_error and total.runs[1].exit_code == 0
    assert "Ustawienie baselinker.requests_per_minute" in total.runs[0].aborted and total.exit_code == 2
    # the broken company (its view holds defaults: 100/min) takes no part in the shared budget
    assert [(c[0], c[1]) for c in calls] == [("sklep-a", 100), ("sklep_b", 200)]


def test_run_export_refuses_a_broken_company_before_touching_anything(monkeypatch):
    monkeypatch.delenv("RAKSBL_BASELINKER_TOKEN", raising=False)  # a secret lookup would fail otherwise
    broken = parse_settings(TWO.replace("requests_per_minute = 80", "requests_per_minute = 0"),
                            keep_broken_companies=True).for_company("sklep-a")
    with pytest.raises(ConfigError) as exc:
        run_mod.run_export(broken)
    assert exc.value is broken.company_error and exc.value.company == "sklep-a"


def test_a_broken_company_in_its_own_table_keeps_unknown_keys_to_itself():
    broken = TWO.replace("status_after_send = 4", "colour = 4")
    settings = parse_settings(broken, keep_broken_companies=True)
    assert settings.for_company("sklep_b").company_error.key == "raks.colour"
    assert settings.for_company("sklep-a").company_error is None
    assert settings.warnings == ()
    with pytest.raises(ConfigError):  # the list itself stays strict: names are the file's
        parse_settings(TWO.replace('name = "sklep_b"', 'name = "sklep a"'), keep_broken_companies=True)
