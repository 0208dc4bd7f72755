"""Which Firebird client library is used, as a user sees it: `doctor`, and the settings dialog's
"Testuj połączenie" after `raks.client_library` changed in a process that already loaded one
(tested in a child process: agent/raks/probe.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agent import fbclient
from agent.lookups import load_raks_catalog
from agent.raks.connection import open_connection
from agent.raks.errors import ProfileError, RaksConnectionError
from tests.support import firebird5

ROOT = Path(__file__).resolve().parents[2]
CLIENT_LINE = re.compile(r"biblioteka klienta Firebird: (\S+) — Firebird (\d+\.\d+\.\d+)")


def test_doctor_names_the_client_library_and_its_version(export_env):
    result = export_env.cli("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    m = CLIENT_LINE.search(result.stdout)
    assert m, result.stdout
    assert os.path.isfile(m.group(1)) and "fbclient" in m.group(1)
    assert m.group(2).startswith("3.0.")   # Debian's libfbclient2: the system client comes first


def test_doctor_with_the_firebird5_client_reaches_the_firebird3_server(export_env):
    """The configured client wins; the Firebird 5 client talks to the Firebird 3 server over TCP."""
    client = str(firebird5.client_library())
    export_env.configure(raks__client_library=client)
    export_env.add_doc("FS")
    result = export_env.cli("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    m = CLIENT_LINE.search(result.stdout)
    assert m and m.group(1) == client and m.group(2).startswith("5.0."), result.stdout
    assert re.search(r"połączenie: OK, serwer \S+ Firebird 3\.0", result.stdout)
    assert "czeka na wysłanie: 1 (bez PDF: 0)" in result.stdout


def _ensure_loaded(company_db) -> fbclient.ClientInfo:
    company_db.repository().close()
    info = fbclient.loaded_client()
    assert info is not None
    return info


def test_changed_client_library_is_tested_in_a_child_process_and_needs_a_restart(company_db):
    """"Testuj połączenie" after raks.client_library changed: the new client is really tested
    (in a fresh process), and the dialog says this program switches to it after a restart."""
    loaded = _ensure_loaded(company_db)
    other = str(firebird5.client_library())
    assert not os.path.samefile(loaded.path, other)

    same = load_raks_catalog(company_db.raks_settings(client_library=loaded.path), company_db.password)
    assert same.client_note == "" and loaded.path in same.summary()

    changed = load_raks_catalog(company_db.raks_settings(client_library=other), company_db.password)
    summary = changed.summary()
    assert summary.startswith("Połączenie działa. Serwer Firebird"), summary
    assert re.search(rf"Biblioteka klienta: {re.escape(other)} — Firebird 5\.0\.\d+", summary), summary
    assert "zacznie używać tej biblioteki dopiero po ponownym uruchomieniu" in summary
    assert f"do tego czasu używa „{loaded.path}”" in summary
    assert changed.statuses == same.statuses and changed.counts == same.counts
    assert fbclient.loaded_client().path == loaded.path          # this process kept its client


def test_errors_of_the_new_client_come_from_the_new_client(company_db):
    loaded = _ensure_loaded(company_db)
    settings = company_db.raks_settings(client_library=str(firebird5.client_library()))
    with pytest.raises(RaksConnectionError, match="Logowanie do bazy RaksSQL nie powiodło się"):
        load_raks_catalog(settings, "złe-hasło")
    broken = company_db.raks_settings(client_library=str(firebird5.client_library()),
                                      queries={"statuses": "SELECT NIE_MA FROM GM_STATUSY_DOK"})
    with pytest.raises(ProfileError) as info:
        load_raks_catalog(broken, company_db.password)
    assert info.value.key == "raks.queries.statuses" and "NIE_MA" in str(info.value)
    assert fbclient.loaded_client().path == loaded.path


def test_a_run_with_a_changed_client_blames_no_path_it_does_not_use(company_db):
    """A run (not the dialog) keeps the loaded client; its errors name that one."""
    loaded = _ensure_loaded(company_db)
    with pytest.raises(RaksConnectionError) as info:
        open_connection(company_db.dsn, company_db.user, "złe-hasło", client_library=str(firebird5.client_library()))
    message = str(info.value)
    assert "Logowanie do bazy RaksSQL nie powiodło się" in message
    assert f"nadal używa „{loaded.path}”" in message
    assert "Nie można załadować biblioteki" not in message


def test_a_configured_client_that_does_not_exist_is_still_an_error(company_db):
    _ensure_loaded(company_db)
    with pytest.raises(RaksConnectionError, match="raks.client_library"):
        load_raks_catalog(company_db.raks_settings(client_library="/nie/ma/libfbclient.so.2"), company_db.password)


_CONF_SCRIPT = r"""
import os, sys, fdb
fdb.load_api(sys.argv[1])
try:
    fdb.connect(dsn=sys.argv[2], user="SYSDBA", password=os.environ["FB_TEST_PASSWORD"]).close()
    print("OK")
except fdb.DatabaseError as exc:
    print("ERR", " ".join(exc.args[0].split()))
"""


def test_the_bundled_clients_config_is_what_it_follows(company_db, tmp_path):
    """The bundle's client reads the firebird.conf of the folder FIREBIRD names (prepare_client
    sets it): the shipped one (SRP first, Legacy_Auth for 2.5 servers) logs in to the Firebird 3
    server; a legacy-only one is refused by it — so the shipped settings are the ones in force."""
    runtime = firebird5.runtime_dir()
    results = {}
    for name, conf in (("shipped", (ROOT / "build" / "firebird-client.conf").read_text()),
                       ("legacy-only", "AuthClient = Legacy_Auth\nWireCrypt = Enabled\n")):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "firebird.conf").write_text(conf)
        (folder / "firebird.msg").write_bytes((runtime / "firebird.msg").read_bytes())
        env = dict(os.environ, FIREBIRD=str(folder), FB_TEST_PASSWORD=company_db.password)
        proc = subprocess.run([sys.executable, "-c", _CONF_SCRIPT, str(firebird5.client_library()), company_db.dsn],
                              env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        results[name] = proc.stdout.strip()
    assert results["shipped"] == "OK"
    assert results["legacy-only"].startswith("ERR") and "during login" in results["legacy-only"], results
