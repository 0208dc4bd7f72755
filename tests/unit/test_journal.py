"""Journal: durable recovery points, history, and the user's retry/skip actions."""

import subprocess
import sys

import pytest

from agent.export.journal import Journal


@pytest.fixture
def journal(tmp_path):
    with Journal(tmp_path / "journal.sqlite3") as j:
        yield j


def test_ensure_is_idempotent_and_refreshes_number(journal):
    a = journal.ensure("db", "FS", 7, "FS 1/2026", 111)
    b = journal.ensure("db", "FS", 7, "FS 1/2026 poprawiony", 112)
    assert a.id == b.id
    assert b.state == "pending" and b.number == "FS 1/2026 poprawiony" and b.order_id == 112
    other_db = journal.ensure("other", "FS", 7, "FS 1/2026", 111)
    assert other_db.id != a.id  # two company databases never share entries


def test_mark_records_state_fields_and_history(journal):
    e = journal.ensure("db", "PA", 3, "PA 3/2026", 5)
    e = journal.mark(e, "creating", run_id="r1")
    e = journal.mark(e, "created", run_id="r1", bl_doc_id=900)
    e = journal.mark(e, "failed", run_id="r1", error="zamówienie 5 nie istnieje")
    assert (e.state, e.bl_doc_id, e.error) == ("failed", 900, "zamówienie 5 nie istnieje")
    assert [h["state"] for h in journal.history(e.id)] == ["creating", "created", "failed"]
    assert journal.recent(failed_only=True)[0].id == e.id
    with pytest.raises(ValueError):
        journal.mark(e, "nonsense")


def test_state_survives_a_killed_process(tmp_path):
    path = tmp_path / "j.sqlite3"
    code = (
        "import os, signal; from agent.export.journal import Journal;"
        f"j = Journal({str(path)!r}); e = j.ensure('db','FS',1,'FS 1',2);"
        "j.mark(e, 'created', bl_doc_id=44); os.kill(os.getpid(), signal.SIGKILL)"
    )
    proc = subprocess.run([sys.executable, "-c", code])
    assert proc.returncode != 0
    with Journal(path) as j:
        e = j.get("db", "FS", 1)
        assert e.state == "created" and e.bl_doc_id == 44


def test_retry_and_skip(journal):
    e = journal.ensure("db", "FS", 1, "FS 1", 2)
    e = journal.mark(e, "in_doubt", error="2 faktury bez pliku")
    retried = journal.allow_retry(e.id)
    assert retried.state == "in_doubt" and retried.retry_allowed  # keeps its recovery point
    skipped = journal.skip(e.id)
    assert skipped.state == "skipped"
    assert journal.allow_retry(e.id).state == "pending"
    done = journal.mark(journal.by_id(e.id), "done")
    with pytest.raises(ValueError):
        journal.skip(done.id)
    with pytest.raises(KeyError):
        journal.allow_retry(12345)


def test_a_journal_of_an_older_version_gets_the_late_create_column(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE documents (id INTEGER PRIMARY KEY, database TEXT NOT NULL, doc_type TEXT NOT NULL,"
        " raks_id INTEGER NOT NULL, number TEXT NOT NULL, order_id INTEGER, state TEXT NOT NULL,"
        " bl_doc_id INTEGER, bl_number TEXT, error TEXT, attempts INTEGER NOT NULL DEFAULT 0,"
        " retry_allowed INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL, updated_at REAL NOT NULL,"
        " sent_at REAL, UNIQUE (database, doc_type, raks_id));"
        "INSERT INTO documents VALUES (1,'db','FS',7,'FS 7',10,'created',500001,NULL,NULL,1,0,1.0,1.0,NULL);"
    )
    db.commit()
    db.close()
    with Journal(path) as journal:
        entry = journal.get("db", "FS", 7)
        assert entry.state == "created" and entry.late_create_since is None
        assert journal.mark(entry, "creating", late_create_since=5.0).late_create_since == 5.0


def test_late_create_guard_survives_the_deleted_journal_and_ends_with_the_create(tmp_path):
    data = tmp_path / "data"
    with Journal(data / "journal.sqlite3", clock=lambda: 100.0) as journal:
        entry = journal.ensure("db", "PA", 3, "PA 3", 10)
        journal.mark(entry, "creating", late_create_since=99.0, error="brak odpowiedzi")
    (data / "journal.sqlite3").unlink()
    with Journal(data / "journal.sqlite3") as journal:
        restored = journal.ensure("db", "PA", 3, "PA 3", 10)
        assert restored.state == "creating" and restored.late_create_since == 99.0
        assert journal.ensure("db", "FS", 3, "FS 3", 11).state == "pending"  # only that document
        journal.mark(restored, "created", bl_doc_id=700001)
        assert journal.get("db", "PA", 3).late_create_since is None
    assert not (data / "late-creates.json").exists()


def test_a_guard_file_that_cannot_be_written_does_not_fail_the_mark(tmp_path, monkeypatch):
    import os

    def locked(*args):
        raise PermissionError(13, "The process cannot access the file")  # Windows, a scanner holds it

    monkeypatch.setattr(os, "replace", locked)
    with Journal(tmp_path / "journal.sqlite3") as journal:
        entry = journal.ensure("db", "FS", 1, "FS 1", 10)
        assert journal.mark(entry, "creating", late_create_since=5.0).late_create_since == 5.0
