"""Opening fdb connections to a RaksSQL database and translating Firebird errors.

``database`` in the settings is either

* ``host[/port]:path`` – a Firebird server (``localhost:C:\\RAKS\\F00001.fdb``,
  ``192.168.1.10/3051:/data/f.fdb``, ``[::1]/3050:alias``), or
* a bare path – opened locally (embedded engine or local protocol):
  ``C:\\RAKS\\F00001.fdb``, ``C:/RAKS/F00001.fdb``, ``/var/lib/f.fdb``.
  A single letter before the first colon is a Windows drive, never a host.
* Firebird URL forms (``inet://``, ``xnet://``, ``wnet://``) are passed through untouched.

Every function here that fails raises :class:`RaksConnectionError` with a Polish message naming
what failed (server, file, login, client library) and never the password.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from dataclasses import dataclass

import fdb

from agent.raks.errors import RaksConnectionError

log = logging.getLogger(__name__)

DEFAULT_PORT = 3050

# Firebird status codes (gdscode) used to classify errors.
ISC_LOGIN = 335544472            # Your user name and password are not defined
ISC_IO_ERROR = 335544344         # I/O error during "open" operation for file
ISC_UNAVAILABLE = 335544375      # unavailable database
ISC_BAD_DB_FORMAT = 335544323    # file is not a valid database
ISC_BAD_ODS = 335544379          # unsupported on-disk structure
ISC_CONNECT_REJECT = 335544421   # connection rejected by remote interface
ISC_NETWORK_ERROR = 335544721    # Unable to complete network request to host
ISC_NET_CONNECT_ERR = 335544722
ISC_NET_CONNECT_LISTEN_ERR = 335544723
ISC_NET_EVENT_CONNECT_ERR = 335544724
ISC_NET_EVENT_LISTEN_ERR = 335544725
ISC_NET_READ_ERR = 335544726     # Error reading data from the connection
ISC_NET_WRITE_ERR = 335544727    # Error writing data to the connection
ISC_CONN_LOST = 335544648        # Connection lost to pipe server
ISC_LOST_DB_CONNECTION = 335544741
ISC_SHUTDOWN = 335544528         # database shutdown
ISC_ATT_SHUTDOWN = 335544856     # connection shutdown (attachment killed, server stopping)
ISC_SHUTINPROG = 335544506       # database shutdown in progress
ISC_BAD_DB_HANDLE = 335544324    # invalid database handle (no active connection)
ISC_ATT_SHUT_KILLED = 335545106  # killed by database administrator (FB 3+)
ISC_ATT_SHUT_IDLE = 335545107
ISC_ATT_SHUT_DB_DOWN = 335545108
ISC_ATT_SHUT_ENGINE = 335545109

# Lock / update conflicts: what NO WAIT transactions get when a row is locked or was
# changed by a concurrent, uncommitted transaction. Observed on Firebird 3.0.11:
# ``SELECT ... WITH LOCK`` on a row held by another transaction → 335544336 (deadlock) with
# 335544451 (update conflicts with concurrent update) and 335544878 in the status vector.
ISC_DEADLOCK = 335544336
ISC_LOCK_CONFLICT = 335544345
ISC_UPDATE_CONFLICT = 335544451
ISC_CONCURRENT_TRANSACTION = 335544878
ISC_LOCK_TIMEOUT = 335544510
LOCK_CONFLICT_CODES = frozenset(
    {ISC_DEADLOCK, ISC_LOCK_CONFLICT, ISC_UPDATE_CONFLICT, ISC_CONCURRENT_TRANSACTION, ISC_LOCK_TIMEOUT}
)

CONNECTION_LOST_CODES = frozenset(
    {
        ISC_NETWORK_ERROR, ISC_NET_CONNECT_ERR, ISC_NET_CONNECT_LISTEN_ERR,
        ISC_NET_EVENT_CONNECT_ERR, ISC_NET_EVENT_LISTEN_ERR, ISC_NET_READ_ERR, ISC_NET_WRITE_ERR,
        ISC_CONN_LOST, ISC_LOST_DB_CONNECTION, ISC_SHUTDOWN, ISC_ATT_SHUTDOWN, ISC_SHUTINPROG,
        ISC_BAD_DB_HANDLE, ISC_ATT_SHUT_KILLED, ISC_ATT_SHUT_IDLE, ISC_ATT_SHUT_DB_DOWN,
        ISC_ATT_SHUT_ENGINE, ISC_UNAVAILABLE,
    }
)

_URL_PREFIX = re.compile(r"^(inet[46]?|xnet|wnet)://", re.IGNORECASE)
_DRIVE = re.compile(r"^[A-Za-z]:")  # a drive letter is never a host name: "C:baza.fdb" is a path


@dataclass(frozen=True)
class DatabaseLocation:
    """Where a database lives; ``host`` is None for a local (embedded) path."""

    raw: str
    host: str | None
    port: int | None
    path: str

    @property
    def is_remote(self) -> bool:
        return self.host is not None

    @property
    def dsn(self) -> str:
        """The string handed to fdb (``host/port:path`` or the bare path)."""
        if self.host is None:
            return self.path
        host = self.host if ":" not in self.host else f"[{self.host}]"
        port = f"/{self.port}" if self.port is not None else ""
        return f"{host}{port}:{self.path}"

    def describe(self) -> str:
        """Human readable, for messages: ``plik „…” na serwerze host:port``."""
        if self.host is None:
            return f"plik „{self.path}” (lokalnie)"
        return f"plik „{self.path}” na serwerze {self.server()}"

    def server(self) -> str:
        return f"{self.host}:{self.port or DEFAULT_PORT}"


def parse_database(database: str) -> DatabaseLocation:
    """Split the ``raks.database`` setting into host, port and path (see module docstring)."""
    raw = (database or "").strip()
    if not raw:
        raise RaksConnectionError("Nie podano ścieżki bazy RaksSQL (ustawienie raks.database).")
    if _URL_PREFIX.match(raw):
        m = re.match(r"^[a-z0-9]+://([^/:]+)(?::(\d+))?/(.*)$", raw, re.IGNORECASE)
        if m:
            return DatabaseLocation(raw, m.group(1), int(m.group(2)) if m.group(2) else None, m.group(3))
        return DatabaseLocation(raw, None, None, raw)
    if _DRIVE.match(raw) or raw.startswith(("\\\\", "/", ".")):
        return DatabaseLocation(raw, None, None, raw)
    if raw.startswith("["):  # [IPv6]/port:path
        m = re.match(r"^\[([^\]]+)\](?:/(\d+))?:(.+)$", raw)
        if m:
            return DatabaseLocation(raw, m.group(1), int(m.group(2)) if m.group(2) else None, m.group(3))
        return DatabaseLocation(raw, None, None, raw)
    head, sep, tail = raw.partition(":")
    if not sep or not head or not tail:
        return DatabaseLocation(raw, None, None, raw)
    host, slash, port = head.partition("/")
    if slash:
        if not port.isdigit():
            raise RaksConnectionError(
                f"Nieprawidłowy port serwera Firebird w „{raw}” (oczekiwano np. host/3050:ścieżka)."
            )
        return DatabaseLocation(raw, host, int(port), tail)
    return DatabaseLocation(raw, host, None, tail)


def gdscode(exc: BaseException) -> int | None:
    """The Firebird status code of an fdb error (the last element of ``args``), if any."""
    args = getattr(exc, "args", ())
    if len(args) >= 3 and isinstance(args[2], int):
        return args[2]
    return None


def error_text(exc: BaseException, password: str | None = None) -> str:
    """The server's explanation without the fdb prefix and the SQLCODE line, password scrubbed."""
    args = getattr(exc, "args", ())
    text = args[0] if args and isinstance(args[0], str) else str(exc)
    lines = [ln.strip().lstrip("-").strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("SQLCODE") and not ln.endswith(":")]
    out = "; ".join(lines) or text
    if password:
        out = out.replace(password, "***")
    return out


