"""A real Firebird server for the tests, and fresh RaksSQL company databases on it.

Used through the fixtures in ``tests/conftest.py``:

* ``firebird_server`` (session) – makes sure a Firebird server listens on 127.0.0.1:3050
  (starts ``/usr/sbin/firebird`` as user ``firebird`` when nothing listens) and gives
  ``.password`` (SYSDBA), ``.dsn_for(path)``, ``.db_dir``, ``.new_database()``, ``.restart()``.
* ``company_db`` (function) – a fresh WIN1250 database with the default layout; see
  :class:`CompanyDb`.

The server is left running after the session (other test sessions may share it).
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Callable

HOST = "127.0.0.1"
PORT = 3050
SERVER_BINARY = Path("/usr/sbin/firebird")
PASSWORD_FILE = Path("/etc/firebird/3.0/SYSDBA.password")
TESTS_ROOT = Path("/var/tmp/raksbl-tests")
INSTALL_HINT = (
    "Firebird 3 is required for these tests (they never skip). Install it with:\n"
    "  apt-get install -y firebird3.0-server firebird3.0-server-core libfbclient2 firebird3.0-utils\n"
    "then run the tests as root (the fixture starts the server as user 'firebird'), or start it\n"
    "yourself: su -s /bin/sh firebird -c /usr/sbin/firebird &"
)


class FirebirdUnavailable(RuntimeError):
    """Firebird is not installed or cannot be started; the message says how to fix it."""


@dataclass(frozen=True)
class RaksSettingsStub:
    """Same attribute names as ``agent.settings.RaksSettings`` (a frozen dataclass there)."""

    database: str
    user: str = "SYSDBA"
    charset: str = "WIN1250"
    client_library: str = ""
    statuses_to_send: tuple[int, ...] = (2,)
    status_after_send: int = 3
    status_on_error: int = 4
    document_types: tuple[str, ...] = ("FS", "PA")
    not_before: date | None = None
    order_id_pattern: str = r"\d+"
    queries: dict[str, str] = field(default_factory=dict)


def port_open(host: str = HOST, port: int = PORT, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout):
            return True
    except OSError:
        return False


def read_sysdba_password(path: Path = PASSWORD_FILE) -> str:
    try:
        text = path.read_text()
    except OSError as exc:
        raise FirebirdUnavailable(f"Cannot read {path}: {exc}\n{INSTALL_HINT}") from None
    m = re.search(r'^\s*ISC_PASSWORD\s*=\s*"?([^"\n]*)"?', text, re.MULTILINE)
    if not m:
        raise FirebirdUnavailable(f"No ISC_PASSWORD in {path}.\n{INSTALL_HINT}")
    return m.group(1)


def _listening_pid(port: int = PORT) -> int | None:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a test dependency
        return None
    for conn in psutil.net_connections("tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
            return conn.pid
    return None


@contextlib.contextmanager
def _server_lock():
    """Serialise starting/stopping the shared server between concurrent test sessions."""
    TESTS_ROOT.mkdir(parents=True, exist_ok=True)
    with open(TESTS_ROOT / ".server.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class FirebirdServer:
    """The Firebird server on 127.0.0.1:3050 (see module docstring)."""

    user = "SYSDBA"
    host = HOST
    port = PORT

    def __init__(self, password: str, db_dir: Path, *, started_pid: int | None):
        self.password = password
        self.db_dir = db_dir
        self.started_pid = started_pid          # pid of the server process we started, if any
        self._counter = itertools.count(1)

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def ensure(cls, *, timeout: float = 20.0) -> "FirebirdServer":
        if not SERVER_BINARY.exists():
            raise FirebirdUnavailable(f"{SERVER_BINARY} not found.\n{INSTALL_HINT}")
        password = read_sysdba_password()
        started = None
        with _server_lock():
            if not port_open():
                started = _start_server(timeout)
        db_dir = _make_session_dir()
        return cls(password, db_dir, started_pid=started)

    def restart(self, *, timeout: float = 20.0) -> None:
        """Stop the server process (SIGTERM, by its pid) and start it again; waits for the port.

        Every open connection breaks, as on a real server restart.
        """
        import psutil

        with _server_lock():
            pid = _listening_pid() or self.started_pid
            if pid is None:
                raise RuntimeError("Cannot find the pid of the Firebird server listening on port 3050")
            proc = psutil.Process(pid)
            if proc.username() != "firebird" or Path(proc.exe()).name != SERVER_BINARY.name:
                raise RuntimeError(f"Process {pid} on port {PORT} is not the Firebird server: {proc.cmdline()}")
            proc.terminate()
            try:
                proc.wait(timeout)
            except psutil.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            deadline = time.monotonic() + timeout
            while port_open() and time.monotonic() < deadline:
                time.sleep(0.02)
            self.started_pid = _start_server(timeout)

    def cleanup(self) -> None:
        shutil.rmtree(self.db_dir, ignore_errors=True)

    # -- databases ---------------------------------------------------------------------------

    def dsn_for(self, path: str | os.PathLike) -> str:
        return f"localhost:{path}"

    def new_database_path(self, name: str | None = None) -> Path:
        name = name or f"F{next(self._counter):05d}.fdb"
        return self.db_dir / name

    def new_database(self, name: str | None = None, **kwargs) -> "CompanyDb":
        """Create a fresh default-layout company database through the server."""
        from agent.raks.schema import create_company_database

        path = self.new_database_path(name)
        dsn = self.dsn_for(path)
        create_company_database(dsn, self.user, self.password, **kwargs)
        return CompanyDb(self, path)


def _start_server(timeout: float) -> int:
    if os.geteuid() != 0:
        raise FirebirdUnavailable(
            "The Firebird server is not running on 127.0.0.1:3050 and only root can start it as "
            f"user 'firebird'.\n{INSTALL_HINT}"
        )
    TESTS_ROOT.mkdir(parents=True, exist_ok=True)
    log = open(TESTS_ROOT / "firebird-server.log", "ab")
    proc = subprocess.Popen(
        ["su", "-s", "/bin/sh", "firebird", "-c", str(SERVER_BINARY)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,   # not killed by Ctrl+C in the test run; shared by sessions
    )
    log.close()
    deadline = time.monotonic() + timeout
    while not port_open():
        if proc.poll() is not None and not port_open():
            raise FirebirdUnavailable(
                f"Firebird server exited with code {proc.returncode}; see "
                f"{TESTS_ROOT / 'firebird-server.log'}.\n{INSTALL_HINT}"
            )
        if time.monotonic() > deadline:
            raise FirebirdUnavailable(f"Firebird server did not open port {PORT} within {timeout} s.")
        time.sleep(0.02)
    return _listening_pid() or proc.pid


def _make_session_dir() -> Path:
    TESTS_ROOT.mkdir(parents=True, exist_ok=True)
    os.chmod(TESTS_ROOT, 0o755)
    _remove_stale_session_dirs()
    path = TESTS_ROOT / f"session-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    if os.geteuid() == 0:
        shutil.chown(path, "firebird", "firebird")
        os.chmod(path, 0o770)
    else:
        os.chmod(path, 0o777)
    return path


def _remove_stale_session_dirs(max_age: float = 3600.0) -> None:
    now = time.time()
    for d in TESTS_ROOT.glob("session-*"):
        m = re.match(r"session-(\d+)-", d.name)
        if not m:
            continue
        pid = int(m.group(1))
        try:
            alive = pid != os.getpid() and os.path.exists(f"/proc/{pid}")
            if not alive and now - d.stat().st_mtime > max_age:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass


class CompanyDb:
    """A fresh RaksSQL company database on the test server.

    ``dsn`` ("localhost:/var/tmp/raksbl-tests/.../F00001.fdb"), ``path``, ``user``,
    ``password``; ``connect()`` gives a WIN1250 fdb connection (closed at teardown);
    ``add_document(...)`` / ``set_status`` / ``status`` / ``set_pdf`` use an admin connection;
    ``kill_other_attachments()`` simulates a lost connection without restarting the server;
    ``raks_settings(**overrides)`` builds the RaksSettings shape pointing here;
    ``repository(**overrides)`` a connected RaksRepository (closed at teardown).
    """

    def __init__(self, server: FirebirdServer, path: Path):
        self.server = server
        self.path = path
        self.dsn = server.dsn_for(path)
        self.user = server.user
        self.password = server.password
        self._admin = None
        self._closers: list[Callable[[], Any]] = []

    def connect(self):
        from agent.raks.schema import connect

        conn = connect(self.dsn, self.user, self.password)
        self._closers.append(lambda: _quiet_close(conn))
        return conn

    @property
    def admin(self):
        """A shared connection for the builders (what a RaksSQL user's edits look like)."""
        if self._admin is None or self._admin.closed:
            self._admin = self.connect()
        return self._admin

    def reset_admin(self) -> None:
        """Forget the admin connection (after a server restart broke it); the next use reconnects."""
        if self._admin is not None:
            _quiet_close(self._admin)
            self._admin = None

    def kill_other_attachments(self) -> None:
        """Cut every attachment to this database except the admin one (as an administrator
        deleting MON$ATTACHMENTS would): their next call fails with "connection shutdown"."""
        conn = self.admin
        cur = conn.cursor()
        cur.execute("DELETE FROM MON$ATTACHMENTS WHERE MON$ATTACHMENT_ID <> CURRENT_CONNECTION")
        conn.commit()
        cur.close()

    def add_document(self, **kwargs) -> int:
        from agent.raks.schema import add_document

        return add_document(self.admin, **kwargs)

    def set_status(self, doc_type: str, raks_id: int, status_id: int | None) -> None:
        from agent.raks.schema import set_document_status

        set_document_status(self.admin, doc_type, raks_id, status_id)

    def status(self, doc_type: str, raks_id: int) -> int | None:
        from agent.raks.schema import document_status

        return document_status(self.admin, doc_type, raks_id)

    def set_pdf(self, doc_type: str, raks_id: int, pdf: bytes | None) -> None:
        from agent.raks.schema import set_document_pdf

        set_document_pdf(self.admin, doc_type, raks_id, pdf)

    def raks_settings(self, **overrides) -> RaksSettingsStub:
        base = RaksSettingsStub(database=self.dsn, user=self.user)
        return replace(base, **overrides)

    def repository(self, **overrides):
        from agent.raks.repository import RaksRepository

        repo = RaksRepository(self.raks_settings(**overrides), self.password)
        repo.connect()
        self._closers.append(repo.close)
        return repo

    def close(self) -> None:
        while self._closers:
            with contextlib.suppress(Exception):
                self._closers.pop()()
        self._admin = None

    def drop(self) -> None:
        self.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


def _quiet_close(conn) -> None:
    if conn.closed:
        return
    with contextlib.suppress(Exception):
        conn.rollback()
    with contextlib.suppress(Exception):
        conn.close()
