"""The command line with several companies, without servers: --company on every command, the
journal's company column, retry/skip refusing another company's entry, per-company secrets.
(The same commands against a real Firebird server and the sandbox: tests/integration/test_companies.py.)"""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest

from agent import cli, secrets
from agent.export.journal import Journal
from agent.settings import load_settings, update_settings
from tests.support.file_keyring import install_file_keyring

TWO_COMPANIES = """\
[sync]
auto = false

[[company]]
name = "sklep-a"
[company.baselinker]
requests_per_minute = 50
[company.raks]
database = "localhost:/data/A.fdb"   # A

[[company]]
name = "Sklep_B"
[company.raks]
database = "localhost:/data/B.fdb"
"""

ONE_COMPANY = """\
[raks]
database = "localhost:/data/ONE.fdb"
"""


@pytest.fixture(autouse=True)
def no_log_files(monkeypatch):
    """The commands set up file logging; in this process it would outlive the test."""
    monkeypatch.setattr(cli, "_setup_logging", lambda *args, **kwargs: None)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "data"
    monkeypatch.setenv("RAKSBL_DATA_DIR", str(path))
    for var in ("RAKSBL_BASELINKER_TOKEN", "RAKSBL_RAKS_PASSWORD", "RAKSBL_BASELINKER_TOKEN_SKLEP_A",
                "RAKSBL_BASELINKER_TOKEN_SKLEP_B", "RAKSBL_RAKS_PASSWORD_SKLEP_A", "RAKSBL_RAKS_PASSWORD_SKLEP_B"):
        monkeypatch.delenv(var, raising=False)
    return path


@pytest.fixture
def two(tmp_path, data_dir, monkeypatch) -> Path:
    path = tmp_path / "raksbl.toml"
    path.write_text(TWO_COMPANIES, encoding="utf-8")
    monkeypatch.setenv("RAKSBL_CONFIG", str(path))
    return path


@pytest.fixture
def file_keyring(tmp_path):
    backend, previous = install_file_keyring(tmp_path)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


def _journal_with_entries(data_dir: Path) -> dict[str, int]:
    """One failed invoice of each company and one of the old single-company file."""
    data_dir.mkdir(parents=True, exist_ok=True)
    ids = {}
    with Journal(data_dir / "journal.sqlite3") as journal:
        for key, company, number in (("[sklep-a] fb:A", "sklep-a", "FS 1/A"), ("[Sklep_B] fb:B", "Sklep_B", "FS 2/B"),
                                     ("fb:ONE", "", "FS 3/ONE")):
            entry = journal.ensure(key, "FS", 1, number, 100)
            journal.mark(entry, "failed", run_id="r", error="brak PDF")
            ids[company] = entry.id
    return ids


