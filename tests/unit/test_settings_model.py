"""The settings form's model, without any window: the validation table and the round trip."""

from __future__ import annotations

import datetime as dt

from agent import settings_model as m
from agent.settings import Settings, load_settings, update_settings, write_default_settings


def _form(settings: Settings) -> dict:
    values = m.settings_to_form(settings)
    values[m.TOKEN] = "1234-token"
    return values


def test_the_table_covers_every_setting_the_form_shows():
    shown = set(m.settings_to_form(Settings())) - {m.SERVER, m.DB_PATH, m.QUERIES}
    assert shown | {"raks.database"} == set(m.MANAGED_KEYS)
    for key in m.MANAGED_KEYS:  # every key names a real setting
        section, name = key.split(".")
        assert hasattr(getattr(Settings(), section), name), key


def test_an_unchanged_form_writes_nothing(tmp_path):
    path = tmp_path / "raksbl.toml"
    write_default_settings(path)
    settings = update_settings(path, {"raks.database": "db.example/3050:C:/RAKS/F00001.fdb",
                                      "raks.statuses_to_send": [1, 2], "raks.not_before": dt.date(2026, 1, 31)})
    typed, errors = m.form_to_settings(_form(settings))
    assert errors == {}
    assert m.changes_to_write(settings, settings, typed) == ({}, [])


def test_form_text_that_is_not_a_setting_is_named_by_its_field(tmp_path):
    path = tmp_path / "raksbl.toml"
    write_default_settings(path)
    values = _form(load_settings(path))
    values.update({"sync.interval_seconds": "co minutę", "baselinker.timeout_seconds": " ",
                   "raks.not_before": "31.01.2026", m.TOKEN: ""})
    typed, errors = m.form_to_settings(values)
    assert errors == {
        "sync.interval_seconds": "Podaj liczbę całkowitą.",
        "baselinker.timeout_seconds": "Pole nie może być puste.",
        "raks.not_before": "Podaj datę w formacie RRRR-MM-DD (np. 2026-01-31) albo zostaw puste.",
        m.TOKEN: "Wpisz token API BaseLinker (BaseLinker → Moje konto → API).",
    }
    assert "sync.interval_seconds" not in typed


def test_a_changed_field_is_the_only_change_and_an_override_back_to_default_is_removed(tmp_path):
    path = tmp_path / "raksbl.toml"
    write_default_settings(path)
    settings = update_settings(path, {"raks.queries.statuses": "SELECT ID, NAZWA FROM X"})
    values = _form(settings)
    values["sync.interval_seconds"] = "600"
    values[m.QUERIES] = dict(values[m.QUERIES], statuses=m.DEFAULT_QUERIES["statuses"])
    typed, errors = m.form_to_settings(values)
    assert errors == {}
    assert m.changes_to_write(settings, settings, typed) == ({"sync.interval_seconds": 600}, ["raks.queries.statuses"])
    after = m.remove_settings_keys(path, ["raks.queries.statuses"])
    assert "statuses" not in after.raks.queries


def test_lenient_settings_keeps_a_list_of_companies_and_their_readable_keys(tmp_path):
    path = tmp_path / "raksbl.toml"
    path.write_text('[sync]\ninterval_seconds = 5\n\n'
                    '[[company]]\nname = "sklep-a"\n[company.raks]\ndatabase = "a.fdb"\nstatus_after_send = "x"\n\n'
                    '[[company]]\nname = "zła nazwa"\n\n'
                    '[[company]]\nname = "sklep-b"\n[company.baselinker]\ntimeout_seconds = 9999\n',
                    encoding="utf-8")
    s = m.lenient_settings(path)
    assert s.company_names == ("sklep-a", "sklep-b")  # a name that cannot be shown is left out
    a, b = s.for_company("sklep-a"), s.for_company("sklep-b")
    assert a.raks.database == "a.fdb" and a.raks.status_after_send == 3  # the wrong type: the default
    assert b.baselinker.timeout_seconds == 9999  # the right type, an impossible value: shown to be fixed
    assert s.sync.interval_seconds == 5 and s.raks.database == "a.fdb"