def is_lock_conflict(exc: BaseException) -> bool:
    if gdscode(exc) in LOCK_CONFLICT_CODES:
        return True
    text = str(exc).lower()
    return isinstance(exc, fdb.DatabaseError) and (
        "lock conflict" in text or "update conflicts with concurrent update" in text
    )


def is_connection_lost(exc: BaseException) -> bool:
    code = gdscode(exc)
    if code in CONNECTION_LOST_CODES:
        return True
    if isinstance(exc, fdb.ProgrammingError) and "closed" in str(exc).lower():
        return True
    return False


def lost_connection_error(location: DatabaseLocation, exc: BaseException | None = None) -> RaksConnectionError:
    where = f"z serwerem {location.server()}" if location.is_remote else f"z bazą {location.path}"
    msg = (
        f"Utracono połączenie {where} (RaksSQL) — serwer Firebird został zatrzymany "
        "albo przerwano połączenie sieciowe. Spróbuję ponownie przy następnym uruchomieniu."
    )
    err = RaksConnectionError(msg)
    err.__cause__ = exc
    return err


def connect_error(location: DatabaseLocation, user: str, exc: BaseException, password: str) -> RaksConnectionError:
    code = gdscode(exc)
    detail = error_text(exc, password)
    if code == ISC_LOGIN:
        msg = (
            f"Logowanie do bazy RaksSQL nie powiodło się: nieprawidłowy użytkownik „{user}” "
            f"lub hasło ({location.describe()})."
        )
    elif code == ISC_IO_ERROR:
        msg = (
            f"Nie można otworzyć bazy RaksSQL: {location.describe()} nie istnieje "
            f"albo brak do niego dostępu. Szczegóły: {detail}"
        )
    elif code in (ISC_BAD_DB_FORMAT, ISC_BAD_ODS):
        msg = f"Plik nie jest bazą Firebird albo jej wersja jest nieobsługiwana: {location.describe()}. Szczegóły: {detail}"
    elif code in (ISC_NETWORK_ERROR, ISC_CONNECT_REJECT, ISC_NET_CONNECT_ERR, ISC_NET_READ_ERR,
                  ISC_NET_WRITE_ERR, ISC_NET_CONNECT_LISTEN_ERR):
        target = location.server() if location.is_remote else location.path
        msg = (
            f"Nie można połączyć się z serwerem Firebird {target} — sprawdź, czy serwer działa, "
            f"czy adres i port są poprawne i czy zapora nie blokuje połączenia. Szczegóły: {detail}"
        )
    elif code == ISC_UNAVAILABLE:
        msg = (
            f"Baza RaksSQL jest niedostępna ({location.describe()}): brak działającego serwera "
            f"lub silnika Firebird. Szczegóły: {detail}"
        )
    else:
        msg = f"Nie można połączyć się z bazą RaksSQL ({location.describe()}): {detail}"
    err = RaksConnectionError(msg)
    err.__cause__ = None
    return err


