"""The company list in the settings file (agent/settings_companies.py): real files, comments kept,
names checked with Polish messages, keyring secrets moved on rename (a JSON-file keyring)."""

from __future__ import annotations

import tomllib

import keyring
import pytest

from agent import secrets
from agent.errors import ConfigError
from agent.settings import load_settings, update_settings, write_default_settings
from agent.settings_companies import (
    add_company,
    check_name,
    own_secret,
    remove_company,
    rename_company,
    shared_secret_present,
    to_companies,
)
from tests.support.file_keyring import install_file_keyring

USER_COMMENT = "# ustawione przez serwisanta\n"

TWO = USER_COMMENT + """\
[sync]
interval_seconds = 120   # co dwie minuty

[[company]]
name = "sklep-a"
[company.baselinker]
invoice_series_id = 15   # seria A
[company.raks]
database = "localhost:C:/RAKS/F00001.fdb"
[company.raks.queries]
statuses = "SELECT s.ID, s.NAZWA FROM MOJE_STATUSY s"  # nasz słownik

[[company]]
name = "sklep-b"
[company.baselinker]
invoice_series_id = 16
[company.raks]
database = "localhost:C:/RAKS/F00002.fdb"
"""


@pytest.fixture
def kr(tmp_path, monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith(("RAKSBL_BASELINKER_TOKEN", "RAKSBL_RAKS_PASSWORD")):
            monkeypatch.delenv(name)
    backend, previous = install_file_keyring(tmp_path)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def two(tmp_path):
    path = tmp_path / "raksbl.toml"
    path.write_text(TWO, encoding="utf-8")
    return path


def test_to_companies_moves_baselinker_and_raks_with_queries_and_keeps_comments(tmp_path, kr):
    path = tmp_path / "raksbl.toml"
    write_default_settings(path, **{"baselinker.invoice_series_id": 15, "raks.database": "srv:C:/F1.fdb",
                                    "raks.queries.statuses": "SELECT s.ID, s.NAZWA FROM S s",
                                    "sync.interval_seconds": 90})
    path.write_text(USER_COMMENT + path.read_text(encoding="utf-8"), encoding="utf-8")
    secrets.set_secret(secrets.BASELINKER_TOKEN, "wspolny")
    edit = to_companies(path, "sklep-a")

    text = path.read_text(encoding="utf-8")
    assert text.startswith(USER_COMMENT)
    assert "# budget for this agent; lower it when the token is shared" in text  # the table's comments moved too
    data = tomllib.loads(text)
    assert set(data) == {"company", "sync", "log"}
    assert data["company"][0]["name"] == "sklep-a"
    assert data["company"][0]["raks"]["queries"] == {"statuses": "SELECT s.ID, s.NAZWA FROM S s"}
    s = load_settings(path)
    assert s.company_names == ("sklep-a",)
    view = s.for_company("sklep-a")
    assert (view.baselinker.invoice_series_id, view.raks.database) == (15, "srv:C:/F1.fdb")
    assert s.sync.interval_seconds == 90
    # the unsuffixed secret is every company's fallback: the converted company still has its token
    assert secrets.get_secret(secrets.BASELINKER_TOKEN, "sklep-a") == "wspolny"
    assert edit.notes and "nadal działają" in edit.notes[0]
    with pytest.raises(ConfigError, match="ma już listę firm"):
        to_companies(path, "sklep-b")


def test_to_companies_of_a_missing_file_starts_from_the_template(tmp_path, kr):
    path = tmp_path / "new" / "raksbl.toml"
    to_companies(path, "sklep-a")
    assert load_settings(path).company_names == ("sklep-a",)


def test_add_company_from_the_template_and_as_a_duplicate_without_secrets(two, kr):
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-a", "sklep-a")
    add_company(two, "sklep-c")
    edit = add_company(two, "sklep-d", copy_from="SKLEP-A")  # names are found in any letter case
    text = two.read_text(encoding="utf-8")
    assert text.startswith(USER_COMMENT) and "# nasz słownik" in text and "# co dwie minuty" in text
    s = load_settings(two)
    assert s.company_names == ("sklep-a", "sklep-b", "sklep-c", "sklep-d")
    c, d = s.for_company("sklep-c"), s.for_company("sklep-d")
    assert c.raks.database == "localhost:C:/RAKS/Data/F00001.fdb" and c.baselinker.invoice_series_id == 0
    assert d.baselinker.invoice_series_id == 15 and d.raks.queries == s.for_company("sklep-a").raks.queries
    # the duplicate is usually a second BaseLinker account: no token copied
    assert own_secret(secrets.BASELINKER_TOKEN, "sklep-d") == ("", "")
    assert "bez tokenu" in edit.notes[0]
    # editing the copy leaves the original alone (a deep copy, not a shared table)
    update_settings(two, {"raks.database": "localhost:C:/RAKS/F00004.fdb"}, company="sklep-d")
    s = load_settings(two)
    assert s.for_company("sklep-a").raks.database == "localhost:C:/RAKS/F00001.fdb"
    assert s.for_company("sklep-d").raks.database == "localhost:C:/RAKS/F00004.fdb"


@pytest.mark.parametrize("name, message", [
    ("", "Podaj nazwę firmy"),
    ("sklep a", "niepoprawna"),
    ("źródło", "bez polskich znaków"),
    ("x" * 41, "najwyżej 40"),
    ("SKLEP_A", "zbyt podobna do firmy „sklep-a”"),
    ("sklep-b", "Firma „sklep-b” już jest na liście"),
])
def test_invalid_or_clashing_names_are_refused_in_polish_and_nothing_is_written(two, kr, name, message):
    before = two.read_bytes()
    with pytest.raises(ConfigError, match=message) as info:
        add_company(two, name)
    assert info.value.key == "company.name"
    with pytest.raises(ConfigError, match=message):
        rename_company(two, "sklep-a", name) if name != "SKLEP_A" else rename_company(two, "sklep-b", name)
    assert two.read_bytes() == before


def test_check_name_lets_a_company_keep_its_name_in_another_case():
    assert check_name(" Sklep-A ", ["sklep-a", "sklep-b"], renaming="sklep-a") == "Sklep-A"


def test_rename_moves_the_keyring_secrets_and_keeps_the_file(two, kr):
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-a", "sklep-a")
    secrets.set_secret(secrets.RAKS_PASSWORD, "haslo-a", "sklep-a")
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-b", "sklep-b")
    rename_company(two, "sklep-a", "hurt")
    text = two.read_text(encoding="utf-8")
    assert text.startswith(USER_COMMENT) and "# seria A" in text
    s = load_settings(two)
    assert s.company_names == ("hurt", "sklep-b")
    assert s.for_company("hurt").baselinker.invoice_series_id == 15
    assert kr.stored()["raksbl"] == {"baselinker-token/hurt": "token-a", "raks-password/hurt": "haslo-a",
                                     "baselinker-token/sklep-b": "token-b"}


def test_rename_that_cannot_write_the_file_keeps_the_old_secrets(two, kr, monkeypatch):
    import agent.settings as settings_module  # the one atomic writer every settings edit uses

    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-a", "sklep-a")
    before = two.read_bytes()

    def disk_full(path, text):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(settings_module, "_atomic_write", disk_full)
    with pytest.raises(OSError):
        rename_company(two, "sklep-a", "hurt")
    assert two.read_bytes() == before
    assert kr.stored()["raksbl"] == {"baselinker-token/sklep-a": "token-a"}


def test_rename_only_in_letter_case_keeps_the_secret(two, kr):
    """On Windows the credential store ignores letter case: deleting the old name must not lose it."""
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-a", "sklep-a")
    rename_company(two, "sklep-a", "Sklep-A")
    assert load_settings(two).company_names == ("Sklep-A", "sklep-b")
    assert secrets.get_secret(secrets.BASELINKER_TOKEN, "Sklep-A") == "token-a"


def test_rename_names_an_environment_variable_it_cannot_move(two, kr, monkeypatch):
    monkeypatch.setenv("RAKSBL_BASELINKER_TOKEN_SKLEP_A", "z-env")
    edit = rename_company(two, "sklep-a", "hurt")
    assert any("RAKSBL_BASELINKER_TOKEN_SKLEP_A" in n and "RAKSBL_BASELINKER_TOKEN_HURT" in n for n in edit.notes)


def test_remove_deletes_the_company_and_its_secrets_but_never_the_last_one(two, kr):
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-a", "sklep-a")
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-b", "sklep-b")
    remove_company(two, "sklep-a")
    text = two.read_text(encoding="utf-8")
    assert "sklep-a" not in text and "# nasz słownik" not in text and "# co dwie minuty" in text
    assert load_settings(two).company_names == ("sklep-b",)
    assert kr.stored()["raksbl"] == {"baselinker-token/sklep-b": "token-b"}
    before = two.read_bytes()
    with pytest.raises(ConfigError, match="jedyna firma") as info:
        remove_company(two, "sklep-b")
    assert info.value.company == "sklep-b"
    assert two.read_bytes() == before
    assert kr.stored()["raksbl"] == {"baselinker-token/sklep-b": "token-b"}


def test_edits_of_a_single_company_file_ask_to_convert_first(tmp_path, kr):
    path = tmp_path / "raksbl.toml"
    write_default_settings(path)
    with pytest.raises(ConfigError, match="Najpierw zamień go na listę firm"):
        add_company(path, "sklep-b")
    to_companies(path, "sklep-a")
    with pytest.raises(ConfigError, match="Nie ma firmy 'nie-ma'"):
        rename_company(path, "nie-ma", "x")


def test_own_secret_tells_the_companys_own_from_the_shared_fallback(kr, monkeypatch):
    assert not shared_secret_present(secrets.BASELINKER_TOKEN)
    secrets.set_secret(secrets.BASELINKER_TOKEN, "wspolny")
    assert shared_secret_present(secrets.BASELINKER_TOKEN)
    assert own_secret(secrets.BASELINKER_TOKEN, "sklep-a") == ("", "")
    secrets.set_secret(secrets.BASELINKER_TOKEN, "wlasny", "sklep-a")
    assert own_secret(secrets.BASELINKER_TOKEN, "sklep-a") == ("wlasny", "keyring")
    monkeypatch.setenv("RAKSBL_BASELINKER_TOKEN_SKLEP_A", "z-env")
    assert own_secret(secrets.BASELINKER_TOKEN, "sklep-a") == ("z-env", "env")


def test_update_settings_with_company_writes_only_that_companys_tables(two):
    update_settings(two, {"raks.status_after_send": 5, "baselinker.receipt_series_id": 7,
                          "sync.interval_seconds": 300}, company="sklep-b")
    data = tomllib.loads(two.read_text(encoding="utf-8"))
    assert data["company"][1]["raks"]["status_after_send"] == 5
    assert data["company"][1]["baselinker"]["receipt_series_id"] == 7
    assert "status_after_send" not in data["company"][0]["raks"]
    assert data["sync"]["interval_seconds"] == 300 and "raks" not in data and "baselinker" not in data
    with pytest.raises(ConfigError, match="Nie ma firmy"):
        update_settings(two, {"raks.user": "X"}, company="nie-ma")


class _Repo:
    """What database_key needs of a RaksRepository: the database's identity."""

    def __init__(self, identity: str):
        self._identity = identity

    def identity(self) -> str:
        return self._identity


@pytest.mark.parametrize("convert_first", [False, True])
def test_rename_then_a_run_keeps_the_journal(tmp_path, kr, convert_first):
    """A sent / skipped document stays sent / skipped after the company is renamed (or the single
    file is turned into a list): the next run's journal key adopts the old entries."""
    from agent.export.dbkey import database_key
    from agent.export.journal import Journal

    path = tmp_path / "raksbl.toml"
    if convert_first:
        write_default_settings(path, **{"raks.database": "localhost:C:/RAKS/F00001.fdb"})
    else:
        path.write_text(TWO, encoding="utf-8")
    repo = _Repo("fb:c:/raks/f00001.fdb@2026-01-01T00:00:00")
    with Journal(tmp_path / "journal.sqlite") as journal:
        before = load_settings(path)
        view = before if convert_first else before.for_company("sklep-a")
        key = database_key(view, repo, journal)
        entry = journal.ensure(key, "FS", 7, "FV 7/2026", 1001)
        journal.mark(entry, "done", bl_doc_id=55, bl_number="FV/7/2026", sent_at=1.0)
        journal.mark(journal.ensure(key, "FS", 8, "FV 8/2026", 1002), "skipped")

        if convert_first:
            to_companies(path, "sklep-a")
        rename_company(path, "sklep-a", "hurt")
        after = load_settings(path).for_company("hurt")
        new_key = database_key(after, repo, journal)

        assert new_key == "[hurt] fb:c:/raks/f00001.fdb@2026-01-01T00:00:00"
        sent = journal.get(new_key, "FS", 7)
        assert sent is not None and sent.state == "done" and sent.bl_doc_id == 55 and sent.company == "hurt"
        assert journal.get(new_key, "FS", 8).state == "skipped"
        assert journal.database_keys() == [new_key]
