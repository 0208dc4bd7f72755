"""RaksRepository: the agent's only door into the RaksSQL database.

One fdb connection (charset from the settings, WIN1250 for RaksSQL). Reads run in short
read-only READ COMMITTED transactions that end with each call, so the agent never holds an old
snapshot open. :meth:`RaksRepository.claim` starts a separate READ COMMITTED + rec_version +
NO WAIT write transaction on the same connection and runs the profile's ``lock_document``
(``SELECT ... WITH LOCK``); the row lock keeps a second agent, a second run or a RaksSQL user
from touching the document until the claim commits or rolls back.

Errors:
* :class:`RaksConnectionError` (a RunAborted) — cannot connect, or the connection was lost.
* :class:`RowLocked` — the document row is locked by someone else; retry on the next run.
* :class:`ProfileError` (a ConfigError) — a profile statement failed to prepare or run, or
  does not return the columns of its contract; ``key`` names ``raks.queries.<name>``.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Sequence

import fdb

from agent.notify_policy import plural
from agent.raks import pdf_source as _files
from agent.raks import profile as _profile
from agent.raks.connection import (
    DatabaseLocation,
    dispose_cursor,
    error_text,
    gdscode,
    is_connection_lost,
    is_lock_conflict,
    lost_connection_error,
    open_connection,
    transaction_parameters,
)
from agent.raks.errors import DatabaseReadOnly, ProfileError, RaksConnectionError, RowLocked
from agent.raks.identity import identity_key
from agent.raks.profile import Profile, extract_order_id, query_key

__all__ = [
    "Document",
    "RaksRepository",
    "Claim",
    "RaksConnectionError",
    "RowLocked",
    "ProfileError",
    "NO_CUTOVER",
]

log = logging.getLogger(__name__)

#: Bound as ``not_before`` when no cut-over date is set.
NO_CUTOVER = _dt.date(1900, 1, 1)

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Document:
    raks_id: int
    doc_type: str                 # 'FS' | 'PA'
    number: str                   # e.g. 'FS 12/11/2026/MAG' (Polish letters allowed)
    issue_date: _dt.date
    order_ref: str                # the raw text the order id comes from (SYGNATURA)
    order_id: int | None          # from raks.order_id_pattern; None if there is none
    status_id: int | None
    buyer_name: str
    buyer_nip: str
    total_gross: Decimal
    currency: str                 # 'PLN' when ID_WALUTY = 0
    has_pdf: bool
    pdf_size: int | None
    pdf_path: str | None = None   # the printout file, when PDFs are files (folder / PDF_PATH)
    corrects_number: str = ""     # KS only: the RaksSQL number of the invoice it corrects

    @property
    def key(self) -> tuple[str, int]:
        return (self.doc_type, self.raks_id)


def _params(statement: str, **values: Any) -> tuple:
    """The parameters of a profile statement, in its documented order."""
    return tuple(values[p] for p in _profile.SPECS[statement].params)


_READ_TPB = transaction_parameters(write=False)
_CLAIM_TPB = transaction_parameters(write=True)

_LOCKED_MESSAGE = (
    "Dokument {number} jest otwarty/zablokowany w RaksSQL (edytuje go użytkownik albo wysyła "
    "inny agent) — ponowię przy następnym uruchomieniu."
)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("cp1250", errors="replace").strip()
    return str(value).strip()


def _money(value: Any) -> Decimal:
    if value is None:
        return Decimal("0.00")
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError(f"nieprawidłowa kwota {value!r}") from None
    if d.as_tuple().exponent >= -2:
        d = d.quantize(_CENT)
    return d


def _currency(value: Any) -> str:
    if value is None:
        return "PLN"
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return "PLN" if int(value) == 0 else f"ID_WALUTY={int(value)}"
    text = _text(value).upper()
    if not text or text == "0":
        return "PLN"
    if text.isdigit():
        return f"ID_WALUTY={text}"
    return text


def _date(value: Any) -> _dt.date:
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    raise ValueError(f"nieprawidłowa data {value!r}")


class RaksRepository:
    """Pending documents, their PDFs, claims with a conditional status change, statuses."""

    def __init__(self, settings, password: str, *, profile: Profile | None = None):
        self.settings = settings
        self._password = password or ""
        self.profile = profile or Profile.from_settings(settings)
        self._conn: fdb.Connection | None = None
        self._location: DatabaseLocation | None = None
        self._lock = threading.RLock()
        self._claims: set[Claim] = set()

    def __repr__(self) -> str:  # never show the password
        return f"RaksRepository(database={getattr(self.settings, 'database', '?')!r})"

    # -- connection -------------------------------------------------------------------------

    def __enter__(self) -> "RaksRepository":
        self.connect()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.closed

    def connect(self) -> None:
        """Open the connection and check every profile statement (ProfileError if one is broken)."""
        if self.connected:
            return
        s = self.settings
        conn, location = open_connection(
            s.database,
            s.user,
            self._password,
            charset=getattr(s, "charset", "WIN1250") or "WIN1250",
            client_library=getattr(s, "client_library", "") or "",
        )
        self._conn, self._location = conn, location
        try:
            self._check_profile()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        with self._lock:
            for claim in list(self._claims):
                claim._abandon()
            conn, self._conn = self._conn, None
            if conn is not None:
                try:
                    if not conn.closed:
                        conn.close()
                except Exception:  # a dead connection cannot be closed cleanly
                    log.debug("closing a broken RaksSQL connection", exc_info=True)

    def _require(self) -> fdb.Connection:
        if self._conn is None or self._conn.closed:
            raise RaksConnectionError("Brak połączenia z bazą RaksSQL (nie nawiązano go albo zostało zamknięte).")
        return self._conn

    def _lost(self, exc: BaseException) -> RaksConnectionError:
        err = lost_connection_error(self._location or DatabaseLocation("", None, None, ""), exc)
        # The connection is unusable: drop it so the next run reconnects.
        self.close()
        return err

    def _translate(self, exc: BaseException, statement: str, *, doc_number: str | None = None) -> Exception:
        """Map an fdb error raised by a profile statement to one of our errors."""
        if is_connection_lost(exc):
            return self._lost(exc)
        if is_lock_conflict(exc):
            return RowLocked(_LOCKED_MESSAGE.format(number=doc_number or "?"))
        if gdscode(exc) == _READ_ONLY_DATABASE or "read-only database" in str(exc).lower():
            where = self._location.describe() if self._location else "bazy RaksSQL"
            return DatabaseReadOnly(
                f"Baza RaksSQL ({where}) jest tylko do odczytu, a agent musi zablokować dokument i zmienić jego "
                "status. Zdejmij atrybut „Tylko do odczytu” z pliku bazy albo przełącz bazę w tryb zapisu "
                "(gfix -mode read_write, przy odłączonych użytkownikach) i uruchom ponownie."
            )
        key = query_key(statement)
        return ProfileError(
            f"Zapytanie {key} nie powiodło się: {error_text(exc, self._password)}", key, statement
        )

    def _check_profile(self) -> None:
        """Prepare each statement once (no execution) and check its output columns."""
        conn = self._require()
        tr = conn.trans(default_tpb=_READ_TPB)
        from_folder = self._pdf_from_folder
        with_corrections = "KS" in tuple(getattr(self.settings, "document_types", ()) or ())
        try:
            for name, spec in _profile.SPECS.items():
                if name == _profile.DOCUMENT_PDF and from_folder:
                    continue  # the printouts are files named after the document
                if name in _profile.CORRECTION_STATEMENTS.values() and not with_corrections:
                    continue  # KS not sent: a layout without corrections needs no such statements
                cur = tr.cursor()
                try:
                    ps = cur.prep(self.profile.sql(name))
                    columns = {d[0].upper() for d in (ps.description or ())}
                    n_in = ps.n_input_params
                    del ps
                except fdb.DatabaseError as exc:
                    raise self._translate(exc, name) from None
                finally:
                    dispose_cursor(cur)
                key = query_key(name)
                if n_in != len(spec.params):
                    raise ProfileError(
                        f"Zapytanie {key} ma {n_in} {plural(n_in, 'parametr', 'parametry', 'parametrów')} „?”, "
                        f"a powinno mieć {len(spec.params)}: "
                        f"{', '.join(spec.params) or 'brak'} (w tej kolejności).",
                        key,
                        name,
                    )
                missing = [c for c in _profile.required_outputs(name, pdf_from_folder=from_folder)
                           if c not in columns]
                if name == _profile.DOCUMENT_PDF and "PDF_PATH" in columns:
                    missing = [c for c in missing if c != "PLIK"]
                if missing:
                    raise ProfileError(
                        f"Zapytanie {key} nie zwraca kolumn: {', '.join(missing)} (nazwij je przez AS).",
                        key,
                        name,
                    )
        finally:
            self._end(tr)

    def _end(self, tr) -> None:
        try:
            if tr.active:
                tr.commit()
        except fdb.DatabaseError as exc:
            if is_connection_lost(exc):
                raise self._lost(exc) from None
            raise
        finally:
            try:
                tr.close()
            except Exception:
                pass

    def _query(self, name: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        """Run a SELECT of the profile in a short read-only transaction; (column names, rows)."""
        with self._lock:
            conn = self._require()
            try:
                tr = conn.trans(default_tpb=_READ_TPB)
            except fdb.DatabaseError as exc:
                raise self._translate(exc, name) from None
            cur = tr.cursor()
            try:
                try:
                    ps = cur.prep(self.profile.sql(name))
                    # Return every blob as bytes (fdb would hand out a BlobReader above 64 KiB,
                    # which is useless once this transaction ends). fdb reads the segments
                    # straight into one buffer of the blob's size: one copy for a 20 MB PDF.
                    ps.set_stream_blob_treshold(-1)
                    cur.execute(ps, tuple(params))
                    columns = [d[0].upper() for d in cur.description]
                    rows = cur.fetchall()
                except fdb.DatabaseError as exc:
                    raise self._translate(exc, name) from None
            finally:
                dispose_cursor(cur)
                if self._conn is not None:
                    self._end(tr)
            return columns, rows

    @property
    def _pdf_from_folder(self) -> bool:
        return getattr(self.settings, "pdf_source", "database") == "folder"

    # -- reads -------------------------------------------------------------------------------

    def server_version(self) -> str:
        with self._lock:
            conn = self._require()
            try:
                # firebird_version ("LI-V5.0.4.1812 Firebird 5.0"), not server_version: Firebird 3+
                # report the old interface version "V6.3" there, which reads like a wrong server.
                return str(conn.firebird_version or conn.server_version).splitlines()[0]
            except fdb.DatabaseError as exc:
                if is_connection_lost(exc):
                    raise self._lost(exc) from None
                raise RaksConnectionError(f"Nie można odczytać wersji serwera Firebird: {error_text(exc)}") from None

    def identity(self) -> str:
        """The database as the server knows it (resolved file, creation time): see export.dbkey."""
        with self._lock:
            conn = self._require()
            try:
                tr = conn.trans(default_tpb=_READ_TPB)
                cur = tr.cursor()
                try:
                    cur.execute("SELECT MON$DATABASE_NAME, MON$CREATION_DATE FROM MON$DATABASE")
                    name, created = cur.fetchone()
                finally:
                    dispose_cursor(cur)
                    self._end(tr)
            except fdb.DatabaseError as exc:
                if is_connection_lost(exc):
                    raise self._lost(exc) from None
                raise RaksConnectionError(f"Nie można odczytać tożsamości bazy: {error_text(exc)}") from None
        return identity_key(_text(name), created)

    def pending_documents(self) -> list[Document]:
        """Documents of the configured types in a "to send" status, issued on/after not_before.

        Ordered by issue date, then id. Documents without a PDF are included (``has_pdf`` False).
        """
        s = self.settings
        not_before = getattr(s, "not_before", None) or NO_CUTOVER
        pattern = getattr(s, "order_id_pattern", r"\d+") or r"\d+"
        found: dict[tuple[str, int], Document] = {}
        for doc_type in s.document_types:
            for status_id in s.statuses_to_send:
                name = _profile.statement_for(_profile.PENDING_DOCUMENTS, doc_type)
                columns, rows = self._query(name, _params(name, doc_type=doc_type, status_id=status_id,
                                                          not_before=not_before))
                for row in rows:
                    doc = self._document(dict(zip(columns, row)), doc_type, pattern)
                    found.setdefault(doc.key, doc)
        # Invoices before their corrections: a KS needs its invoice in BaseLinker first.
        return sorted(found.values(), key=lambda d: (d.doc_type == "KS", d.issue_date, d.raks_id, d.doc_type))

    def _document(self, r: dict[str, Any], doc_type: str, pattern: str) -> Document:
        try:
            order_ref = _text(r.get("ORDER_REF"))
            pdf_size = r.get("PDF_SIZE")
            pdf_size = int(pdf_size) if pdf_size is not None else None
            # An empty PDF row counts as "has a PDF" so the export can say "the PDF is empty"
            # instead of "no PDF" (the fix differs: regenerate vs. generate).
            has_pdf = bool(r.get("HAS_PDF"))
            status = r.get("ID_STATUSU")
            pdf_path = self._pdf_path(r, doc_type)
            if pdf_path is not None:
                pdf_size = _files.file_state(pdf_path)
                has_pdf = pdf_size is not None
            return Document(
                raks_id=int(r["ID"]),
                doc_type=_text(r.get("TYP")) or doc_type,
                number=_text(r.get("NUMER")),
                issue_date=_date(r.get("DATA_WYSTAWIENIA")),
                order_ref=order_ref,
                order_id=extract_order_id(order_ref, pattern),
                status_id=int(status) if status is not None else None,
                buyer_name=_text(r.get("NAZWA_PLATNIKA")),
                buyer_nip=_text(r.get("NIP_PLATNIKA")),
                total_gross=_money(r.get("BRUTTO")),
                currency=_currency(r.get("WALUTA")),
                has_pdf=has_pdf,
                pdf_size=pdf_size if has_pdf else None,
                pdf_path=str(pdf_path) if pdf_path is not None else None,
                corrects_number=_text(r.get("FS_NUMER")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            key = query_key(_profile.PENDING_DOCUMENTS)
            raise ProfileError(
                f"Zapytanie {key} zwróciło nieprawidłowe dane ({exc}); sprawdź typy kolumn.", key,
                _profile.PENDING_DOCUMENTS,
            ) from None

    def _pdf_path(self, r: dict[str, Any], doc_type: str):
        """The printout file of a pending_documents row, when PDFs are files; else None."""
        s = self.settings
        folder = getattr(s, "pdf_folder", "") or ""
        if self._pdf_from_folder:
            name = _files.pdf_file_name(
                getattr(s, "pdf_file_pattern", _files.DEFAULT_PATTERN) or _files.DEFAULT_PATTERN,
                number=_text(r.get("NUMER")), doc_type=_text(r.get("TYP")) or doc_type,
                raks_id=int(r["ID"]), issue_date=_date(r.get("DATA_WYSTAWIENIA")),
            )
            return _files.resolve(folder, name)
        if "PDF_PATH" in r:
            text = _text(r.get("PDF_PATH"))
            return _files.resolve(folder, text) if text else None
        return None

    def read_pdf(self, doc: Document) -> bytes | None:
        """The document's PDF as bytes (b"" when the stored file is empty), None when it has none.

        A printout kept as a file raises :class:`~agent.raks.pdf_source.PdfFileProblem` (missing,
        not a PDF) or :class:`~agent.raks.pdf_source.PdfNotReady` (still being written).
        """
        if doc.pdf_path:
            return _files.read_pdf_file(_files.resolve("", doc.pdf_path))
        if self._pdf_from_folder:
            return None
        columns, rows = self._query(_profile.DOCUMENT_PDF, (doc.doc_type, doc.raks_id))
        if not rows:
            return None
        if "PLIK" not in columns and "PDF_PATH" in columns:
            text = _text(rows[0][columns.index("PDF_PATH")])
            if not text:
                return None
            return _files.read_pdf_file(_files.resolve(getattr(self.settings, "pdf_folder", "") or "", text))
        value = rows[0][columns.index("PLIK")] if "PLIK" in columns else rows[0][0]
        rows.clear()
        if value is None:
            return None
        if isinstance(value, str):  # a text blob: should not happen for PDFs
            value = value.encode("cp1250")
        elif hasattr(value, "read"):  # BlobReader
            value = value.read()
        return bytes(value)

    def statuses(self) -> list[tuple[int, str]]:
        columns, rows = self._query(_profile.STATUSES)
        i_id, i_name = columns.index("ID"), columns.index("NAZWA")
        return [(int(r[i_id]), _text(r[i_name])) for r in rows]

    def status_counts(self) -> dict[tuple[int | None, str], int]:
        columns, rows = self._query(_profile.STATUS_COUNTS)
        i_st, i_typ, i_n = columns.index("ID_STATUSU"), columns.index("TYP"), columns.index("ILE")
        out: dict[tuple[int | None, str], int] = {}
        for r in rows:
            key = (int(r[i_st]) if r[i_st] is not None else None, _text(r[i_typ]))
            out[key] = out.get(key, 0) + int(r[i_n])
        return out

    def inspect(self):
        """Candidate tables/columns for adapting the profile (see :mod:`agent.raks.inspect`)."""
        from agent.raks.inspect import inspect_database

        with self._lock:
            conn = self._require()
            try:
                return inspect_database(conn)
            except fdb.DatabaseError as exc:
                if is_connection_lost(exc):
                    raise self._lost(exc) from None
                raise RaksConnectionError(f"Nie można odczytać struktury bazy: {error_text(exc)}") from None

    # -- claims -------------------------------------------------------------------------------

    def claim(self, doc: Document) -> "Claim":
        """Lock the document's row in a new NO WAIT transaction (RowLocked if someone holds it)."""
        with self._lock:
            conn = self._require()
            try:
                tr = conn.trans(default_tpb=_CLAIM_TPB)
                tr.begin()
            except fdb.DatabaseError as exc:
                raise self._translate(exc, _profile.LOCK_DOCUMENT, doc_number=doc.number) from None
            cur = tr.cursor()
            try:
                name = _profile.statement_for(_profile.LOCK_DOCUMENT, doc.doc_type)
                cur.execute(self.profile.sql(name), _params(name, doc_type=doc.doc_type, raks_id=doc.raks_id))
                columns = [d[0].upper() for d in cur.description]
                rows = cur.fetchall()
            except fdb.DatabaseError as exc:
                dispose_cursor(cur)
                err = self._translate(exc, _profile.LOCK_DOCUMENT, doc_number=doc.number)
                if self._conn is not None:
                    try:
                        tr.rollback()
                        tr.close()
                    except fdb.DatabaseError:
                        pass
                raise err from None
            dispose_cursor(cur)
            if rows:
                idx = columns.index("ID_STATUSU") if "ID_STATUSU" in columns else 0
                current = rows[0][idx]
                current = int(current) if current is not None else None
            else:
                current = None
            claim = Claim(self, doc, tr, current, exists=bool(rows))
            self._claims.add(claim)
            return claim