# Firebird 4+ returns types fdb 2.0 cannot decode ("Incorrect values within SQLDA structure"):
# TIMESTAMP/TIME WITH TIME ZONE (CURRENT_TIMESTAMP is one), DECFLOAT, INT128 (NUMERIC(19+)).
# Each session on such a server asks for the Firebird 3 shapes instead: WITHOUT TIME ZONE
# (the session's local time), DOUBLE PRECISION, BIGINT (NUMERIC(18, s)).
LEGACY_BINDS = (
    "SET BIND OF TIME ZONE TO LEGACY",
    "SET BIND OF DECFLOAT TO LEGACY",
    "SET BIND OF INT128 TO LEGACY",
)
_FIREBIRD_VERSION = re.compile(r"[A-Z]{2}-[VT](\d+)\.(\d+)")


def engine_major(conn) -> int:
    """The Firebird major version of the server (or embedded engine) behind ``conn``.

    fdb reads it from ``isc_info_firebird_version`` (``LI-V5.0.4.1812 …``); the older
    ``isc_info_version`` that ``server_version`` shows says "V6.3" on Firebird 5, so it is not used.
    """
    try:
        return int(float(conn.engine_version))
    except (AttributeError, TypeError, ValueError):
        m = _FIREBIRD_VERSION.search(str(getattr(conn, "firebird_version", "")))
        return int(m.group(1)) if m else 0


def set_legacy_binds(conn) -> bool:
    """Run :data:`LEGACY_BINDS` on a Firebird 4+ session (True); older servers need none (False)."""
    if engine_major(conn) < 4:
        return False
    for statement in LEGACY_BINDS:
        conn.execute_immediate(statement)
    conn.commit()
    return True


def transaction_parameters(*, write: bool, wait: bool = False) -> bytes:
    """A READ COMMITTED (record version) transaction's parameters: read-only or read-write,
    NO WAIT on a lock conflict unless ``wait``."""
    tpb = fdb.TPB()
    tpb.access_mode = fdb.isc_tpb_write if write else fdb.isc_tpb_read
    tpb.isolation_level = (fdb.isc_tpb_read_committed, fdb.isc_tpb_rec_version)
    tpb.lock_resolution = fdb.isc_tpb_wait if wait else fdb.isc_tpb_nowait
    return tpb.render()


def read_only_transaction(conn):
    """A read-only transaction on ``conn`` (inspect-db, the profile proposal: they never write)."""
    return conn.trans(default_tpb=transaction_parameters(write=False, wait=True))


_FIRST_LOAD = threading.Lock()


