"""The default layout of a RaksSQL company database, and builders for demo, tests and benchmarks.

The tables use RaksSQL's real names and a realistic subset of their columns (``GM_FS`` sales
documents with ``TYP_DOK_MAGAZYNOWEGO`` 'FS'/'PA', ``GM_FSPOZ`` items, ``GM_KS`` corrections,
``GM_ZK`` customer orders) plus what this project assumes for the parts whose real location
differs per installation: the status dictionary ``GM_STATUSY_DOK``, ``GM_FS.ID_STATUSU``,
``GM_KS.ID_STATUSU`` and the generated PDFs in ``GM_PDF`` (see ``docs/rakssql.md``).

The builders take an fdb connection opened with charset WIN1250 (use :func:`connect`).
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable

import fdb

from agent.raks.connection import choose_client, connect_error, open_connection, parse_database

DEFAULT_STATUSES: tuple[tuple[int, str], ...] = (
    (1, "Nowy"),
    (2, "Do wysłania"),
    (3, "Wysłany do BaseLinker"),
    (4, "Błąd wysyłki"),
)
STATUS_NEW, STATUS_TO_SEND, STATUS_SENT, STATUS_ERROR = 1, 2, 3, 4

CHARSET = "WIN1250"
PAGE_SIZE = 8192

DDL: tuple[str, ...] = (
    "CREATE GENERATOR GM_FS_GEN",
    "CREATE GENERATOR GM_FSPOZ_GEN",
    "CREATE GENERATOR GM_KS_GEN",
    "CREATE GENERATOR GM_ZK_GEN",
    "CREATE GENERATOR GM_PDF_GEN",
    """CREATE TABLE GM_STATUSY_DOK (
        ID INTEGER NOT NULL PRIMARY KEY,
        NAZWA VARCHAR(60) NOT NULL
    )""",
    """CREATE TABLE GM_FS (
        ID INTEGER NOT NULL PRIMARY KEY,
        TYP_DOK_MAGAZYNOWEGO VARCHAR(2) NOT NULL,
        NUMER VARCHAR(40) NOT NULL,
        KOD VARCHAR(20),
        NR INTEGER,
        ROK SMALLINT,
        MIESIAC SMALLINT,
        NAZWA_DOKUMENTU VARCHAR(40),
        DATA_WYSTAWIENIA DATE NOT NULL,
        DATA_SPRZEDAZY DATE,
        DATA_PLATNOSCI DATE,
        ID_PLATNIKA INTEGER,
        NAZWA_SKROCONA_PLATNIKA VARCHAR(40),
        NAZWA_PELNA_PLATNIKA VARCHAR(250),
        NIP_PLATNIKA VARCHAR(20),
        ULICA_PLATNIKA VARCHAR(60),
        KOD_PLATNIKA VARCHAR(10),
        MIEJSCOWOSC_PLATNIKA VARCHAR(40),
        ID_WALUTY INTEGER DEFAULT 0 NOT NULL,
        KURS NUMERIC(15,4) DEFAULT 1,
        WAL_WARTOSC_NETTO NUMERIC(15,2) DEFAULT 0,
        WAL_WARTOSC_BRUTTO NUMERIC(15,2) DEFAULT 0,
        PLN_WARTOSC_NETTO NUMERIC(15,2) DEFAULT 0,
        PLN_WARTOSC_BRUTTO NUMERIC(15,2) DEFAULT 0,
        SYGNATURA VARCHAR(60),
        ZNACZNIKI VARCHAR(30),
        UWAGI VARCHAR(1000),
        FISKALNY SMALLINT DEFAULT 0,
        OPERATOR VARCHAR(30),
        ZMIENIL VARCHAR(30),
        GUID VARCHAR(38),
        ID_STATUSU INTEGER
    )""",
    "CREATE INDEX GM_FS_TYP_STATUS ON GM_FS (TYP_DOK_MAGAZYNOWEGO, ID_STATUSU)",
    "CREATE INDEX GM_FS_DATA ON GM_FS (DATA_WYSTAWIENIA)",
    """CREATE TABLE GM_FSPOZ (
        ID INTEGER NOT NULL PRIMARY KEY,
        ID_GLOWKI INTEGER NOT NULL REFERENCES GM_FS (ID) ON DELETE CASCADE,
        LP SMALLINT NOT NULL,
        ID_TOWARU INTEGER,
        NAZWA_ORYGINALNA VARCHAR(250),
        SKROT_ORYGINALNY VARCHAR(40),
        ILOSC NUMERIC(15,4) DEFAULT 1,
        JEDNOSTKA VARCHAR(10),
        STAWKA VARCHAR(4),
        CENA_SP_PLN_NETTO NUMERIC(15,2),
        CENA_SP_PLN_BRUTTO NUMERIC(15,2)
    )""",
    """CREATE TABLE GM_KS (
        ID INTEGER NOT NULL PRIMARY KEY,
        ID_FS INTEGER REFERENCES GM_FS (ID),
        NUMER VARCHAR(40) NOT NULL,
        KOD VARCHAR(20),
        NR INTEGER,
        ROK SMALLINT,
        MIESIAC SMALLINT,
        DATA_WYSTAWIENIA DATE NOT NULL,
        NAZWA_SKROCONA_PLATNIKA VARCHAR(40),
        NAZWA_PELNA_PLATNIKA VARCHAR(250),
        NIP_PLATNIKA VARCHAR(20),
        ID_WALUTY INTEGER DEFAULT 0 NOT NULL,
        WAL_WARTOSC_BRUTTO NUMERIC(15,2) DEFAULT 0,
        PLN_WARTOSC_BRUTTO NUMERIC(15,2) DEFAULT 0,
        SYGNATURA VARCHAR(60),
        PRZYCZYNA_KOREKTY VARCHAR(200),
        UWAGI VARCHAR(1000),
        OPERATOR VARCHAR(30),
        GUID VARCHAR(38),
        ID_STATUSU INTEGER
    )""",
    """CREATE TABLE GM_ZK (
        ID INTEGER NOT NULL PRIMARY KEY,
        NUMER VARCHAR(40) NOT NULL,
        DATA_WYSTAWIENIA DATE NOT NULL,
        NAZWA_SKROCONA_PLATNIKA VARCHAR(40),
        NR_ZAMOWIENIA_NABYWCY VARCHAR(20),
        ID_FS INTEGER,
        UWAGI VARCHAR(1000)
    )""",
    """CREATE TABLE GM_PDF (
        ID INTEGER NOT NULL PRIMARY KEY,
        TYP_DOK VARCHAR(2) NOT NULL,
        ID_DOK INTEGER NOT NULL,
        PLIK BLOB SUB_TYPE BINARY,
        DATA_UTWORZENIA TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        CONSTRAINT GM_PDF_DOK UNIQUE (TYP_DOK, ID_DOK)
    )""",
)


def connect(database: str, user: str, password: str, client_library: str = "") -> fdb.Connection:
    """An fdb connection with charset WIN1250 (``database`` as in the settings: host[/port]:path or a path)."""
    conn, _ = open_connection(database, user, password, charset=CHARSET, client_library=client_library)
    return conn


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def create_company_database(
    database: str,
    user: str,
    password: str,
    *,
    client_library: str = "",
    statuses: Iterable[tuple[int, str]] = DEFAULT_STATUSES,
) -> None:
    """Create a WIN1250, dialect 3 database with the default layout and the status dictionary."""
    location = parse_database(database)
    sql = (
        f"CREATE DATABASE {_sql_literal(location.dsn)} USER {_sql_literal(user)} "
        f"PASSWORD {_sql_literal(password)} PAGE_SIZE {PAGE_SIZE} DEFAULT CHARACTER SET {CHARSET}"
    )
    kwargs, _, _ = choose_client(client_library, database)
    try:
        conn = fdb.create_database(sql, sql_dialect=3, charset=CHARSET, **kwargs)
    except fdb.DatabaseError as exc:
        raise connect_error(location, user, exc, password) from None
    try:
        create_layout(conn, statuses)
    finally:
        conn.close()


def create_layout(conn: fdb.Connection, statuses: Iterable[tuple[int, str]] = DEFAULT_STATUSES) -> None:
    """Create the default layout's tables in an empty database and fill the status dictionary."""
    for stmt in DDL:
        conn.execute_immediate(stmt)
    conn.commit()
    cur = conn.cursor()
    cur.executemany("INSERT INTO GM_STATUSY_DOK (ID, NAZWA) VALUES (?, ?)", [tuple(s) for s in statuses])
    conn.commit()