# -- unknown / missing --company ---------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["doctor", "--company", "sklep-x"],
    ["history", "--company", "sklep-x"],
    ["retry", "1", "--company", "sklep-x"],
    ["skip", "1", "--company", "sklep-x"],
    ["inspect-db", "--company", "sklep-x"],
    ["send", "--company", "sklep-x"],
    ["secret", "delete", "baselinker-token", "--company", "sklep-x"],
])
def test_an_unknown_company_is_a_settings_error_naming_the_known_ones(two, argv, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "Błąd ustawień: Nie ma firmy 'sklep-x' w ustawieniach; są: sklep-a, Sklep_B." in err


def test_company_on_a_single_company_file_says_there_are_no_companies(tmp_path, data_dir, monkeypatch, capsys):
    path = tmp_path / "one.toml"
    path.write_text(ONE_COMPANY, encoding="utf-8")
    assert cli.main(["--config", str(path), "history", "--company", "sklep-a"]) == 2
    assert "plik ustawień opisuje jedną firmę" in capsys.readouterr().err


def test_inspect_db_on_several_companies_needs_company_and_lists_them(two, capsys, monkeypatch):
    monkeypatch.setenv("RAKSBL_RAKS_PASSWORD", "x")
    assert cli.main(["inspect-db"]) == 2  # before connecting anywhere
    err = capsys.readouterr().err
    assert "kilka firm (sklep-a, Sklep_B)" in err and "raksbl inspect-db --company sklep-a" in err


# -- history --------------------------------------------------------------------------------
def test_history_shows_a_company_column_when_the_journal_has_several(two, data_dir, capsys):
    ids = _journal_with_entries(data_dir)
    assert cli.main(["history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    by_number = {n: next(l for l in lines if n in l) for n in ("FS 1/A", "FS 2/B", "FS 3/ONE")}
    assert by_number["FS 1/A"].split()[:4][3] == "sklep-a"
    assert by_number["FS 2/B"].split()[3] == "Sklep_B"
    assert by_number["FS 3/ONE"].split()[3] == "-"  # the single-company file's entry
    assert by_number["FS 1/A"].split()[0] == str(ids["sklep-a"])


def test_history_company_filters_and_accepts_any_letter_case(two, data_dir, capsys):
    _journal_with_entries(data_dir)
    assert cli.main(["history", "--company", "sklep_b", "--failed"]) == 0
    out = capsys.readouterr().out
    assert "FS 2/B" in out and "FS 1/A" not in out and "FS 3/ONE" not in out
    assert "Sklep_B" not in out  # one company chosen: no column


def test_history_of_a_single_company_journal_has_no_company_column(tmp_path, data_dir, capsys):
    data_dir.mkdir(parents=True)
    with Journal(data_dir / "journal.sqlite3") as journal:
        journal.ensure("fb:ONE", "FS", 1, "FS 3/ONE", 100)
    assert cli.main(["history"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.split()[3:5] == ["FS", "3/ONE"]  # id, date, time, then the document


def test_history_of_a_company_without_entries_says_so(two, data_dir, capsys):
    data_dir.mkdir(parents=True)
    Journal(data_dir / "journal.sqlite3").close()
    assert cli.main(["history", "--company", "sklep-a"]) == 0
    assert capsys.readouterr().out.strip() == "Dziennik nie ma wpisów firmy sklep-a."


# -- retry / skip ---------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["retry", "skip"])
def test_retry_and_skip_refuse_an_entry_of_another_company(two, data_dir, capsys, command):
    ids = _journal_with_entries(data_dir)
    assert cli.main([command, str(ids["Sklep_B"]), "--company", "sklep-a"]) == 2
    err = capsys.readouterr().err
    assert f"Wpis {ids['Sklep_B']} (FS 2/B) należy do firmy Sklep_B, nie do firmy sklep-a — nic nie zmieniono" in err
    with Journal(data_dir / "journal.sqlite3") as journal:
        assert journal.by_id(ids["Sklep_B"]).state == "failed"  # untouched


def test_skip_with_the_right_company_names_it(two, data_dir, capsys):
    ids = _journal_with_entries(data_dir)
    assert cli.main(["skip", str(ids["sklep-a"]), "--company", "SKLEP-A"]) == 0
    assert capsys.readouterr().out.startswith("sklep-a: Dokument FS 1/A nie będzie wysyłany")
    with Journal(data_dir / "journal.sqlite3") as journal:
        assert journal.by_id(ids["sklep-a"]).state == "skipped"
    assert cli.main(["retry", str(ids["sklep-a"])]) == 0  # without --company: any entry, as before
    assert capsys.readouterr().out.startswith("sklep-a: Dokument FS 1/A zostanie wysłany")


# -- secrets --------------------------------------------------------------------------------
def test_secret_set_and_delete_per_company(two, file_keyring, monkeypatch, capsys):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("token-b\n"))
    assert cli.main(["secret", "set", "baselinker-token", "--company", "sklep_b"]) == 0
    assert "nazwa baselinker-token/Sklep_B" in capsys.readouterr().out  # the settings' spelling
    monkeypatch.setattr("sys.stdin", io.StringIO("shared\n"))
    assert cli.main(["secret", "set", "baselinker-token"]) == 0
    assert file_keyring.stored()["raksbl"] == {"baselinker-token/Sklep_B": "token-b", "baselinker-token": "shared"}
    assert secrets.get_secret(secrets.BASELINKER_TOKEN, "Sklep_B") == "token-b"
    assert secrets.get_secret(secrets.BASELINKER_TOKEN, "sklep-a") == "shared"  # the fallback

    assert cli.main(["secret", "delete", "baselinker-token", "--company", "Sklep_B"]) == 0
    assert file_keyring.stored()["raksbl"] == {"baselinker-token": "shared"}


def test_secret_origin_names_own_or_shared_never_the_value(data_dir, file_keyring, monkeypatch):
    assert secrets.secret_origin(secrets.BASELINKER_TOKEN, "sklep-a") is None
    secrets.set_secret(secrets.BASELINKER_TOKEN, "shared-secret")
    assert secrets.secret_origin(secrets.BASELINKER_TOKEN, "sklep-a") == \
        "wspólny (magazyn haseł, nazwa baselinker-token)"
    monkeypatch.setenv("RAKSBL_BASELINKER_TOKEN_SKLEP_A", "own-secret")
    assert secrets.secret_origin(secrets.BASELINKER_TOKEN, "sklep-a") == \
        "własny firmy (zmienna RAKSBL_BASELINKER_TOKEN_SKLEP_A)"
    assert secrets.secret_origin(secrets.BASELINKER_TOKEN) == "magazyn haseł, nazwa baselinker-token"


def test_a_keyring_failure_names_the_companys_variable(monkeypatch):
    class Broken(keyring.backend.KeyringBackend):
        priority = 1

        def get_password(self, service, username):
            raise RuntimeError("no keyring")

        def set_password(self, service, username, password):
            raise RuntimeError("no keyring")

        def delete_password(self, service, username):
            raise RuntimeError("no keyring")

    previous = keyring.get_keyring()
    keyring.set_keyring(Broken())
    try:
        with pytest.raises(secrets.KeyringUnavailable) as info:
            secrets.set_secret(secrets.RAKS_PASSWORD, "x", "sklep-a")
    finally:
        keyring.set_keyring(previous)
    assert "firmy sklep-a" in str(info.value) and "RAKSBL_RAKS_PASSWORD_SKLEP_A" in str(info.value)


# -- update_settings(company=) (inspect-db --write) -----------------------------------------------
def test_update_settings_writes_into_the_named_companys_tables(two):
    settings = update_settings(two, {"raks.database": "localhost:/data/B2.fdb",
                                     "raks.queries.statuses": "SELECT ID, NAZWA FROM X",
                                     "baselinker.timeout_seconds": 7},
                               company="SKLEP_B", keep_replaced="inspect-db")
    b, a = settings.for_company("Sklep_B"), settings.for_company("sklep-a")
    assert b.raks.database == "localhost:/data/B2.fdb" and b.raks.queries == {"statuses": "SELECT ID, NAZWA FROM X"}
    assert b.baselinker.timeout_seconds == 7
    assert a.raks.database == "localhost:/data/A.fdb" and a.raks.queries == {}  # the other company untouched
    text = two.read_text(encoding="utf-8")
    assert "[baselinker]" not in text and "[raks]" not in text  # never a top-level table: that mixes
    assert '#   database = "localhost:/data/B.fdb"' in text and "# A" in text  # old value and comments kept
    assert load_settings(two) == settings


def test_update_settings_refuses_an_unknown_company_and_writes_nothing(two):
    before = two.read_text(encoding="utf-8")
    with pytest.raises(Exception) as info:
        update_settings(two, {"raks.database": "x:/y.fdb"}, company="sklep-x")
    assert "Nie ma firmy 'sklep-x' w ustawieniach; są: sklep-a, Sklep_B." in str(info.value)
    assert two.read_text(encoding="utf-8") == before


# -- send's report ------------------------------------------------------------------------------
def test_send_over_several_companies_prefixes_each_and_sums_up(two, monkeypatch, capsys):
    import time

    from agent.errors import ConfigError, RunAborted
    from agent.export import run
    from agent.export.protocol import Outcome
    from agent.export.results import CompaniesSummary, DocumentRef, DocumentResult, RunSummary

    now = time.time()

    def fake_run_companies(settings, **kwargs):
        sent = RunSummary("r1", "cli", False, now, finished_at=now + 1, company="sklep-a", api_calls=5,
                          results=[DocumentResult(DocumentRef("FS", 1, "FS 1/A", 7), Outcome("sent", bl_number="1"))])
        down = RunSummary("r2", "cli", False, now, finished_at=now, company="Sklep_B",
                          aborted="Nie można połączyć się z serwerem Firebird",
                          setup_error=RunAborted("Nie można połączyć się z serwerem Firebird"))
        bad = RunSummary("r3", "cli", False, now, finished_at=now, company="sklep-c", aborted="x",
                         setup_error=ConfigError("Firma sklep-c: Ustawienie raks.user: puste.", "raks.user", "sklep-c"))
        return CompaniesSummary("cli", False, now, runs=[sent, down, bad], finished_at=now + 1)

    monkeypatch.setattr(run, "run_companies", fake_run_companies)
    assert cli.main(["send"]) == 2  # the worst company's code
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("sklep-a: Podsumowanie — wysłano: 1,")
    assert out[1] == "Sklep_B: Przerwano: Nie można połączyć się z serwerem Firebird"
    assert out[2] == "sklep-c: Błąd ustawień: Ustawienie raks.user: puste."
    assert out[3].startswith("Razem (3 firmy) — wysłano: 1, błędy: 0,") and "Wywołań API: 5" in out[3]
    assert len(out) == 4


def test_send_for_one_company_that_cannot_start_names_it(two, monkeypatch, capsys):
    from agent.errors import RunAborted
    from agent.export import run

    def fake_run_companies(settings, **kwargs):
        raise RunAborted("Nie można połączyć się z serwerem Firebird localhost")

    monkeypatch.setattr(run, "run_companies", fake_run_companies)
    assert cli.main(["send", "--company", "SKLEP_B"]) == 2
    assert capsys.readouterr().err.strip() == "Sklep_B: Przerwano: Nie można połączyć się z serwerem Firebird localhost"


def test_retry_with_company_refuses_an_entry_from_before_the_list(two, data_dir, capsys):
    ids = _journal_with_entries(data_dir)
    assert cli.main(["retry", str(ids[""]), "--company", "sklep-a"]) == 2
    err = capsys.readouterr().err
    assert f"Wpis {ids['']} (FS 3/ONE) pochodzi sprzed listy firm i nie należy jeszcze do firmy sklep-a" in err


def test_send_for_one_company_keeps_the_budget_of_a_token_it_shares(two, monkeypatch, capsys):
    """sklep-a (50/min) and Sklep_B (100/min, the default) share a token: `send --company Sklep_B` alone must
    still use 50/min — the tray may be sending for sklep-a on the same token right now."""
    from agent.export import run
    from agent.export.results import RunSummary

    seen = {}

    def fake_run_export(view, **kwargs):
        seen[view.company] = view.baselinker.requests_per_minute
        return RunSummary("r", "cli", False, 0.0, finished_at=0.0, company=view.company)

    monkeypatch.setattr(run, "run_export", fake_run_export)
    monkeypatch.setenv("RAKSBL_BASELINKER_TOKEN", "one-token-for-both")
    assert cli.main(["send", "--company", "Sklep_B"]) == 0
    assert seen == {"Sklep_B": 50}
    monkeypatch.setenv("RAKSBL_BASELINKER_TOKEN_SKLEP_B", "its-own-token")  # a token of its own: its own budget
    assert cli.main(["send", "--company", "Sklep_B"]) == 0
    assert seen == {"Sklep_B": 100}


# -- init --companies ---------------------------------------------------------------------------
def test_init_with_companies_writes_a_commented_list_that_loads(tmp_path, data_dir, capsys):
    path = tmp_path / "nowy" / "raksbl.toml"
    assert cli.main(["--config", str(path), "init", "--companies", "sklep-a, sklep-b"]) == 0
    assert "raksbl secret set baselinker-token --company sklep-a" in capsys.readouterr().out
    settings = load_settings(path)
    assert settings.company_names == ("sklep-a", "sklep-b")
    assert settings.for_company("sklep-b").raks.database == "localhost:C:/RAKS/Data/F00002.fdb"
    text = path.read_text(encoding="utf-8")
    assert "[baselinker]" not in text and text.count("# budget for this agent") == 2  # comments in each
    assert "# [company.raks.queries]" in text


@pytest.mark.parametrize("names, message", [
    ("sklep-a,sklep ą", "name musi być nazwą z liter"),
    ("sklep-a,SKLEP_A", "Dwie firmy o tej samej nazwie"),
    (",", "Podaj nazwy firm po przecinku"),
])
def test_init_with_bad_company_names_writes_nothing(tmp_path, data_dir, capsys, names, message):
    path = tmp_path / "raksbl.toml"
    assert cli.main(["--config", str(path), "init", "--companies", names]) == 2
    assert message in capsys.readouterr().err
    assert not path.exists()
