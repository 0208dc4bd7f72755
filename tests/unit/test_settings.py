"""Settings: the file contract (unknown keys, types, validation) and comment-keeping writes."""

import datetime as dt
import os

import pytest

from agent.errors import ConfigError
from agent.settings import DEFAULT_SETTINGS_TEXT, load_settings, parse_settings, update_settings, write_default_settings


def test_template_parses_to_the_documented_defaults():
    s = parse_settings(DEFAULT_SETTINGS_TEXT)
    assert s.baselinker.requests_per_minute == 100
    assert s.baselinker.number_field == "none"
    assert s.raks.statuses_to_send == (2,)
    assert s.raks.status_after_send == 3
    assert s.raks.document_types == ("FS", "PA")
    assert s.raks.not_before is None
    assert s.raks.order_id_pattern == r"\d+"
    assert s.sync.auto is False and s.sync.interval_seconds == 60


@pytest.mark.parametrize(
    "text, key",
    [
        ("[baselinker]\nrequests_per_minut = 5\n", "baselinker.requests_per_minut"),
        ("[raks]\nstatus_after_send = '3'\n", "raks.status_after_send"),
        ("[raks]\nstatuses_to_send = 2\n", "raks.statuses_to_send"),
        ("[raks]\nstatuses_to_send = [true]\n", "raks.statuses_to_send"),
        ("[sync]\nauto = 1\n", "sync.auto"),
        ("[sync]\ninterval_seconds = 1\n", "sync.interval_seconds"),
        ("[raks]\nnot_before = '2026-13-01'\n", "raks.not_before"),
        ("[raks]\ndocument_types = ['FV']\n", "raks.document_types"),
        ("[baselinker]\nnumber_field = 'extra_field_3'\n", "baselinker.number_field"),
        ("[raks]\nstatuses_to_send = [2]\nstatus_after_send = 2\n", "raks.status_after_send"),
        ("[raks]\norder_id_pattern = '('\n", "raks.order_id_pattern"),
        ("[mystery]\nx = 1\n", "mystery"),
        ("[raks.queries]\npending_documents = 5\n", "raks.queries"),
    ],
)
def test_bad_values_name_the_key(text, key):
    with pytest.raises(ConfigError) as err:
        parse_settings(text)
    assert err.value.key == key
    assert key.split(".")[-1] in str(err.value)


def test_syntax_error_is_a_config_error():
    with pytest.raises(ConfigError) as err:
        parse_settings("[raks\n")
    assert err.value.key == "file"


def test_values_are_typed():
    s = parse_settings(
        "[raks]\nnot_before = '2026-11-01'\nstatuses_to_send = [2, 5]\n"
        "[baselinker]\nnumber_field = 'custom:135'\n"
        "[raks.queries]\nstatuses = 'SELECT ID, NAZWA FROM X'\n"
    )
    assert s.raks.not_before == dt.date(2026, 11, 1)
    assert s.raks.statuses_to_send == (2, 5)
    assert s.baselinker.custom_field_id == 135
    assert s.raks.queries == {"statuses": "SELECT ID, NAZWA FROM X"}


def test_missing_file_says_where(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path / "nope.toml")
    assert "nope.toml" in str(err.value)


def test_env_var_selects_the_file(tmp_path, monkeypatch):
    path = tmp_path / "cfg.toml"
    path.write_text("[sync]\ninterval_seconds = 77\n", encoding="utf-8")
    monkeypatch.setenv("RAKSBL_CONFIG", str(path))
    assert load_settings().sync.interval_seconds == 77


def test_update_keeps_comments_and_other_keys(tmp_path):
    path = tmp_path / "raksbl.toml"
    write_default_settings(path)
    path.write_text(path.read_text(encoding="utf-8") + "# my own note: Łódź\n", encoding="utf-8")
    s = update_settings(path, {"sync.auto": True, "raks.statuses_to_send": (2, 5), "raks.queries.statuses": "SELECT 1"})
    text = path.read_text(encoding="utf-8")
    assert s.sync.auto is True
    assert "# budget for this agent; lower it when the token is shared" in text
    assert "# my own note: Łódź" in text
    assert load_settings(path).raks.statuses_to_send == (2, 5)
    assert load_settings(path).raks.queries == {"statuses": "SELECT 1"}
    assert [p.name for p in tmp_path.iterdir()] == ["raksbl.toml"]  # no temp file left behind


def test_update_refuses_invalid_result_and_leaves_file_untouched(tmp_path):
    path = tmp_path / "raksbl.toml"
    write_default_settings(path)
    before = path.read_bytes()
    with pytest.raises(ConfigError):
        update_settings(path, {"sync.interval_seconds": 0})
    assert path.read_bytes() == before


