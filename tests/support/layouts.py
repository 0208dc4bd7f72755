"""RaksSQL company databases laid out differently from the default, for ``inspect-db --propose``.

Each layout starts from the default database (real ``GM_FS`` columns) and moves the three
installation-specific things somewhere else: the Status (a column of another name with its own
dictionary, or a separate table keyed by document), the PDF (a blob table of another name, a
path column, files in a folder) and the BaseLinker order id (``SYGNATURA`` or a column of its
own while ``SYGNATURA`` holds unrelated digits).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from agent.raks.pdf_source import safe_file_part
from agent.raks.schema import make_pdf

# A dictionary with other ids than the default one, so nothing works by accident.
STATUSES = ((10, "Nowy"), (20, "Do wysłania do BL"), (30, "Wysłany do BaseLinker"), (40, "Błąd wysyłki"))
NEW, TO_SEND, SENT = 10, 20, 30

_COMMON_DROP = (
    "DROP INDEX GM_FS_TYP_STATUS",
    "ALTER TABLE GM_FS DROP ID_STATUSU",
    "DROP TABLE GM_PDF",
    "DROP TABLE GM_STATUSY_DOK",
    # Nine digits in every row: looks like an order id to a naive eye, but it is a phone number.
    "ALTER TABLE GM_FS ADD TELEFON_PLATNIKA VARCHAR(20)",
)


@dataclass
class Layout:
    """How one database keeps the Status, the PDF and the order id."""

    name: str
    status: str          # 'column' (GM_FS.STAN_BL) | 'table' (BL_DOKUMENTY)
    pdf: str             # 'blob_table' (WYDRUKI) | 'blob_column' (GM_FS.WYDRUK_PDF) | 'path_column' | 'folder'
    order: str           # 'sygnatura' | 'column' (GM_FS.NR_ZAMOWIENIA_BL) | 'notes' (inside GM_FS.UWAGI text)
    ddl: tuple[str, ...] = field(default_factory=tuple)


LAYOUTS = {
    "status_table_blob_table": Layout(
        "status_table_blob_table", "table", "blob_table", "sygnatura",
        (
            "CREATE TABLE SLOWNIK_STATUSOW_BL (ID INTEGER NOT NULL PRIMARY KEY, NAZWA VARCHAR(60) NOT NULL)",
            """CREATE TABLE BL_DOKUMENTY (ID INTEGER NOT NULL PRIMARY KEY, RODZAJ VARCHAR(2) NOT NULL,
                 ID_DOKUMENTU INTEGER NOT NULL REFERENCES GM_FS (ID), STATUS_BL INTEGER,
                 CONSTRAINT BL_DOKUMENTY_DOK UNIQUE (RODZAJ, ID_DOKUMENTU))""",
            """CREATE TABLE WYDRUKI (ID INTEGER NOT NULL PRIMARY KEY, RODZAJ VARCHAR(2) NOT NULL,
                 ID_DOKUMENTU INTEGER NOT NULL, DANE BLOB SUB_TYPE BINARY, UTWORZONO TIMESTAMP)""",
        ),
    ),
    "status_column_path_column": Layout(
        "status_column_path_column", "column", "path_column", "column",
        (
            "CREATE TABLE SLOWNIK_STATUSOW_BL (ID INTEGER NOT NULL PRIMARY KEY, NAZWA VARCHAR(60) NOT NULL)",
            "ALTER TABLE GM_FS ADD STAN_BL INTEGER",
            "ALTER TABLE GM_FS ADD SCIEZKA_WYDRUKU VARCHAR(260)",
            "ALTER TABLE GM_FS ADD NR_ZAMOWIENIA_BL BIGINT",
        ),
    ),
    "status_column_folder": Layout(
        "status_column_folder", "column", "folder", "sygnatura",
        (
            "CREATE TABLE SLOWNIK_STATUSOW_BL (ID INTEGER NOT NULL PRIMARY KEY, NAZWA VARCHAR(60) NOT NULL)",
            "ALTER TABLE GM_FS ADD STAN_BL INTEGER",
        ),
    ),
    "status_column_blob_column": Layout(
        "status_column_blob_column", "column", "blob_column", "column",
        (
            "CREATE TABLE SLOWNIK_STATUSOW_BL (ID INTEGER NOT NULL PRIMARY KEY, NAZWA VARCHAR(60) NOT NULL)",
            "ALTER TABLE GM_FS ADD STAN_BL INTEGER",
            "ALTER TABLE GM_FS ADD WYDRUK_PDF BLOB SUB_TYPE BINARY",
            "ALTER TABLE GM_FS ADD NR_ZAMOWIENIA_BL BIGINT",
        ),
    ),
    "status_table_order_in_notes": Layout(
        "status_table_order_in_notes", "table", "blob_table", "notes",
        (
            "CREATE TABLE SLOWNIK_STATUSOW_BL (ID INTEGER NOT NULL PRIMARY KEY, NAZWA VARCHAR(60) NOT NULL)",
            """CREATE TABLE BL_DOKUMENTY (ID INTEGER NOT NULL PRIMARY KEY, RODZAJ VARCHAR(2) NOT NULL,
                 ID_DOKUMENTU INTEGER NOT NULL REFERENCES GM_FS (ID), STATUS_BL INTEGER,
                 CONSTRAINT BL_DOKUMENTY_DOK UNIQUE (RODZAJ, ID_DOKUMENTU))""",
            """CREATE TABLE WYDRUKI (ID INTEGER NOT NULL PRIMARY KEY, RODZAJ VARCHAR(2) NOT NULL,
                 ID_DOKUMENTU INTEGER NOT NULL, DANE BLOB SUB_TYPE BINARY, UTWORZONO TIMESTAMP)""",
        ),
    ),
}


class LayoutDb:
    """A CompanyDb-shaped database (dsn, user, password, connect()) with one of the layouts."""

    def __init__(self, company_db, layout: Layout, pdf_dir: Path):
        self._db = company_db
        self.layout = layout
        self.pdf_dir = pdf_dir
        self.dsn, self.user, self.password = company_db.dsn, company_db.user, company_db.password
        self._n = 0
        conn = self.conn
        for stmt in _COMMON_DROP + layout.ddl:
            conn.execute_immediate(stmt)
        conn.commit()
        cur = conn.cursor()
        cur.executemany("INSERT INTO SLOWNIK_STATUSOW_BL (ID, NAZWA) VALUES (?, ?)", STATUSES)
        conn.commit()

    def connect(self):
        return self._db.connect()

    @property
    def conn(self):
        return self._db.admin

    def _exec(self, sql: str, params=()):
        cur = self.conn.cursor()
        cur.execute(sql, params)
        rows = cur.fetchall() if cur.description else None
        cur.close()
        return rows

    def pdf_file(self, number: str) -> Path:
        return self.pdf_dir / f"{safe_file_part(number)}.pdf"

    def add_doc(self, doc_type: str, number: str, *, status: int = TO_SEND, order_id: int | None = None,
                pdf: bytes | None = b"default", total: str = "123.00") -> int:
        """Insert a document the way this layout keeps it; ``pdf=None``: no printout."""
        self._n += 1
        if pdf == b"default":
            pdf = make_pdf(f"{doc_type} {number}")
        lay = self.layout
        sygnatura = f"BL {order_id}" if (lay.order == "sygnatura" and order_id) else f"WZ {self._n}/2026"
        today = dt.date.today()
        (raks_id,), = self._exec(
            """INSERT INTO GM_FS (ID, TYP_DOK_MAGAZYNOWEGO, NUMER, NR, ROK, MIESIAC, DATA_WYSTAWIENIA,
                   NAZWA_SKROCONA_PLATNIKA, NAZWA_PELNA_PLATNIKA, NIP_PLATNIKA, ID_WALUTY,
                   WAL_WARTOSC_BRUTTO, PLN_WARTOSC_BRUTTO, SYGNATURA, TELEFON_PLATNIKA)
               VALUES (NEXT VALUE FOR GM_FS_GEN, ?, ?, ?, ?, ?, ?, 'Firma', 'Firma Testowa', '', 0, ?, ?, ?, ?)
               RETURNING ID""",
            (doc_type, number, self._n, today.year, today.month, today, Decimal(total), Decimal(total), sygnatura,
             f"600100{self._n:03d}"),
        )
        if lay.status == "column":
            self._exec("UPDATE GM_FS SET STAN_BL = ? WHERE ID = ?", (status, raks_id))
        else:
            self._exec("INSERT INTO BL_DOKUMENTY (ID, RODZAJ, ID_DOKUMENTU, STATUS_BL) VALUES (?, ?, ?, ?)",
                       (raks_id, doc_type, raks_id, status))
        if lay.order == "column" and order_id:
            self._exec("UPDATE GM_FS SET NR_ZAMOWIENIA_BL = ? WHERE ID = ?", (order_id, raks_id))
        elif lay.order == "notes":
            note = f"Zamówienie sklepu nr {order_id}, paczka 2 z 3" if order_id else "Odbiór osobisty, paczka 1 z 1"
            self._exec("UPDATE GM_FS SET UWAGI = ? WHERE ID = ?", (note, raks_id))
        if lay.pdf == "blob_table" and pdf is not None:
            self._exec("INSERT INTO WYDRUKI (ID, RODZAJ, ID_DOKUMENTU, DANE) VALUES (?, ?, ?, ?)",
                       (raks_id, doc_type, raks_id, pdf))
        elif lay.pdf == "blob_column" and pdf is not None:
            self._exec("UPDATE GM_FS SET WYDRUK_PDF = ? WHERE ID = ?", (pdf, raks_id))
        elif lay.pdf in ("path_column", "folder"):
            path = self.pdf_file(number)
            if pdf is not None:
                path.write_bytes(pdf)
            if lay.pdf == "path_column":
                # RaksSQL stores the path even when the file went missing later.
                self._exec("UPDATE GM_FS SET SCIEZKA_WYDRUKU = ? WHERE ID = ?", (str(path), raks_id))
        self.conn.commit()
        return raks_id

    def status(self, raks_id: int) -> int | None:
        self.conn.commit()
        if self.layout.status == "column":
            rows = self._exec("SELECT STAN_BL FROM GM_FS WHERE ID = ?", (raks_id,))
        else:
            rows = self._exec("SELECT STATUS_BL FROM BL_DOKUMENTY WHERE ID_DOKUMENTU = ?", (raks_id,))
        self.conn.commit()
        return rows[0][0] if rows else None
