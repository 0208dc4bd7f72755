"""Connection failures and lost connections surface as RaksConnectionError (never the password)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.errors import RunAborted
from agent.raks.errors import RaksConnectionError
from agent.raks.repository import RaksRepository
from agent.raks.schema import STATUS_SENT, STATUS_TO_SEND

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _connect_error(settings, password) -> RaksConnectionError:
    repo = RaksRepository(settings, password)
    t = time.monotonic()
    with pytest.raises(RaksConnectionError) as info:
        repo.connect()
    assert time.monotonic() - t < 10
    assert isinstance(info.value, RunAborted)
    assert not repo.connected
    return info.value


def test_wrong_password(company_db):
    secret = "Zł3-hasło-!x"
    err = _connect_error(company_db.raks_settings(), secret)
    msg = str(err)
    assert "użytkownik „SYSDBA”" in msg and "hasło" in msg
    assert secret not in msg and company_db.password not in msg
    assert secret not in repr(err.args) and err.__cause__ is None


def test_missing_file(company_db, firebird_server):
    missing = firebird_server.db_dir / "NIE_MA.fdb"
    err = _connect_error(company_db.raks_settings(database=firebird_server.dsn_for(missing)), company_db.password)
    msg = str(err)
    assert str(missing) in msg and "nie istnieje" in msg
    assert company_db.password not in msg


def test_unreachable_server(company_db):
    port = _free_port()
    err = _connect_error(company_db.raks_settings(database=f"127.0.0.1/{port}:{company_db.path}"), company_db.password)
    msg = str(err)
    assert f"127.0.0.1:{port}" in msg and "serwerem Firebird" in msg
    assert company_db.password not in msg


def test_unknown_host(company_db):
    err = _connect_error(company_db.raks_settings(database=f"nie-ma-takiego-hosta.invalid:{company_db.path}"),
                         company_db.password)
    assert "nie-ma-takiego-hosta.invalid" in str(err)
    assert company_db.password not in str(err)


def test_missing_client_library_path(company_db):
    err = _connect_error(company_db.raks_settings(client_library="/nie/ma/fbclient.so"), company_db.password)
    assert "biblioteki klienta Firebird" in str(err) and "„/nie/ma/fbclient.so”" in str(err)
    assert "raks.client_library" in str(err)  # tells the user which setting to fix


def test_unloadable_client_library():
    # fdb loads the client library once per process: only a fresh process can test this
    code = (
        "from agent.raks.repository import RaksRepository, RaksConnectionError\n"
        "from tests.support.firebird import RaksSettingsStub\n"
        "s = RaksSettingsStub(database='localhost:/x.fdb', client_library='libnie-ma-fbclient.so')\n"
        "try:\n    RaksRepository(s, 'pw').connect()\nexcept RaksConnectionError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=str(ROOT))
    assert "biblioteki klienta Firebird „libnie-ma-fbclient.so”" in out.stdout, out


def _kill_attachments(company_db) -> None:
    """Cut the repository's attachment, like an administrator or a dying server would."""
    company_db.kill_other_attachments()


def test_lost_connection_during_reads(company_db):
    company_db.add_document(number="FS 1")
    repo = company_db.repository()
    assert len(repo.pending_documents()) == 1
    _kill_attachments(company_db)
    with pytest.raises(RaksConnectionError) as info:
        repo.pending_documents()
    assert "Utracono połączenie" in str(info.value)
    assert not repo.connected
    with pytest.raises(RaksConnectionError):
        repo.statuses()
    repo.connect()                     # the next run reconnects
    assert len(repo.pending_documents()) == 1


def test_lost_connection_during_claim(company_db):
    raks_id = company_db.add_document(number="FS 1")
    repo = company_db.repository()
    [doc] = repo.pending_documents()
    claim = repo.claim(doc)
    _kill_attachments(company_db)
    with pytest.raises(RaksConnectionError):
        claim.set_status(STATUS_SENT)
    claim.rollback()                   # harmless after the loss
    assert company_db.status("FS", raks_id) == STATUS_TO_SEND


def test_lost_connection_at_commit(company_db):
    raks_id = company_db.add_document(number="FS 1")
    repo = company_db.repository()
    [doc] = repo.pending_documents()
    with repo.claim(doc) as claim:
        assert claim.set_status(STATUS_SENT)
        _kill_attachments(company_db)
        with pytest.raises(RaksConnectionError):
            claim.commit()
    assert company_db.status("FS", raks_id) == STATUS_TO_SEND


def test_server_restart(company_db, firebird_server):
    raks_id = company_db.add_document(number="FS 1")
    repo = company_db.repository()
    [doc] = repo.pending_documents()
    claim = repo.claim(doc)
    assert claim.set_status(STATUS_SENT)
    firebird_server.restart()
    company_db.reset_admin()           # the helper's own connection broke too
    with pytest.raises(RaksConnectionError) as info:
        claim.commit()
    assert "Utracono połączenie z serwerem localhost:3050" in str(info.value)
    assert company_db.password not in str(info.value)
    with pytest.raises(RaksConnectionError):
        repo.pending_documents()
    repo.connect()
    assert [d.raks_id for d in repo.pending_documents()] == [raks_id]   # the uncommitted change is gone
    repo.close()
