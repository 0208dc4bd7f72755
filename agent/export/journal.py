"""The local journal: one row per RaksSQL document, its progress and its recovery points.

SQLite in the data dir, WAL mode, ``synchronous=FULL``: a state written here survives a crash
or a power cut the moment :meth:`Journal.mark` returns. States, in protocol order::

    pending ─► creating ─► created ─► attached ─► bl_done ─► done
                  │            (the BaseLinker invoice/receipt id is known from "created" on)
                  └─ a create call was sent and its outcome is unknown until looked up
    failed     the last attempt failed for a reason the user can fix; retried on the next run
    in_doubt   a state the agent cannot settle by itself; never retried until the user says so
    skipped    the user said "never send this one"

The journal is an optimisation and a history, not the only guard against duplicates: the
protocol always checks BaseLinker (an invoice carrying our external number is ours) and the
RaksSQL status, so a deleted journal never leads to a second invoice (see protocol.py).

The one thing BaseLinker cannot tell is that a create whose answer timed out may still be
running there. That guard (``late_create_since``) is also kept in a small side file next to
the journal (``late-creates.json``), so deleting the journal file does not lift it: a new
journal restores it when the document comes up again (:meth:`Journal.ensure`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from agent.errors import RaksblError, StorageError
from agent.export.dbkey import company_key, split_key
from agent.export.states import State
from agent.paths import _make_dir

log = logging.getLogger(__name__)

STATES = tuple(State)
# States from which the next run continues the protocol where it stopped.
IN_PROGRESS = ("creating", "created", "attached", "bl_done")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id          INTEGER PRIMARY KEY,
    database    TEXT NOT NULL,
    doc_type    TEXT NOT NULL,
    raks_id     INTEGER NOT NULL,
    number      TEXT NOT NULL,
    order_id    INTEGER,
    state       TEXT NOT NULL,
    bl_doc_id   INTEGER,
    bl_number   TEXT,
    error       TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    retry_allowed INTEGER NOT NULL DEFAULT 0,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    sent_at     REAL,
    late_create_since REAL,
    UNIQUE (database, doc_type, raks_id)
);
CREATE INDEX IF NOT EXISTS documents_updated ON documents (updated_at);
CREATE TABLE IF NOT EXISTS history (
    id        INTEGER PRIMARY KEY,
    doc       INTEGER NOT NULL REFERENCES documents(id),
    at        REAL NOT NULL,
    run_id    TEXT,
    state     TEXT NOT NULL,
    message   TEXT
);
CREATE INDEX IF NOT EXISTS history_doc ON history (doc);
"""


@dataclass(frozen=True)
class JournalEntry:
    id: int
    database: str
    doc_type: str
    raks_id: int
    number: str
    order_id: int | None
    state: State
    bl_doc_id: int | None
    bl_number: str | None
    error: str | None
    attempts: int
    retry_allowed: bool
    created_at: float
    updated_at: float
    sent_at: float | None
    # When a create whose answer timed out (and may still run at BaseLinker) was sent; the
    # document is held until a lookup sees its result or the quarantine passed (protocol.py).
    late_create_since: float | None = None

    @property
    def company(self) -> str:
        """The company the entry belongs to ("" in a single-company setup; see export.dbkey)."""
        return split_key(self.database)[0]


class JournalError(RaksblError):
    """A request the journal refuses (the caller's mistake or a stale view, not a broken file)."""


class EntryNotFound(JournalError, KeyError):
    """No journal entry with this id (e.g. ``raksbl retry 999``)."""

    def __str__(self) -> str:
        return f"Nie ma wpisu {self.args[0]} w dzienniku."


class AlreadySent(JournalError, ValueError):
    """Retry/skip of a document that is already sent: a re-send starts in RaksSQL instead."""

    def __str__(self) -> str:
        return f"Dokument {self.args[0]} został już wysłany."


class UnknownState(JournalError, ValueError):
    """A programming error: a state outside :class:`State`."""


class UnknownField(JournalError, ValueError):
    """A programming error: ``mark`` was given a field the journal does not have."""