def _transliterate(text: str) -> str:
    """Text for the PDF's WinAnsi-encoded Helvetica: keep cp1252 characters, strip the rest."""
    out = []
    for ch in text:
        try:
            ch.encode("cp1252")
            out.append(ch)
        except UnicodeEncodeError:
            base = {"ł": "l", "Ł": "L"}.get(ch) or unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            out.append(base or "?")
    return "".join(out)


def make_pdf(text: str) -> bytes:
    """A small, valid one-page PDF (A4, Helvetica) showing ``text`` (one line per ``\\n``)."""
    lines = _transliterate(text).splitlines() or [""]
    ops = ["BT", "/F1 14 Tf", "16 TL", "56 780 Td"]
    for i, line in enumerate(lines):
        esc = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(("" if i == 0 else "T* ") + f"({esc}) Tj")
    ops.append("ET")
    stream = "\n".join(ops).encode("cp1252")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for num, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{num} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode()
    out += b"0000000000 65535 f \n"
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


_DEFAULT_PDF = object()


def add_document(
    conn: fdb.Connection,
    *,
    doc_type: str = "FS",
    number: str,
    status_id: int | None = STATUS_TO_SEND,
    sygnatura: str = "",
    issue_date: _dt.date | None = None,
    buyer_name: str = "",
    buyer_nip: str = "",
    total_gross: Decimal = Decimal("123.00"),
    currency_id: int = 0,
    pdf: bytes | None | object = _DEFAULT_PDF,
) -> int:
    """Insert a sales document (GM_FS + one GM_FSPOZ line + its GM_PDF row when ``pdf``); commits.

    ``pdf`` defaults to :func:`make_pdf` of the number and buyer; pass None for "no PDF yet".
    Returns the new ``GM_FS.ID``.
    """
    issue_date = issue_date or _dt.date.today()
    total_gross = Decimal(total_gross).quantize(Decimal("0.01"), ROUND_HALF_UP)
    net = (total_gross / Decimal("1.23")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    m = re.search(r"\d+", number)
    nr = int(m.group(0)) if m and len(m.group(0)) < 10 else 0
    if pdf is _DEFAULT_PDF:
        pdf = make_pdf(f"{'Faktura VAT' if doc_type == 'FS' else 'Paragon'} {number}\n{buyer_name}\n{total_gross} PLN")
    short = buyer_name[:40]
    tr = conn.main_transaction
    cur = conn.cursor()
    try:
        cur.execute(
            """INSERT INTO GM_FS (ID, TYP_DOK_MAGAZYNOWEGO, NUMER, KOD, NR, ROK, MIESIAC, NAZWA_DOKUMENTU,
                   DATA_WYSTAWIENIA, DATA_SPRZEDAZY, DATA_PLATNOSCI, NAZWA_SKROCONA_PLATNIKA,
                   NAZWA_PELNA_PLATNIKA, NIP_PLATNIKA, ULICA_PLATNIKA, KOD_PLATNIKA, MIEJSCOWOSC_PLATNIKA,
                   ID_WALUTY, KURS, WAL_WARTOSC_NETTO, WAL_WARTOSC_BRUTTO, PLN_WARTOSC_NETTO,
                   PLN_WARTOSC_BRUTTO, SYGNATURA, UWAGI, OPERATOR, GUID, ID_STATUSU)
               VALUES (NEXT VALUE FOR GM_FS_GEN, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?,
                   ?, ?, '', 'ADMIN', UUID_TO_CHAR(GEN_UUID()), ?)
               RETURNING ID""",
            (
                doc_type, number, doc_type, nr, issue_date.year, issue_date.month,
                "Faktura VAT" if doc_type == "FS" else "Paragon",
                issue_date, issue_date, issue_date + _dt.timedelta(days=14), short, buyer_name, buyer_nip,
                "ul. Testowa 1", "00-001", "Warszawa", currency_id, net, total_gross, net, total_gross,
                sygnatura, status_id,
            ),
        )
        raks_id = cur.fetchone()[0]
        cur.execute(
            """INSERT INTO GM_FSPOZ (ID, ID_GLOWKI, LP, ID_TOWARU, NAZWA_ORYGINALNA, SKROT_ORYGINALNY, ILOSC,
                   JEDNOSTKA, STAWKA, CENA_SP_PLN_NETTO, CENA_SP_PLN_BRUTTO)
               VALUES (NEXT VALUE FOR GM_FSPOZ_GEN, ?, 1, 1, 'Towar testowy', 'TOWAR', 1, 'szt.', '23', ?, ?)""",
            (raks_id, net, total_gross),
        )
        if pdf is not None:
            _insert_pdf(cur, doc_type, raks_id, pdf)
        tr.commit()
    except Exception:
        tr.rollback()
        raise
    finally:
        cur.close()
    return raks_id


def _insert_pdf(cur, doc_type: str, raks_id: int, pdf: bytes) -> None:
    cur.execute(
        "UPDATE OR INSERT INTO GM_PDF (ID, TYP_DOK, ID_DOK, PLIK, DATA_UTWORZENIA) "
        "VALUES (NEXT VALUE FOR GM_PDF_GEN, ?, ?, ?, CURRENT_TIMESTAMP) MATCHING (TYP_DOK, ID_DOK)",
        (doc_type, raks_id, pdf),
    )


def set_document_pdf(conn: fdb.Connection, doc_type: str, raks_id: int, pdf: bytes | None) -> None:
    """Store (or with None remove) the generated PDF of a document; commits."""
    cur = conn.cursor()
    try:
        if pdf is None:
            cur.execute("DELETE FROM GM_PDF WHERE TYP_DOK = ? AND ID_DOK = ?", (doc_type, raks_id))
        else:
            _insert_pdf(cur, doc_type, raks_id, pdf)
        conn.commit()
    except Exception:
        conn.rollback()
        raise
    finally:
        cur.close()


def set_document_status(conn: fdb.Connection, doc_type: str, raks_id: int, status_id: int | None) -> None:
    """Set a document's status unconditionally (as a RaksSQL user would); commits."""
    cur = conn.cursor()
    try:
        if doc_type == "KS":
            cur.execute("UPDATE GM_KS SET ID_STATUSU = ? WHERE ID = ?", (status_id, raks_id))
        else:
            cur.execute(
                "UPDATE GM_FS SET ID_STATUSU = ? WHERE TYP_DOK_MAGAZYNOWEGO = ? AND ID = ?",
                (status_id, doc_type, raks_id),
            )
        conn.commit()
    except Exception:
        conn.rollback()
        raise
    finally:
        cur.close()


def document_status(conn: fdb.Connection, doc_type: str, raks_id: int) -> int | None:
    """The committed status of a document (None if it has none or does not exist)."""
    conn.commit()  # start a fresh snapshot: see what others committed meanwhile
    cur = conn.cursor()
    try:
        if doc_type == "KS":
            cur.execute("SELECT ID_STATUSU FROM GM_KS WHERE ID = ?", (raks_id,))
        else:
            cur.execute(
                "SELECT ID_STATUSU FROM GM_FS WHERE TYP_DOK_MAGAZYNOWEGO = ? AND ID = ?", (doc_type, raks_id)
            )
        row = cur.fetchone()
        return row[0] if row else None
    finally:
        cur.close()
        conn.commit()


def insert_correction(
    conn,
    *,
    invoice_id: int,
    number: str,
    status_id: int | None = 2,
    issue_date: _dt.date | None = None,
    sygnatura: str = "",
    reason: str = "Zwrot towaru",
    total_gross: Decimal = Decimal("-123.00"),
    pdf: bytes | None | object = _DEFAULT_PDF,
) -> int:
    """Insert a correction (GM_KS, linked to invoice ``invoice_id`` by ID_FS) and its GM_PDF row
    (``TYP_DOK`` 'KS'); commits. ``sygnatura`` is empty by default, as RaksSQL often leaves it."""
    issue_date = issue_date or _dt.date.today()
    if pdf is _DEFAULT_PDF:
        pdf = make_pdf(f"Faktura korygujaca {number}\n{reason}")
    m = re.search(r"\d+", number)
    nr = int(m.group(0)) if m and len(m.group(0)) < 10 else 0
    tr = conn.main_transaction
    cur = conn.cursor()
    try:
        cur.execute("SELECT NAZWA_SKROCONA_PLATNIKA, NAZWA_PELNA_PLATNIKA, NIP_PLATNIKA, ID_WALUTY "
                    "FROM GM_FS WHERE ID = ?", (invoice_id,))
        buyer = cur.fetchone()
        if buyer is None:
            raise ValueError(f"no GM_FS row {invoice_id} to correct")
        cur.execute(
            """INSERT INTO GM_KS (ID, ID_FS, NUMER, KOD, NR, ROK, MIESIAC, DATA_WYSTAWIENIA,
                   NAZWA_SKROCONA_PLATNIKA, NAZWA_PELNA_PLATNIKA, NIP_PLATNIKA, ID_WALUTY, WAL_WARTOSC_BRUTTO,
                   PLN_WARTOSC_BRUTTO, SYGNATURA, PRZYCZYNA_KOREKTY, OPERATOR, GUID, ID_STATUSU)
               VALUES (NEXT VALUE FOR GM_KS_GEN, ?, ?, 'KS', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ADMIN',
                   UUID_TO_CHAR(GEN_UUID()), ?)
               RETURNING ID""",
            (invoice_id, number, nr, issue_date.year, issue_date.month, issue_date, *buyer, total_gross,
             total_gross, sygnatura, reason, status_id),
        )
        row = cur.fetchone()
        raks_id = row[0]
        if pdf is not None:
            _insert_pdf(cur, "KS", raks_id, pdf)
        tr.commit()
    except Exception:
        tr.rollback()
        raise
    finally:
        cur.close()
    return raks_id