_READ_ONLY_DATABASE = 335544765  # isc_read_only_database


class Claim:
    """A document locked for export; rolls back on exit unless :meth:`commit` was called.

    ``current_status`` is the status read under the lock; ``exists`` is False when the
    document has vanished. :meth:`set_status` changes the status only while the document is
    still in one of the settings' "to send" statuses and still has ``current_status``.
    """

    def __init__(self, repo: RaksRepository, doc: Document, tr, current_status: int | None, *, exists: bool):
        self._repo = repo
        self.document = doc
        self._tr = tr
        self.current_status = current_status
        self.exists = exists
        self.committed = False
        self.closed = False

    def __repr__(self) -> str:
        return f"Claim({self.document.doc_type} {self.document.raks_id}, status={self.current_status})"

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, *exc) -> None:
        if not self.closed:
            self.rollback()

    @property
    def still_to_send(self) -> bool:
        return self.exists and self.current_status in tuple(self._repo.settings.statuses_to_send)

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError("claim already finished")

    def set_status(self, status_id: int) -> bool:
        """Conditional status change in the claim's transaction; False (and no change) if the
        document left the "to send" statuses (or vanished) before it was claimed."""
        self._check_open()
        if not self.still_to_send:
            return False
        repo = self._repo
        with repo._lock:
            repo._require()
            cur = self._tr.cursor()
            try:
                name = _profile.statement_for(_profile.SET_STATUS, self.document.doc_type)
                cur.execute(
                    repo.profile.sql(name),
                    _params(name, new_status=status_id, doc_type=self.document.doc_type,
                            raks_id=self.document.raks_id, expected_status=self.current_status),
                )
                changed = cur.rowcount
            except fdb.DatabaseError as exc:
                err = repo._translate(exc, _profile.SET_STATUS, doc_number=self.document.number)
                raise err from None
            finally:
                dispose_cursor(cur)
        if changed and changed > 0:
            self.current_status = status_id
            return True
        return False

    def commit(self) -> None:
        self._check_open()
        repo = self._repo
        with repo._lock:
            repo._require()
            try:
                self._tr.commit()
            except fdb.DatabaseError as exc:
                if is_connection_lost(exc):
                    raise repo._lost(exc) from None
                raise RaksConnectionError(
                    f"Nie można zatwierdzić zmiany statusu dokumentu {self.document.number}: "
                    f"{error_text(exc)}"
                ) from None
            finally:
                self._finish()
            self.committed = True

    def rollback(self) -> None:
        if self.closed:
            return
        repo = self._repo
        with repo._lock:
            try:
                if repo.connected and self._tr.active:
                    self._tr.rollback()
            except fdb.DatabaseError as exc:
                log.debug("rollback of a claim failed: %s", exc)
            finally:
                self._finish()

    def _abandon(self) -> None:
        """The repository is closing: the server rolls the transaction back with the connection."""
        try:
            if self._tr.active:
                self._tr.rollback()
        except Exception:
            pass
        self._finish()

    def _finish(self) -> None:
        self.closed = True
        try:
            self._tr.close()
        except Exception:
            pass
        self._repo._claims.discard(self)