class Journal:
    """Thread-safe access to the journal file (one connection, serialised)."""

    def __init__(self, path: Path | str, *, clock=time.time):
        self.path = Path(path)
        _make_dir(self.path.parent)
        self._clock = clock
        self._lock = threading.RLock()
        #: Where a corrupted journal found on opening was moved (kept for inspection), else None.
        self.recovered_from: Path | None = None
        try:
            if _damage_marker(self.path).exists():  # found damaged while in use (see _storage)
                raise sqlite3.DatabaseError("database disk image is malformed (found during use)")
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                raise _storage_error(self.path, exc) from None
            self.recovered_from = _move_aside(self.path)
            log.error("the journal %s was damaged (%s); moved to %s, starting a new one",
                      self.path, exc, self.recovered_from)
            try:
                self._db = self._open()
            except sqlite3.DatabaseError as exc2:
                raise _storage_error(self.path, exc2) from None

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=30000")
            db.executescript(_SCHEMA)  # reads the schema: a file that is not a journal fails here
            db.execute("SELECT COUNT(*) FROM documents").fetchone()
            _migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    @property
    def recovery_message(self) -> str | None:
        """The Polish notice for the user after a damaged journal was moved aside."""
        if self.recovered_from is None:
            return None
        return (f"Dziennik raksbl był uszkodzony: przeniesiono go do {self.recovered_from} (zachowany) i założono "
                "nowy. Nic nie zostanie wysłane w ciemno: przed każdym dokumentem agent sprawdza zamówienie w "
                "BaseLinker. Pominięcia (raksbl skip) trzeba powtórzyć.")

    def now(self) -> float:
        return self._clock()

    # -- the late-create guard's side file ----------------------------------------------------
    @property
    def guard_path(self) -> Path:
        return self.path.with_name("late-creates.json")

    @staticmethod
    def _guard_key(database: str, doc_type: str, raks_id: int) -> str:
        return f"{database}|{doc_type}|{raks_id}"

    def _guards(self) -> dict[str, float]:
        try:
            data = json.loads(self.guard_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # unreadable: the journal's own column still guards
        return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _write_guard(self, key: str, since: float | None) -> None:
        guards = self._guards()
        if since is None:
            if guards.pop(key, None) is None:
                return
        else:
            guards[key] = since
        if not guards:
            self.guard_path.unlink(missing_ok=True)
            return
        tmp = self.guard_path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(guards, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.guard_path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @staticmethod
    def _entry(row: sqlite3.Row | None) -> JournalEntry | None:
        if row is None:
            return None
        data = dict(row)
        data["retry_allowed"] = bool(data["retry_allowed"])
        data["state"] = State(data["state"])
        return JournalEntry(**data)

    def get(self, database: str, doc_type: str, raks_id: int) -> JournalEntry | None:
        with self._lock, _storage(self.path):
            row = self._db.execute(
                "SELECT * FROM documents WHERE database=? AND doc_type=? AND raks_id=?", (database, doc_type, raks_id)
            ).fetchone()
        return self._entry(row)

    def database_keys(self) -> list[str]:
        """Every database key the journal has entries under (see export.dbkey)."""
        with self._lock, _storage(self.path):
            return [row[0] for row in self._db.execute("SELECT DISTINCT database FROM documents ORDER BY database")]

    def bl_doc_ids(self, database: str, doc_type: str, *, besides: int) -> set[int]:
        """BaseLinker document ids the journal names for documents of ``doc_type`` other than
        entry ``besides`` (a correction without a file that another KS created is not ours)."""
        with self._lock, _storage(self.path):
            rows = self._db.execute(
                "SELECT bl_doc_id FROM documents WHERE database=? AND doc_type=? AND id<>? AND bl_doc_id IS NOT NULL",
                (database, doc_type, besides),
            ).fetchall()
        return {int(r[0]) for r in rows}

    def by_id(self, entry_id: int) -> JournalEntry | None:
        with self._lock, _storage(self.path):
            row = self._db.execute("SELECT * FROM documents WHERE id=?", (entry_id,)).fetchone()
        return self._entry(row)

    def ensure(self, database: str, doc_type: str, raks_id: int, number: str, order_id: int | None) -> JournalEntry:
        """The entry for this document, created in state ``pending`` if new (number/order refreshed)."""
        now = self._clock()
        with self._lock, _storage(self.path):
            self._db.execute(
                "INSERT INTO documents (database, doc_type, raks_id, number, order_id, state, created_at, updated_at)"
                " VALUES (?,?,?,?,?,'pending',?,?)"
                " ON CONFLICT (database, doc_type, raks_id) DO UPDATE SET number=excluded.number,"
                " order_id=excluded.order_id",
                (database, doc_type, raks_id, number, order_id, now, now),
            )
            entry = self.get(database, doc_type, raks_id)
            assert entry is not None
            since = self._guards().get(self._guard_key(database, doc_type, raks_id))
            if since is not None and entry.state == "pending" and entry.late_create_since is None:
                # The journal was lost after a create timed out: restore the hold.
                entry = self.mark(entry, "creating", late_create_since=since,
                                  message="przywrócono blokadę po utworzeniu bez odpowiedzi")
        return entry

    def adopt_database_key(self, old: str, new: str) -> int:
        """Move entries keyed ``old`` to ``new`` (see export.dbkey); one already under ``new`` wins."""
        if old == new:
            return 0
        with self._lock:  # the side file too: companies' runs side by side share this journal
            with _storage(self.path):
                cur = self._db.execute(
                    "UPDATE OR IGNORE documents SET database=? WHERE database=?", (new, old)
                )
                moved = cur.rowcount
            # The late-create holds kept beside the journal follow their entries to the new key.
            guards = self._guards()
            for key, since in list(guards.items()):
                if key.startswith(old + "|"):
                    try:
                        self._write_guard(new + key[len(old):], since)
                        self._write_guard(key, None)
                    except OSError as exc:
                        log.warning("cannot update %s (the journal still holds the guard): %s", self.guard_path, exc)
        return moved

    def mark(
        self,
        entry: JournalEntry,
        state: State | str,
        *,
        run_id: str | None = None,
        message: str | None = None,
        **fields,
    ) -> JournalEntry:
        """Durably move ``entry`` to ``state`` (a recovery point) and record it in the history."""
        if state not in STATES:
            raise UnknownState(state)
        state = State(state)
        allowed = {"bl_doc_id", "bl_number", "error", "attempts", "retry_allowed", "sent_at", "late_create_since"}
        unknown = set(fields) - allowed
        if unknown:
            raise UnknownField(f"unknown journal fields {unknown}")
        now = self._clock()
        sets = ["state=?", "updated_at=?"]
        values: list = [state, now]
        if state in ("done", "bl_done", "attached", "created"):
            fields.setdefault("error", None)
            fields.setdefault("late_create_since", None)  # the create's outcome is known now
        for key, value in fields.items():
            sets.append(f"{key}=?")
            values.append(int(value) if isinstance(value, bool) else value)
        with self._lock, _storage(self.path):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(f"UPDATE documents SET {', '.join(sets)} WHERE id=?", (*values, entry.id))
                self._db.execute(
                    "INSERT INTO history (doc, at, run_id, state, message) VALUES (?,?,?,?,?)",
                    (entry.id, now, run_id, state, message if message is not None else fields.get("error")),
                )
                self._db.execute("COMMIT")
            except BaseException:
                # SQLite may already have rolled back (e.g. disk full): never let "cannot rollback"
                # hide the real error.
                if self._db.in_transaction:
                    try:
                        self._db.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise
            updated = self.by_id(entry.id)
            assert updated is not None
            if "late_create_since" in fields and (fields["late_create_since"] is not None
                                                  or entry.late_create_since is not None):
                try:
                    self._write_guard(self._guard_key(updated.database, updated.doc_type, updated.raks_id),
                                      fields["late_create_since"])
                except OSError as exc:  # e.g. a virus scanner holding the file on Windows
                    log.warning("cannot update %s (the journal still holds the guard): %s", self.guard_path, exc)
        return updated

    def set_bl_number(self, entry_id: int, bl_number: str) -> None:
        """Store BaseLinker's own number of the document (read after the run), no state change."""
        with self._lock:
            self._db.execute("UPDATE documents SET bl_number=? WHERE id=?", (bl_number, entry_id))

    def recent(self, limit: int = 50, *, failed_only: bool = False, company: str | None = None) -> list[JournalEntry]:
        """The latest entries (of ``company`` when given: "" = the single company's)."""
        conditions, params = [], []
        if failed_only:
            conditions.append("state IN ('failed','in_doubt')")
        if company is not None:
            if company:
                prefix = company_key(company, "")
                conditions.append("substr(database, 1, ?) = ?")
                params += [len(prefix), prefix]
            else:
                conditions.append("database NOT LIKE '[%] %'")
        where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
        with self._lock, _storage(self.path):
            rows = self._db.execute(
                f"SELECT * FROM documents {where} ORDER BY updated_at DESC, id DESC LIMIT ?", (*params, limit)
            ).fetchall()
        return [self._entry(r) for r in rows]  # type: ignore[misc]

    def history(self, entry_id: int) -> list[dict]:
        with self._lock, _storage(self.path):
            rows = self._db.execute("SELECT * FROM history WHERE doc=? ORDER BY id", (entry_id,)).fetchall()
        return [dict(r) for r in rows]

    def allow_retry(self, entry_id: int) -> JournalEntry:
        """The user asks to try a failed / in-doubt / skipped document again."""
        entry = self.by_id(entry_id)
        if entry is None:
            raise EntryNotFound(entry_id)
        if entry.state == State.DONE:
            raise AlreadySent(entry.number)
        # A skipped or failed document simply starts again; an in-doubt one keeps its recovery
        # point but is allowed one more attempt, which re-checks BaseLinker before any create.
        next_state = "pending" if entry.state == "skipped" else entry.state
        return self.mark(entry, next_state, retry_allowed=True, message="ponowienie na żądanie użytkownika")

    def skip(self, entry_id: int) -> JournalEntry:
        entry = self.by_id(entry_id)
        if entry is None:
            raise EntryNotFound(entry_id)
        if entry.state == State.DONE:
            raise AlreadySent(entry.number)
        return self.mark(entry, "skipped", message="pominięty na żądanie użytkownika")


# -- the journal's own troubles: always a message saying what to do ----------------------------


def _migrate(db: sqlite3.Connection) -> None:
    """Add the columns newer versions use to a journal written by an older one."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(documents)")}
    if "late_create_since" not in columns:
        db.execute("ALTER TABLE documents ADD COLUMN late_create_since REAL")


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return not isinstance(exc, sqlite3.OperationalError) or "malformed" in text or "not a database" in text


def _damage_marker(path: Path) -> Path:
    return path.with_name(path.name + ".uszkodzony")


def _move_aside(path: Path) -> Path:
    """Keep a damaged journal (and its WAL) next to the new one, under a dated name."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.uszkodzony-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.uszkodzony-{stamp}-{n}")
    try:
        _damage_marker(path).unlink(missing_ok=True)
        path.replace(target)
        for suffix in ("-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                side.replace(target.with_name(target.name + suffix))
    except OSError as exc:
        raise StorageError(
            f"Dziennik raksbl {path} jest uszkodzony, a nie udało się go przenieść ({exc.strerror or exc}). "
            "Zamknij inne programy raksbl i przenieś ten plik ręcznie, potem uruchom ponownie."
        ) from None
    return target


def _storage_error(path: Path, exc: sqlite3.Error) -> StorageError:
    text = str(exc).lower()
    if "full" in text:
        return StorageError(
            f"Brak miejsca na dysku: nie można zapisać dziennika raksbl ({path}). Zwolnij miejsce na dysku i "
            "uruchom ponownie; to, co już zapisano, nie przepadło."
        )
    if "unable to open" in text or "readonly" in text or "read-only" in text or "permission" in text:
        return StorageError(
            f"Brak dostępu do dziennika raksbl {path}. Nadaj sobie prawo zapisu do folderu danych albo wskaż "
            "inny zmienną środowiskową RAKSBL_DATA_DIR."
        )
    if "locked" in text or "busy" in text:
        return StorageError(f"Dziennik raksbl {path} jest zajęty przez inny program; spróbuj ponownie za chwilę.")
    return StorageError(f"Nie można użyć dziennika raksbl {path}: {exc}")


@contextlib.contextmanager
def _storage(path: Path):
    """Writes: an SQLite failure becomes a StorageError that says what to do (disk full, access)."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise _storage_error(path, exc) from None
    except sqlite3.DatabaseError as exc:  # damaged under a running agent: moved aside on the next open
        try:
            _damage_marker(path).touch()
        except OSError:
            pass
        raise StorageError(
            f"Dziennik raksbl {path} jest uszkodzony ({exc}). Uruchom raksbl ponownie: uszkodzony dziennik "
            "zostanie odłożony, a przed wysłaniem czegokolwiek agent sprawdzi zamówienia w BaseLinker."
        ) from None