def test_update_leaves_malformed_file_untouched(tmp_path):
    path = tmp_path / "raksbl.toml"
    path.write_text("[sync\nauto = false\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        update_settings(path, {"sync.auto": True})
    assert path.read_text(encoding="utf-8") == "[sync\nauto = false\n"
    assert len(os.listdir(tmp_path)) == 1


def test_update_keeps_replaced_values_as_comments_and_removes_none(tmp_path):
    from agent.settings import load_settings, update_settings, write_default_settings

    path = tmp_path / "raksbl.toml"
    write_default_settings(path, **{"raks.queries.statuses": "SELECT 1 AS ID, 'x' AS NAZWA FROM RDB$DATABASE"})
    path.write_text("# serwisant: nie zmieniać bazy\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    sql = "SELECT s.ID, s.OPIS AS NAZWA\n  FROM MOJE_STATUSY s"
    update_settings(path, {"raks.statuses_to_send": [20], "raks.status_after_send": 3,
                           "raks.queries.statuses": None, "raks.queries.status_counts":
                           "SELECT 1 AS ID_STATUSU, 'FS' AS TYP, 0 AS ILE FROM RDB$DATABASE",
                           "raks.queries.pending_documents": sql}, keep_replaced="propozycja 2026-12-01")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# serwisant: nie zmieniać bazy\n")
    assert "statuses_to_send = [20]           # GM_STATUSY_DOK ids" in text  # the key's own comment stays
    assert "# propozycja 2026-12-01 — poprzednie wartości:\n#   statuses_to_send = [2]" in text
    assert "status_after_send = 3" in text and "#   status_after_send" not in text  # unchanged: no comment
    assert "#   statuses = \"SELECT 1 AS ID, 'x' AS NAZWA FROM RDB$DATABASE\"" in text
    s = load_settings(path)
    assert "statuses" not in s.raks.queries and s.raks.queries["pending_documents"].strip() == sql


# -- files as Windows editors write them (issue 16.5, 16.10) ---------------------------------
_POLISH = DEFAULT_SETTINGS_TEXT.replace('user = "SYSDBA"', 'user = "Księgowość"')


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "cp1250"])
def test_notepad_encodings_are_read(tmp_path, encoding):
    path = tmp_path / "raksbl.toml"
    path.write_bytes(_POLISH.encode(encoding))
    settings = load_settings(path)
    assert settings.raks.user == "Księgowość"
    if encoding == "cp1250":  # a guess: the user is told
        assert settings.warnings and "Windows-1250" in settings.warnings[0]
    else:
        assert settings.warnings == ()


def test_saving_keeps_working_on_a_notepad_file(tmp_path):
    path = tmp_path / "raksbl.toml"
    path.write_bytes(_POLISH.encode("utf-16"))
    update_settings(path, {"sync.auto": True})
    settings = load_settings(path)  # rewritten as UTF-8, nothing lost
    assert settings.sync.auto is True and settings.raks.user == "Księgowość"
    assert path.read_bytes().decode("utf-8")


def test_an_unreadable_file_is_a_polish_error_naming_it(tmp_path):
    path = tmp_path / "raksbl.toml"
    path.write_bytes(b"\x00\x01\x02\xff\xfe\x00binary" * 10)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(path) in str(info.value) and "Nie można odczytać pliku ustawień" in str(info.value)


def test_an_empty_file_is_reported_as_empty(tmp_path):
    path = tmp_path / "raksbl.toml"
    path.write_text("  \n\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="jest pusty"):
        load_settings(path)
    update_settings(path, {"sync.auto": True})  # the dialog can still save into it
    assert load_settings(path).sync.auto is True


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_a_file_without_access_says_so(tmp_path):
    path = tmp_path / "raksbl.toml"
    path.write_text(DEFAULT_SETTINGS_TEXT, encoding="utf-8")
    path.chmod(0)
    with pytest.raises(ConfigError, match="Brak dostępu do pliku ustawień"):
        load_settings(path)


def test_a_file_without_access_says_so_even_as_root(tmp_path, monkeypatch):
    from pathlib import Path

    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(ConfigError, match="Brak dostępu do pliku ustawień"):
        load_settings(tmp_path / "raksbl.toml")


def test_backslashes_in_a_quoted_windows_path_get_advice():
    with pytest.raises(ConfigError) as info:
        parse_settings('[raks]\ndatabase = "C:\\RAKS\\Data\\F00001.fdb"\n')
    assert "C:/RAKS/Data/F00001.fdb" in str(info.value) and "apostrof" in str(info.value)


def test_escapes_that_silently_become_control_characters_are_refused():
    # "\b" and "\t" are valid TOML escapes: the path would become C:<backspace>aza<tab>est.fdb
    with pytest.raises(ConfigError) as info:
        parse_settings('[raks]\ndatabase = "C:\\baza\\test.fdb"\n')
    assert info.value.key == "raks.database" and "znak sterujący" in str(info.value)
    assert parse_settings("[raks]\ndatabase = 'C:\\baza\\test.fdb'\n").raks.database == "C:\\baza\\test.fdb"