def _first_load_guard():
    """Serialises connections only until fdb has loaded its client library (process-wide, once):
    runs of several companies connect from their own threads."""
    from agent import fbclient

    return _FIRST_LOAD if fbclient.loaded_client() is None else contextlib.nullcontext()


def choose_client(client_library: str, database: str) -> tuple[dict, str, str]:
    """``(fdb keyword arguments, client path, switch note)`` for a new connection.

    Before fdb has loaded a client: the search of :mod:`agent.fbclient` (setting → RaksSQL's →
    an installed Firebird's → the bundled one); a configured path that does not exist is
    reported, never silently replaced (fdb would fall back to any library of the same base
    name). Afterwards fdb keeps the loaded one whatever it is told: a different configured client
    only yields the note that it needs a restart (logged, and added to connection errors).
    """
    from agent import fbclient

    loaded = fbclient.loaded_client()
    if loaded is None:
        path = fbclient.require_client_library(client_library, database=database)
        fbclient.prepare_client(path)
        return {"fb_library_name": path}, path, ""
    if client_library:  # a setting that names nothing is an error even now
        fbclient.require_client_library(client_library, database=database)
    note = fbclient.client_switch_note(client_library, database=database)
    if note:
        log.warning("%s", note)
    return {}, loaded.path, note


def open_connection(
    database: str,
    user: str,
    password: str,
    *,
    charset: str = "WIN1250",
    client_library: str = "",
) -> tuple[fdb.Connection, DatabaseLocation]:
    """Connect with fdb; every failure becomes :class:`RaksConnectionError` (no password in it).

    The client library is chosen by :func:`agent.fbclient.require_client_library` the first
    time; fdb keeps it for the life of the process (:func:`choose_client`). On Firebird 4+ the
    session gets :data:`LEGACY_BINDS`.
    """
    location = parse_database(database)
    # utf8params: user, password and file name travel as UTF-8 with isc_dpb_utf8_filename, so
    # Polish letters in them work whatever the OS code page (without it fdb sends them in the
    # connection charset and Firebird 3 fails with "Cannot transliterate character").
    kwargs = dict(user=user, password=password, charset=charset or None, utf8params=True)
    with _first_load_guard():  # two companies connecting at once must not both load a client
        client_kwargs, client_library, switch_note = choose_client(client_library, database)
        kwargs.update(client_kwargs)
        try:
            if location.is_remote:
                conn = fdb.connect(dsn=location.dsn, **kwargs)
            else:
                conn = fdb.connect(database=location.path, **kwargs)
        except fdb.DatabaseError as exc:
            err = connect_error(location, user, exc, password)
            if switch_note:
                err = RaksConnectionError(f"{err}\n{switch_note}")
            raise err from None
        except (OSError, fdb.Error, Exception) as exc:  # client library not found, bad charset …
            text = str(exc)
            if password:
                text = text.replace(password, "***")
            if "client library" in text.lower() or isinstance(exc, OSError):
                lib = f"„{client_library}”" if client_library else "fbclient"
                msg = (
                    f"Nie można załadować biblioteki klienta Firebird {lib} — zainstaluj klienta "
                    f"Firebird albo wskaż plik fbclient.dll z folderu RaksSQL (ustawienie "
                    f"raks.client_library). Szczegóły: {text}"
                )
            else:
                msg = f"Nie można połączyć się z bazą RaksSQL ({location.describe()}): {text}"
            raise RaksConnectionError(msg) from None
    try:
        set_legacy_binds(conn)
    except fdb.DatabaseError as exc:
        if is_connection_lost(exc):
            err = lost_connection_error(location, exc)
        else:
            err = RaksConnectionError(
                f"Serwer Firebird {location.server() if location.is_remote else ''} nie przyjął "
                f"ustawień zgodności typów danych (SET BIND … TO LEGACY): {error_text(exc, password)}"
                .replace("Firebird  nie", "Firebird nie")
            )
        try:
            conn.close()
        except Exception:
            pass
        raise err from None
    return conn, location


def dispose_cursor(cursor) -> None:
    """Close a cursor and drop its statement handle, swallowing errors of a dead connection.

    fdb drops statement handles in ``__del__`` and prints "Exception ignored" noise when the
    connection is gone; dropping them here, under ``try``, keeps that out of the logs.
    """
    if cursor is None:
        return
    ps = getattr(cursor, "_ps", None)
    try:
        if ps is not None:
            ps._close()
    except Exception:
        pass
    try:
        cursor._ps = None
    except Exception:
        pass
