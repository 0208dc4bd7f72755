"""Journal: durable recovery points, history, and the user's retry/skip actions."""

import sqlite3
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


def test_entries_move_from_the_setting_text_to_the_database_identity(journal):
    """Issue 16.1: older entries keyed on the raw setting follow the database, never duplicated."""
    skipped = journal.skip(journal.ensure("127.0.0.1:/db/F1.fdb", "FS", 1, "FS 1", 10).id)
    journal.ensure("127.0.0.1:/db/F1.fdb", "FS", 2, "FS 2", 11)
    journal.ensure("fb:/db/f1.fdb@x", "FS", 2, "FS 2", 11)  # already known under the identity: it wins
    assert journal.adopt_database_key("127.0.0.1:/db/F1.fdb", "fb:/db/f1.fdb@x") == 1
    moved = journal.get("fb:/db/f1.fdb@x", "FS", 1)
    assert moved is not None and moved.id == skipped.id and moved.state == "skipped"
    assert journal.adopt_database_key("same", "same") == 0


def test_identity_key_ignores_how_a_windows_path_is_spelled():
    import datetime as dt

    from agent.raks.identity import identity_key

    created = dt.datetime(2026, 1, 2, 3, 4, 5, 678)
    assert identity_key("C:\\RAKS\\Data\\F00001.FDB", created) == identity_key("c:/raks/data/f00001.fdb", created)
    assert identity_key("/var/db/F1.fdb", created) != identity_key("/var/db/f1.fdb", created)  # POSIX: case matters
    assert identity_key("/var/db/F1.fdb", created) != identity_key("/var/db/F1.fdb", created + dt.timedelta(days=1))


def test_a_full_disk_is_reported_as_such_not_as_cannot_rollback(journal):
    """Issue 16.7: SQLITE_FULL rolls the transaction back itself; "cannot rollback" hid it."""
    from agent.errors import StorageError

    entry = journal.ensure("db", "FS", 1, "FS 1", 2)
    pages = journal._db.execute("PRAGMA page_count").fetchone()[0]
    journal._db.execute(f"PRAGMA max_page_count={pages}")  # the disk is full from now on
    with pytest.raises(StorageError) as info:
        for i in range(2000):
            entry = journal.mark(entry, "failed", error="x" * 2000 + str(i))
    assert "Brak miejsca na dysku" in str(info.value) and "rollback" not in str(info.value)
    journal._db.execute(f"PRAGMA max_page_count={pages * 100}")  # space freed: it works again
    assert journal.mark(entry, "failed", error="ok").error == "ok"


def test_a_journal_file_that_is_not_a_database_is_moved_aside(tmp_path):
    path = tmp_path / "journal.sqlite3"
    path.write_bytes(b"garbage" * 1000)
    with Journal(path) as journal:
        assert journal.recovered_from is not None and journal.recovered_from.read_bytes().startswith(b"garbage")
        assert "uszkodzony" in journal.recovery_message
        assert journal.ensure("db", "FS", 1, "FS 1", 2).state == "pending"
    with Journal(path) as again:  # a healthy journal is left alone
        assert again.recovered_from is None and again.get("db", "FS", 1) is not None


def test_damage_found_during_use_moves_the_journal_aside_on_the_next_open(tmp_path):
    from agent.errors import StorageError
    from agent.export import journal as journal_mod

    path = tmp_path / "journal.sqlite3"
    with Journal(path) as journal:
        entry = journal.ensure("db", "FS", 1, "FS 1", 2)
        with pytest.raises(StorageError, match="uszkodzony"):
            with journal_mod._storage(journal.path):
                raise sqlite3.DatabaseError("database disk image is malformed")
    with Journal(path) as again:
        assert again.recovered_from is not None and again.get("db", "FS", 1) is None
        assert not journal_mod._damage_marker(path).exists()
    del entry


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


def test_a_late_create_hold_follows_its_entry_to_the_database_identity(tmp_path):
    """Issues 9.9 + 16.1: the hold kept beside the journal moves with the entry's new key, so a
    journal deleted after the move still restores it."""
    path = tmp_path / "journal.sqlite3"
    with Journal(path, clock=lambda: 1000.0) as journal:
        entry = journal.ensure("127.0.0.1:/db/F1.fdb", "FS", 7, "FS 7", 70)
        journal.mark(entry, "creating", late_create_since=990.0)
        assert journal.adopt_database_key("127.0.0.1:/db/F1.fdb", "fb:/db/f1.fdb@x") == 1
        guard_path = journal.guard_path
    path.unlink()
    for extra in tmp_path.glob("journal.sqlite3-*"):
        extra.unlink()
    assert guard_path.exists()
    with Journal(path, clock=lambda: 1001.0) as fresh:
        restored = fresh.ensure("fb:/db/f1.fdb@x", "FS", 7, "FS 7", 70)
        assert restored.state == "creating" and restored.late_create_since == 990.0
        assert fresh.ensure("127.0.0.1:/db/F1.fdb", "FS", 7, "FS 7", 70).late_create_since is None


def test_journal_states_are_typed_with_their_polish_label(tmp_path):
    from agent.export.states import State

    with Journal(tmp_path / "j.sqlite") as journal:
        entry = journal.ensure("db", "FS", 7, "FV 1/2026", 10)
        assert entry.state is State.PENDING
        assert entry.state.label == "oczekuje"
        entry = journal.mark(entry, "failed", error="x")
        assert journal.get("db", "FS", 7).state is State.FAILED
        assert State.label_of("in_doubt") == "wymaga sprawdzenia"


def test_journal_refusals_are_typed_errors(tmp_path):
    from agent.errors import RaksblError
    from agent.export.journal import AlreadySent, EntryNotFound, UnknownState

    with Journal(tmp_path / "j.sqlite") as journal:
        with pytest.raises(EntryNotFound) as missing:
            journal.allow_retry(999)
        assert isinstance(missing.value, RaksblError)
        assert "999" in str(missing.value)
        entry = journal.ensure("db", "FS", 7, "FV 1/2026", 10)
        with pytest.raises(UnknownState):
            journal.mark(entry, "sent")
        journal.mark(entry, "done")
        with pytest.raises(AlreadySent) as sent:
            journal.skip(entry.id)
        assert "FV 1/2026" in str(sent.value)
