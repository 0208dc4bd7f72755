"""A complete profile proposed from a real RaksSQL database (``raksbl inspect-db --propose``).

The database is only read (one read-only READ COMMITTED transaction): the system tables
(columns, types, primary and foreign keys), row counts, distinct values, sample values and value
overlaps between columns. From that evidence it chooses, for the sales documents in ``GM_FS``:

* **the Status**: an integer column on ``GM_FS``, or on a table keyed by the document, whose
  values all appear in a small dictionary table (id + name); when two candidates are about
  equally plausible the proposal is *ambiguous* and asks (``--status TABLE.COLUMN``) instead of
  guessing;
* **the PDF**: a blob table keyed by document, a blob column on ``GM_FS``, a column holding the
  printout's path, or files in a folder (only when a folder is given);
* **the BaseLinker order id**: the column whose values look like BaseLinker order ids (a run of
  6–12 digits), preferring a column of its own over a pattern over free text;
* **corrections**: the ``GM_KS`` column pointing at the invoice (reported only).

Every choice carries its evidence and the alternatives it beat. :func:`build_changes` turns the
choices into settings keys (``raks.*`` and ``raks.queries.*`` — the profile's statements).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from agent.errors import RaksblError
from agent.raks import pdf_source as _files
from agent.raks import profile as _profile

log = logging.getLogger(__name__)

DOC_TABLE = "GM_FS"
DOC_KEY = "ID"
DOC_TYPE = "TYP_DOK_MAGAZYNOWEGO"
CORRECTION_TABLE = "GM_KS"

_INT_TYPES = {7: "SMALLINT", 8: "INTEGER", 16: "BIGINT"}
_TEXT_TYPES = {14: "CHAR", 37: "VARCHAR"}
_BLOB = 261
# RaksSQL's own GM_FS columns whose meaning is known: never a Status, an order id or a PDF.
_KNOWN_OTHER = {
    "ID", "NR", "ROK", "MIESIAC", "ID_PLATNIKA", "ID_WALUTY", "FISKALNY", "KURS", "NUMER", "KOD",
    "NAZWA_DOKUMENTU", "NIP_PLATNIKA", "KOD_PLATNIKA", "GUID", "OPERATOR", "ZMIENIL", "ZNACZNIKI",
    "ULICA_PLATNIKA", "MIEJSCOWOSC_PLATNIKA", "NAZWA_SKROCONA_PLATNIKA", "NAZWA_PELNA_PLATNIKA",
    "TYP_DOK_MAGAZYNOWEGO", "ID_GLOWKI", "LP", "ID_TOWARU",
}
# Tables of RaksSQL documents that point at GM_FS but are not "a table keyed by the document".
_DOCUMENT_TABLES = {"GM_FS", "GM_FSPOZ", "GM_KS", "GM_KSPOZ", "GM_ZK", "GM_ZKPOZ"}
_LINK_NAMES = ("ID_DOK", "ID_DOKUMENTU", "ID_FS", "ID_FAKTURY", "DOK_ID", "ID_GM_FS")
_TYPE_NAMES = ("TYP_DOK", "TYP", "TYP_DOKUMENTU", "RODZAJ", "TYP_DOK_MAGAZYNOWEGO")
_ORDER_WORDS = ("BASELINKER", "ZAMOW", "ORDER", "SYGNATURA")
_BL_WORD = re.compile(r"(^|_)BL($|_|\d)")
# A BaseLinker order id: a run of 6-12 digits, not part of a longer number.
_ORDER_ID_RUN = re.compile(r"(?<!\d)\d{6,12}(?!\d)")
_NOT_ORDER = ("TELEFON", "TEL_", "FAX", "KONTO", "RACHUN", "NIP", "REGON", "PESEL", "IBAN", "GUID", "EAN", "KOD_")
_NAME_COLUMNS = ("NAZWA", "NAME", "OPIS", "NAZWA_STATUSU", "STATUS")

# Folder layouts tried when a folder of printouts is given.
FOLDER_PATTERNS = (
    "{number}.pdf", "{type}/{number}.pdf", "{year}/{month}/{number}.pdf", "{type}_{id}.pdf", "{id}.pdf",
    "{type}/{id}.pdf",
)

SAMPLE = 2000          # documents sampled for order ids and folder files (the newest)
MAX_DICTIONARY_ROWS = 500
MAX_STATUS_VALUES = 50


# -- what the database looks like ---------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    table: str
    name: str
    ftype: int | None
    subtype: int | None
    length: int | None

    @property
    def label(self) -> str:
        return f"{self.table}.{self.name}"

    @property
    def is_int(self) -> bool:
        return self.ftype in _INT_TYPES

    @property
    def is_text(self) -> bool:
        return self.ftype in _TEXT_TYPES

    @property
    def is_binary_blob(self) -> bool:
        return self.ftype == _BLOB and self.subtype != 1

    @property
    def type_name(self) -> str:
        if self.is_int:
            return _INT_TYPES[self.ftype]
        if self.is_text:
            return f"{_TEXT_TYPES[self.ftype]}({self.length})"
        if self.ftype == _BLOB:
            return "BLOB SUB_TYPE TEXT" if self.subtype == 1 else "BLOB SUB_TYPE BINARY"
        return f"typ {self.ftype}"


@dataclass
class Schema:
    columns: dict[str, list[Column]]                         # table → columns in order
    primary: dict[str, list[str]]                            # table → key columns
    foreign: dict[tuple[str, str], tuple[str, str]]          # (table, column) → (table, column)

    def column(self, table: str, name: str) -> Column | None:
        return next((c for c in self.columns.get(table, ()) if c.name == name), None)

    def has(self, table: str, name: str | None = None) -> bool:
        return table in self.columns and (name is None or self.column(table, name) is not None)


_COLUMNS_SQL = """
SELECT TRIM(rf.RDB$RELATION_NAME), TRIM(rf.RDB$FIELD_NAME), f.RDB$FIELD_TYPE, f.RDB$FIELD_SUB_TYPE,
       COALESCE(f.RDB$CHARACTER_LENGTH, f.RDB$FIELD_LENGTH), f.RDB$FIELD_SCALE
  FROM RDB$RELATION_FIELDS rf
  JOIN RDB$RELATIONS r ON r.RDB$RELATION_NAME = rf.RDB$RELATION_NAME
  LEFT JOIN RDB$FIELDS f ON f.RDB$FIELD_NAME = rf.RDB$FIELD_SOURCE
 WHERE COALESCE(r.RDB$SYSTEM_FLAG, 0) = 0 AND r.RDB$VIEW_BLR IS NULL
 ORDER BY rf.RDB$RELATION_NAME, rf.RDB$FIELD_POSITION
"""
_KEYS_SQL = """
SELECT TRIM(rc.RDB$RELATION_NAME), TRIM(rc.RDB$CONSTRAINT_TYPE), TRIM(s.RDB$FIELD_NAME),
       TRIM(rc2.RDB$RELATION_NAME), TRIM(s2.RDB$FIELD_NAME)
  FROM RDB$RELATION_CONSTRAINTS rc
  JOIN RDB$INDEX_SEGMENTS s ON s.RDB$INDEX_NAME = rc.RDB$INDEX_NAME
  LEFT JOIN RDB$REF_CONSTRAINTS ref ON ref.RDB$CONSTRAINT_NAME = rc.RDB$CONSTRAINT_NAME
  LEFT JOIN RDB$RELATION_CONSTRAINTS rc2 ON rc2.RDB$CONSTRAINT_NAME = ref.RDB$CONST_NAME_UQ
  LEFT JOIN RDB$INDEX_SEGMENTS s2 ON s2.RDB$INDEX_NAME = rc2.RDB$INDEX_NAME
       AND s2.RDB$FIELD_POSITION = s.RDB$FIELD_POSITION
 WHERE rc.RDB$CONSTRAINT_TYPE IN ('PRIMARY KEY', 'FOREIGN KEY')
"""


class _Reader:
    """Read-only queries against one transaction (identifiers come from the system tables)."""

    def __init__(self, cur):
        self.cur = cur

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        self.cur.execute(sql, tuple(params))
        return self.cur.fetchall()

    def value(self, sql: str, params: Iterable[Any] = ()) -> Any:
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None


def q(name: str) -> str:
    """An identifier for SQL: bare when it is a plain upper-case name, else double-quoted."""
    return name if re.fullmatch(r"[A-Z][A-Z0-9_$]*", name) else '"' + name.replace('"', '""') + '"'


def read_schema(r: _Reader) -> Schema:
    columns: dict[str, list[Column]] = {}
    for table, name, ftype, subtype, length, scale in r.rows(_COLUMNS_SQL):
        if ftype in _INT_TYPES and scale:  # NUMERIC(p,s) stored as an integer: a money amount
            ftype = -ftype
        columns.setdefault(table, []).append(Column(table, name, ftype, subtype, length))
    primary: dict[str, list[str]] = {}
    foreign: dict[tuple[str, str], tuple[str, str]] = {}
    for table, kind, col, ref_table, ref_col in r.rows(_KEYS_SQL):
        if kind == "PRIMARY KEY":
            primary.setdefault(table, []).append(col)
        elif ref_table and ref_col:
            foreign[(table, col)] = (ref_table, ref_col)
    return Schema(columns, primary, foreign)


# -- the proposal ------------------------------------------------------------------------------
@dataclass
class Choice:
    """One way to read one thing (a Status, a PDF, an order id), with its evidence."""

    kind: str                   # status: 'column' | 'table'; pdf: 'blob_table' | 'blob_column' | 'path_column' | 'folder'; order: 'column'
    label: str                  # what the user picks, e.g. 'GM_FS.ID_STATUSU', 'folder C:/Wydruki/{number}.pdf'
    score: float
    evidence: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Proposal:
    status: list[Choice]
    pdf: list[Choice]
    order: list[Choice]
    statuses: list[tuple[int, str]] = field(default_factory=list)     # of the chosen status
    correction_link: str = ""
    notes: list[str] = field(default_factory=list)
    status_pick: int = 0
    default_pdf_table: bool = True      # GM_PDF (the default profile's PDF table) exists
    pdf_pick: int = 0
    order_pick: int = 0
    documents: int = 0

    @property
    def ambiguous(self) -> bool:
        """Two plausible Status columns: the user must choose."""
        if len(self.status) < 2 or self.status_pick_forced:
            return False
        return self.status[1].score >= self.status[0].score - 1.0 and self.status[1].score >= 3

    status_pick_forced: bool = False

    def chosen(self, what: str) -> Choice | None:
        items = getattr(self, what)
        index = getattr(self, f"{what}_pick")
        return items[index] if 0 <= index < len(items) else None


class ProposalError(RaksblError):
    """The database does not look like RaksSQL (or a requested choice does not exist)."""


def _few(n: int) -> bool:
    return 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14


def _verb(n: int, singular: str, plural: str) -> str:
    """Verb agreeing with "n z …": 1 ma, 2 mają, 5 ma (Polish numerals from 5 take the singular)."""
    return plural if _few(n) else singular


def _of(n: int, one: str, many: str) -> str:
    """Genitive after "z": z 1 dokumentu, z 2 dokumentów."""
    return one if n == 1 else many


def _docs(n: int) -> str:
    return f"{n} {_of(n, 'dokumentu', 'dokumentów')}"


def _count_pl(n: int, one: str, few: str, many: str) -> str:
    return f"{n} {one if n == 1 else few if _few(n) else many}"


def _pct(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)} %" if whole else "0 %"


def _count_upto(r: _Reader, table: str, limit: int) -> int:
    return int(r.value(f"SELECT COUNT(*) FROM (SELECT FIRST {int(limit)} 1 AS X FROM {q(table)})") or 0)


def _is_status_name(name: str) -> bool:
    # STAN alone or as a word part (STAN_BL, ID_STANU?) but not STANOWISKO (a workstation).
    return "STATUS" in name or re.search(r"(^|_)STAN($|_|U($|_))", name) is not None


def _count(r: _Reader, table: str) -> int:
    return int(r.value(f"SELECT COUNT(*) FROM {q(table)}") or 0)


def _link_column(schema: Schema, r: _Reader, table: str) -> tuple[str, str | None, str] | None:
    """(link column → GM_FS.ID, its type column or None, evidence) of a table keyed by document."""
    cols = schema.columns.get(table, [])
    link = next((c.name for c in cols if schema.foreign.get((table, c.name)) == (DOC_TABLE, DOC_KEY)), None)
    how = "klucz obcy do GM_FS.ID"
    if link is None:
        link = next((c.name for c in cols if c.name in _LINK_NAMES and c.is_int), None)
        how = "nazwa kolumny"
    if link is None:
        return None
    total = _count(r, table)
    found = int(r.value(
        f"SELECT COUNT(*) FROM {q(table)} t WHERE EXISTS (SELECT 1 FROM {DOC_TABLE} f WHERE f.{DOC_KEY} = t.{q(link)})"
    ) or 0)
    if total and found == 0:
        return None
    typ = next((c.name for c in cols if c.name in _TYPE_NAMES and c.is_text), None)
    ev = (f"{table}.{link} → GM_FS.ID ({how}; {found} z {total} {_of(total, 'wiersza', 'wierszy')} "
          f"{_verb(found, 'wskazuje', 'wskazują')} istniejący dokument)")
    return link, typ, ev


def _keyed_by_document(schema: Schema, table: str) -> bool:
    return any(schema.foreign.get((table, c.name)) == (DOC_TABLE, DOC_KEY) or c.name in _LINK_NAMES
               for c in schema.columns.get(table, ()))


def _dictionaries(schema: Schema, r: _Reader) -> list[tuple[str, str, str, dict[int, str]]]:
    """Small tables of (integer id, name): (table, id column, name column, {id: name})."""
    out = []
    for table, cols in schema.columns.items():
        if table in _DOCUMENT_TABLES or _keyed_by_document(schema, table):
            continue
        key = schema.primary.get(table, [])
        id_col = key[0] if len(key) == 1 else ("ID" if schema.has(table, "ID") else None)
        if id_col is None or not schema.column(table, id_col).is_int:
            continue
        name_col = next((n for n in _NAME_COLUMNS if schema.has(table, n) and schema.column(table, n).is_text), None)
        if name_col is None:
            name_col = next((c.name for c in cols if c.is_text), None)
        if name_col is None:
            continue
        if _count_upto(r, table, MAX_DICTIONARY_ROWS + 1) > MAX_DICTIONARY_ROWS:
            continue  # not a dictionary (and never a full scan of a big table)
        values = {int(i): str(n or "").strip() for i, n in r.rows(f"SELECT {q(id_col)}, {q(name_col)} FROM {q(table)}")
                  if i is not None}
        out.append((table, id_col, name_col, values))
    return out


def _status_candidate(schema, r, dictionaries, table, col: Column, link=None) -> Choice | None:
    src = f"{q(table)}"
    total, nonnull, distinct = r.rows(f"SELECT COUNT(*), COUNT({q(col.name)}), COUNT(DISTINCT {q(col.name)}) FROM {src}")[0]
    if not total or distinct > MAX_STATUS_VALUES:
        return None
    values = {int(v) for (v,) in r.rows(f"SELECT DISTINCT {q(col.name)} FROM {src} WHERE {q(col.name)} IS NOT NULL")}
    score = 0.0
    ev = [f"{col.label}: {col.type_name}, {distinct} "
          f"{_count_pl(distinct, 'różna wartość', 'różne wartości', 'różnych wartości').split(' ', 1)[1]}, "
          f"{_pct(nonnull, total)} niepustych"]
    if _is_status_name(col.name):
        score += 3
        ev.append("nazwa kolumny wskazuje status")
    fk = schema.foreign.get((table, col.name))
    best = None
    for d_table, d_id, d_name, d_values in dictionaries:
        if values and values <= set(d_values):
            rank = (fk == (d_table, d_id), "STATUS" in d_table, -len(d_values))
            if best is None or rank > best[0]:
                best = (rank, d_table, d_id, d_name, d_values)
    if best is not None:
        _, d_table, d_id, d_name, d_values = best
        score += 2 + (1 if "STATUS" in d_table else 0) + (2 if fk == (d_table, d_id) else 0)
        ev.append(f"wszystkie wartości są w {d_table}.{d_id} (słownik: {_count_pl(len(d_values), 'pozycja', 'pozycje', 'pozycji')}"
                  + (", klucz obcy" if fk == (d_table, d_id) else "") + ")")
    elif fk is not None:
        score += 1
        ev.append(f"klucz obcy do {fk[0]}.{fk[1]}")
    if distinct == 0:
        score -= 2
        ev.append("same puste wartości")
    elif distinct == 1:
        score -= 0.5  # a young installation may keep every document in one status
        ev.append("tylko jedna wartość")
    if nonnull < total / 2:
        score -= 1
    data = {"table": table, "column": col.name, "dictionary": best[1:4] if best else None,
            "names": dict(best[4]) if best else {v: f"Status {v}" for v in sorted(values)}}
    if link is not None:
        data.update(link=link[0], type_column=link[1])
        ev.append(link[2])
        score -= 0.5  # a column on the document itself is the simpler, more likely layout
    return Choice("table" if link else "column", col.label, score, ev, data)


def _status_choices(schema: Schema, r: _Reader) -> list[Choice]:
    dictionaries = _dictionaries(schema, r)
    out = []
    for col in schema.columns[DOC_TABLE]:
        if col.is_int and col.name not in _KNOWN_OTHER:
            c = _status_candidate(schema, r, dictionaries, DOC_TABLE, col)
            if c:
                out.append(c)
    for table, cols in schema.columns.items():
        if table in _DOCUMENT_TABLES:
            continue
        status_cols = [c for c in cols if c.is_int and _is_status_name(c.name)]
        if not status_cols:
            continue
        link = _link_column(schema, r, table)
        if link is None:
            continue
        for col in status_cols:
            c = _status_candidate(schema, r, dictionaries, table, col, link)
            if c:
                out.append(c)
    out.sort(key=lambda c: -c.score)
    return [c for c in out if c.score > 0]


def _pdf_count(r: _Reader, sql: str) -> tuple[int, int]:
    """(rows with a blob, those starting with %PDF-) for ``SELECT blob FROM ...`` (first 20)."""
    r.cur.execute(sql)
    n = pdf = 0
    for (blob,) in r.cur.fetchmany(20):
        if blob is None:
            continue
        if hasattr(blob, "read"):
            blob = blob.read(5)
        n += 1
        pdf += bytes(blob[:5]) == b"%PDF-"
    return n, pdf


def _pdf_choices(schema: Schema, r: _Reader, documents: int, folder: str, docs_sample: list[dict]) -> list[Choice]:
    out = []
    for table, cols in schema.columns.items():
        if table in _DOCUMENT_TABLES:
            continue
        blobs = [c for c in cols if c.is_binary_blob]
        if not blobs:
            continue
        link = _link_column(schema, r, table)
        if link is None:
            continue
        link_col, type_col, link_ev = link
        for col in blobs:
            covered = int(r.value(
                f"SELECT COUNT(*) FROM {DOC_TABLE} f WHERE EXISTS (SELECT 1 FROM {q(table)} p WHERE "
                f"p.{q(link_col)} = f.{DOC_KEY} AND p.{q(col.name)} IS NOT NULL"
                + (f" AND p.{q(type_col)} = f.{DOC_TYPE}" if type_col else "") + ")"
            ) or 0)
            n, pdf = _pdf_count(r, f"SELECT FIRST 20 {q(col.name)} FROM {q(table)} WHERE {q(col.name)} IS NOT NULL")
            score = covered + (documents if pdf else 0) * 0.1
            ev = [f"{col.label}: {col.type_name} w tabeli powiązanej z dokumentem; {link_ev}",
                  f"{covered} z {_docs(documents)} {_verb(covered, 'ma', 'mają')} tu plik; {pdf} z {n} sprawdzonych to PDF"]
            out.append(Choice("blob_table", col.label, score if pdf or not n else 0, ev,
                              {"table": table, "column": col.name, "link": link_col, "type_column": type_col}))
    for col in schema.columns[DOC_TABLE]:
        if col.is_binary_blob:
            covered = int(r.value(f"SELECT COUNT({q(col.name)}) FROM {DOC_TABLE}") or 0)
            n, pdf = _pdf_count(r, f"SELECT FIRST 20 {q(col.name)} FROM {DOC_TABLE} WHERE {q(col.name)} IS NOT NULL")
            ev = [f"{col.label}: {col.type_name} w tabeli dokumentów",
                  f"{covered} z {_docs(documents)} {_verb(covered, 'ma', 'mają')} tu plik; {pdf} z {n} sprawdzonych to PDF"]
            out.append(Choice("blob_column", col.label, covered if pdf or not n else 0, ev,
                              {"table": DOC_TABLE, "column": col.name}))
        elif col.is_text and (col.length or 0) >= 12 and col.name not in _KNOWN_OTHER:
            values = [str(v).strip() for (v,) in r.rows(
                f"SELECT FIRST {SAMPLE} {q(col.name)} FROM {DOC_TABLE} WHERE {q(col.name)} IS NOT NULL "
                f"AND TRIM({q(col.name)}) <> '' ORDER BY {DOC_KEY} DESC")]
            pdfs = [v for v in values if v.lower().endswith(".pdf")]
            if not pdfs or len(pdfs) < len(values) / 2:
                continue
            here = sum(1 for v in pdfs[:200] if _files.file_state(_files.resolve(folder, v)) is not None)
            ev = [f"{col.label}: {col.type_name}; {len(pdfs)} z {len(values)} wartości to ścieżki plików .pdf",
                  f"na tym komputerze {_verb(here, 'istnieje', 'istnieją')} {here} z {min(len(pdfs), 200)} sprawdzonych plików"
                  + (f" (ścieżki względne liczone od {folder})" if folder else "")]
            out.append(Choice("path_column", col.label, len(pdfs) * (1.0 if here else 0.9), ev,
                              {"table": DOC_TABLE, "column": col.name}))
    if folder:
        best = None
        for pattern in FOLDER_PATTERNS:
            found = sum(
                1 for d in docs_sample
                if _files.file_state(_files.resolve(folder, _files.pdf_file_name(pattern, **d))) is not None
            )
            if best is None or found > best[1]:
                best = (pattern, found)
        pattern, found = best
        ev = [f"folder {folder}: wzór {pattern} pasuje do {found} z {len(docs_sample)} sprawdzonych dokumentów"]
        out.append(Choice("folder", f"folder {folder} ({pattern})", found * documents / max(len(docs_sample), 1) * 1.01,
                          ev, {"folder": folder, "pattern": pattern}))
    out.sort(key=lambda c: -c.score)
    return out


def _order_choices(schema: Schema, r: _Reader, pending_where: str, pending_params: list) -> tuple[list[Choice], int]:
    cols = [c for c in schema.columns[DOC_TABLE] if (c.is_text or c.ftype in (8, 16)) and c.name not in _KNOWN_OTHER]
    pending = int(r.value(f"SELECT COUNT(*) FROM {DOC_TABLE} f {pending_where}", pending_params) or 0)
    out = []
    for col in cols:
        values = [v for (v,) in r.rows(
            f"SELECT FIRST {SAMPLE} f.{q(col.name)} FROM {DOC_TABLE} f WHERE f.{q(col.name)} IS NOT NULL "
            f"ORDER BY f.{DOC_KEY} DESC")]
        texts = [str(v).strip() for v in values if str(v).strip()]
        if not texts:
            continue
        looks = sum(1 for t in texts if len(_ORDER_ID_RUN.findall(t)) == 1)
        if looks == 0 and col.name != "SYGNATURA":  # SYGNATURA stays offered: it is where tools put it
            continue
        named = "BASELINKER" in col.name or _BL_WORD.search(col.name) or any(w in col.name for w in _ORDER_WORDS)
        own = col.ftype in (8, 16) or all(t.isdigit() for t in texts)
        pending_rows = [v for (v,) in r.rows(f"SELECT f.{q(col.name)} FROM {DOC_TABLE} f {pending_where}", pending_params)]
        pending_ok = sum(1 for v in pending_rows if v is not None and len(_ORDER_ID_RUN.findall(str(v))) == 1)
        share = looks / len(texts)
        score = share * 10 + (2 if named else 0) + (1 if own else 0)
        if any(w in col.name for w in _NOT_ORDER):
            score -= 8  # phone numbers, bank accounts, tax ids: digits, but never an order
        ev = [f"{col.label}: {col.type_name}; {looks} z {len(texts)} niepustych wartości {_verb(looks, 'wygląda', 'wyglądają')} na numer "
              f"zamówienia BaseLinker (6–12 cyfr)",
              f"{pending_ok} z {_docs(pending)} do wysłania {_verb(pending_ok, 'dostaje', 'dostają')} numer zamówienia"]
        if own:
            ev.append("kolumna przeznaczona na sam numer")
        one_run = all(len(re.findall(r"\d+", t)) == 1 for t in texts)
        out.append(Choice("column", col.label, score, ev, {"column": col.name, "own": own, "integer": col.ftype in (8, 16),
                                                          "one_run": one_run,
                                                          "pending_ok": pending_ok}))
    out.sort(key=lambda c: -c.score)
    return out, pending


_TO_SEND = re.compile(r"^\s*(do\s+wys[lły]|do\s+bl\b|do\s+baselinker|do\s+eksport|oczekuj)", re.IGNORECASE)
_SENT = re.compile(r"wys[lł]an(y|o|e|a)?\b|wyeksportowan|w\s+baselinker", re.IGNORECASE)
_ERROR = re.compile(r"b[lł][aą]d", re.IGNORECASE)


def status_roles(names: dict[int, str]) -> dict[str, int]:
    """Status ids guessed from their names: to_send, after_send, on_error (those found)."""
    out: dict[str, int] = {}
    for sid, name in sorted(names.items()):
        if _ERROR.search(name):
            out.setdefault("on_error", sid)
        elif _TO_SEND.search(name):
            out.setdefault("to_send", sid)
        elif _SENT.search(name):
            out.setdefault("after_send", sid)
    return out


def propose(conn, raks_settings, *, folder: str = "", status: str = "", pdf: str = "", order: str = "") -> Proposal:
    """Examine the database (read only) and propose a profile; ``status``/``pdf``/``order`` force a
    candidate by its label (``--status GM_FS.X``)."""
    from agent.raks.connection import read_only_transaction

    tr = read_only_transaction(conn)
    try:
        cur = tr.cursor()
        r = _Reader(cur)
        schema = read_schema(r)
        if not schema.has(DOC_TABLE, DOC_KEY) or not schema.has(DOC_TABLE, DOC_TYPE):
            raise ProposalError("W bazie nie ma tabeli GM_FS (faktury i paragony RaksSQL) — to nie jest baza firmy RaksSQL?")
        documents = _count(r, DOC_TABLE)
        folder = folder or (raks_settings.pdf_folder if getattr(raks_settings, "pdf_source", "") == "folder" else "")
        statuses = _status_choices(schema, r)
        prop = Proposal(statuses, [], [], documents=documents,
                        default_pdf_table=schema.has("GM_PDF", "PLIK") and schema.has("GM_PDF", "ID_DOK"))
        if status:
            prop.status_pick = _pick(statuses, status, "--status")
            prop.status_pick_forced = True
        st = prop.chosen("status")
        to_send = list(getattr(raks_settings, "statuses_to_send", (2,)))
        if st is not None:
            roles = status_roles(st.data["names"])
            if "to_send" in roles:
                to_send = [roles["to_send"]]
            prop.statuses = sorted(st.data["names"].items())
        where, params = _pending_filter(st, to_send)
        sample_rows = r.rows(
            f"SELECT FIRST {SAMPLE} f.{DOC_KEY}, f.{DOC_TYPE}, f.NUMER, f.DATA_WYSTAWIENIA FROM {DOC_TABLE} f "
            f"ORDER BY f.{DOC_KEY} DESC") if folder else []
        docs_sample = [{"raks_id": int(i), "doc_type": str(t).strip(), "number": str(n).strip(),
                        "issue_date": d.date() if hasattr(d, "date") else d} for i, t, n, d in sample_rows]
        prop.pdf = _pdf_choices(schema, r, documents, folder, docs_sample)
        if pdf:
            prop.pdf_pick = _pick(prop.pdf, pdf, "--pdf")
        prop.order, pending = _order_choices(schema, r, where, params)
        if order:
            prop.order_pick = _pick(prop.order, order, "--order-id")
        prop.correction_link = _correction_link(schema, r)
        if st is not None:
            roles = status_roles(st.data["names"])
            for role, key, what in (("to_send", "raks.statuses_to_send", "„do wysłania”"),
                                    ("after_send", "raks.status_after_send", "„wysłany”")):
                if role not in roles:
                    prop.notes.append(f"Nie rozpoznano po nazwie statusu {what} w słowniku — sprawdź {key} "
                                      "(zostaje obecna wartość).")
        if not prop.status:
            prop.notes.append("Nie znaleziono kolumny statusu: dodaj w RaksSQL pole statusu dokumentu (liczba, "
                              "słownik statusów) albo wpisz zapytania ręcznie.")
        if not prop.pdf:
            prop.notes.append("Nie znaleziono PDF w bazie: jeśli RaksSQL zapisuje wydruki do folderu, podaj go "
                              "(--pdf-folder FOLDER).")
        if not prop.order:
            prop.notes.append("Nie znaleziono kolumny z numerami zamówień BaseLinker (6–12 cyfr).")
        cur.close()
        tr.commit()
    finally:
        tr.close()
    return prop


def _pick(choices: list[Choice], label: str, option: str) -> int:
    wanted = label.strip().upper()
    for i, c in enumerate(choices):
        if c.label.upper() == wanted or c.label.upper().startswith(wanted):
            return i
    known = ", ".join(c.label for c in choices) or "brak"
    raise ProposalError(f"{option} {label}: nie ma takiego kandydata (są: {known}).")


def _pending_filter(st: Choice | None, to_send: list[int]) -> tuple[str, list]:
    if st is None or not to_send:
        return "", []
    marks = ", ".join("?" for _ in to_send)
    if st.kind == "column":
        return f"WHERE f.{q(st.data['column'])} IN ({marks})", list(to_send)
    d = st.data
    cond = f"s.{q(d['link'])} = f.{DOC_KEY}" + (f" AND s.{q(d['type_column'])} = f.{DOC_TYPE}" if d["type_column"] else "")
    return (f"WHERE EXISTS (SELECT 1 FROM {q(d['table'])} s WHERE {cond} AND s.{q(d['column'])} IN ({marks}))",
            list(to_send))


def _correction_link(schema: Schema, r: _Reader) -> str:
    if CORRECTION_TABLE not in schema.columns:
        return "brak tabeli korekt GM_KS"
    cols = schema.columns[CORRECTION_TABLE]
    link = next((c.name for c in cols if schema.foreign.get((CORRECTION_TABLE, c.name)) == (DOC_TABLE, DOC_KEY)), None)
    how = "klucz obcy"
    if link is None:
        link = next((c.name for c in cols if c.name in ("ID_FS", "ID_FAKTURY", "ID_DOK_KORYGOWANEGO")), None)
        how = "nazwa kolumny"
    if link is None:
        return "GM_KS: nie znaleziono kolumny wskazującej fakturę"
    total = _count(r, CORRECTION_TABLE)
    found = int(r.value(f"SELECT COUNT(*) FROM {CORRECTION_TABLE} k JOIN {DOC_TABLE} f ON f.{DOC_KEY} = k.{q(link)}") or 0)
    return (f"GM_KS.{link} → GM_FS.ID ({how}; {found} z {total} {_of(total, 'korekty', 'korekt')} "
            f"{_verb(found, 'wskazuje', 'wskazują')} istniejącą fakturę)")


# -- from choices to settings ---------------------------------------------------------------------
def build_changes(prop: Proposal, current) -> dict[str, Any]:
    """Settings keys (``raks.…``, ``raks.queries.…``) for the chosen candidates.

    Statements equal to the defaults are not written (an override of one is removed: value None).
    """
    st, pdf, order = prop.chosen("status"), prop.chosen("pdf"), prop.chosen("order")
    changes: dict[str, Any] = {}
    if st is not None:
        roles = status_roles(st.data["names"])
        if "to_send" in roles:
            changes["raks.statuses_to_send"] = [roles["to_send"]]
        if "after_send" in roles:
            changes["raks.status_after_send"] = roles["after_send"]
        on_error = getattr(current, "status_on_error", 0)
        if on_error and on_error not in st.data["names"]:
            # The old error status does not exist in this dictionary: never write a foreign id.
            changes["raks.status_on_error"] = roles.get("on_error", 0)
    status_sql = _status_sql(st)
    order_ref, pattern = "f.SYGNATURA", r"\d+"
    if order is not None:
        c = order.data["column"]
        if order.data["integer"]:
            order_ref, pattern = f"CAST(f.{q(c)} AS VARCHAR(20))", r"\d+"
        else:
            order_ref = f"f.{q(c)}"
            # Free text with other digits too ("WZ 12/2026 BL 12345678"): take the long run only.
            pattern = r"\d+" if order.data["one_run"] else r"(?<!\d)\d{6,12}(?!\d)"
    changes["raks.order_id_pattern"] = pattern
    pdf_join, has_pdf, pdf_size, pdf_extra, document_pdf = _pdf_sql(pdf, prop.default_pdf_table)
    if pdf is not None and pdf.kind == "folder":
        changes.update({"raks.pdf_source": "folder", "raks.pdf_folder": pdf.data["folder"],
                        "raks.pdf_file_pattern": pdf.data["pattern"]})
    else:
        changes["raks.pdf_source"] = "database"
    pending = f"""
SELECT f.ID,
       f.TYP_DOK_MAGAZYNOWEGO AS TYP,
       f.NUMER,
       f.DATA_WYSTAWIENIA,
       {order_ref} AS ORDER_REF,
       {_as(status_sql['value'], 'ID_STATUSU')},
       COALESCE(NULLIF(TRIM(f.NAZWA_PELNA_PLATNIKA), ''), f.NAZWA_SKROCONA_PLATNIKA) AS NAZWA_PLATNIKA,
       f.NIP_PLATNIKA,
       COALESCE(f.WAL_WARTOSC_BRUTTO, f.PLN_WARTOSC_BRUTTO) AS BRUTTO,
       f.ID_WALUTY AS WALUTA,
       {has_pdf} AS HAS_PDF,
       {pdf_size} AS PDF_SIZE{pdf_extra}
  FROM GM_FS f{status_sql['join']}{pdf_join}
 WHERE f.TYP_DOK_MAGAZYNOWEGO = ?
   AND {status_sql['value']} = ?
   AND f.DATA_WYSTAWIENIA >= ?
 ORDER BY f.DATA_WYSTAWIENIA, f.ID
""".strip()
    queries = {
        _profile.PENDING_DOCUMENTS: pending,
        _profile.DOCUMENT_PDF: document_pdf,
        _profile.LOCK_DOCUMENT: status_sql["lock"],
        _profile.SET_STATUS: status_sql["set"],
        _profile.STATUSES: status_sql["statuses"],
        _profile.STATUS_COUNTS: status_sql["counts"],
    }
    existing = dict(getattr(current, "queries", {}) or {})
    for name, sql in queries.items():
        if sql is None or _norm(sql) == _norm(_profile.DEFAULT_QUERIES[name]):
            if name in existing:
                changes[f"raks.queries.{name}"] = None
        else:
            changes[f"raks.queries.{name}"] = sql
    return changes


def _as(expr: str, name: str) -> str:
    """``expr AS name``, or just ``expr`` when it already is a column of that name."""
    return expr if expr.split(".")[-1] == name else f"{expr} AS {name}"


def _norm(sql: str) -> str:
    return " ".join(sql.split())


def _status_sql(st: Choice | None) -> dict[str, str]:
    if st is None:
        return {"value": "f.ID_STATUSU", "join": "", "lock": _profile.DEFAULT_QUERIES[_profile.LOCK_DOCUMENT],
                "set": _profile.DEFAULT_QUERIES[_profile.SET_STATUS],
                "statuses": _profile.DEFAULT_QUERIES[_profile.STATUSES],
                "counts": _profile.DEFAULT_QUERIES[_profile.STATUS_COUNTS]}
    d = st.data
    col = q(d["column"])
    dictionary = d["dictionary"]
    if dictionary:
        d_table, d_id, d_name = dictionary
        statuses = (f"SELECT {_as('s.' + q(d_id), 'ID')}, {_as('s.' + q(d_name), 'NAZWA')} FROM {q(d_table)} s "
                    f"ORDER BY s.{q(d_id)}")
    else:
        src = DOC_TABLE if st.kind == "column" else q(d["table"])
        statuses = (f"SELECT DISTINCT s.{col} AS ID, 'Status ' || s.{col} AS NAZWA FROM {src} s "
                    f"WHERE s.{col} IS NOT NULL ORDER BY 1")
    if st.kind == "column":
        return {
            "value": f"f.{col}",
            "join": "",
            "lock": f"SELECT {_as('f.' + col, 'ID_STATUSU')}\n  FROM GM_FS f\n WHERE f.TYP_DOK_MAGAZYNOWEGO = ? AND f.ID = ?\n  WITH LOCK",
            "set": f"UPDATE GM_FS\n   SET {col} = ?\n WHERE TYP_DOK_MAGAZYNOWEGO = ? AND ID = ?\n   AND {col} IS NOT DISTINCT FROM ?",
            "statuses": statuses,
            "counts": f"SELECT {_as('f.' + col, 'ID_STATUSU')}, f.TYP_DOK_MAGAZYNOWEGO AS TYP, COUNT(*) AS ILE\n  FROM GM_FS f\n"
                      f" GROUP BY f.{col}, f.TYP_DOK_MAGAZYNOWEGO",
        }
    table, link, typ = q(d["table"]), q(d["link"]), d["type_column"]
    on = f"s.{link} = f.ID" + (f" AND s.{q(typ)} = f.TYP_DOK_MAGAZYNOWEGO" if typ else "")
    # The parameter order is fixed (doc_type, raks_id): without a type column keep it harmlessly.
    typ_cond = f"{q(typ)} = ?" if typ else "CAST(? AS VARCHAR(2)) IS NOT NULL"
    return {
        "value": f"s.{col}",
        "join": f"\n  JOIN {table} s ON {on}",
        "lock": f"SELECT {_as(col, 'ID_STATUSU')}\n  FROM {table}\n WHERE {typ_cond} AND {link} = ?\n  WITH LOCK",
        "set": f"UPDATE {table}\n   SET {col} = ?\n WHERE {typ_cond} AND {link} = ?\n   AND {col} IS NOT DISTINCT FROM ?",
        "statuses": statuses,
        "counts": f"SELECT {_as('s.' + col, 'ID_STATUSU')}, f.TYP_DOK_MAGAZYNOWEGO AS TYP, COUNT(*) AS ILE\n  FROM GM_FS f\n"
                  f"  LEFT JOIN {table} s ON {on}\n GROUP BY s.{col}, f.TYP_DOK_MAGAZYNOWEGO",
    }


_NO_PDF = ("SELECT CAST(NULL AS BLOB SUB_TYPE BINARY) AS PLIK\n  FROM RDB$DATABASE\n"
           " WHERE CAST(? AS VARCHAR(2)) IS NOT NULL AND CAST(? AS INTEGER) IS NOT NULL")


def _pdf_sql(pdf: Choice | None, default_table: bool = True) -> tuple[str, str, str, str, str | None]:
    """(join, HAS_PDF expr, PDF_SIZE expr, extra output, document_pdf statement or None)."""
    default = _profile.DEFAULT_QUERIES[_profile.DOCUMENT_PDF]
    if pdf is None and not default_table:
        # No PDF anywhere in this database (yet): every document says "brak PDF" until a folder is given.
        return ("", "0", "CAST(NULL AS INTEGER)", "", _NO_PDF)
    if pdf is None:
        return ("\n  LEFT JOIN GM_PDF p ON p.TYP_DOK = f.TYP_DOK_MAGAZYNOWEGO AND p.ID_DOK = f.ID",
                "CASE WHEN p.PLIK IS NULL THEN 0 ELSE 1 END", "OCTET_LENGTH(p.PLIK)", "", default)
    d = pdf.data
    if pdf.kind == "blob_table":
        table, col, link, typ = q(d["table"]), q(d["column"]), q(d["link"]), d["type_column"]
        on = (f"p.{q(typ)} = f.TYP_DOK_MAGAZYNOWEGO AND " if typ else "") + f"p.{link} = f.ID"
        where = (f"p.{q(typ)} = ?" if typ else "CAST(? AS VARCHAR(2)) IS NOT NULL") + f" AND p.{link} = ?"
        return (f"\n  LEFT JOIN {table} p ON {on}", f"CASE WHEN p.{col} IS NULL THEN 0 ELSE 1 END",
                f"OCTET_LENGTH(p.{col})", "",
                f"SELECT {_as('p.' + col, 'PLIK')}\n  FROM {table} p\n WHERE {where}")
    if pdf.kind == "blob_column":
        col = q(d["column"])
        return ("", f"CASE WHEN f.{col} IS NULL THEN 0 ELSE 1 END", f"OCTET_LENGTH(f.{col})", "",
                f"SELECT {_as('f.' + col, 'PLIK')}\n  FROM GM_FS f\n WHERE f.TYP_DOK_MAGAZYNOWEGO = ? AND f.ID = ?")
    if pdf.kind == "path_column":
        col = q(d["column"])
        return ("", f"CASE WHEN TRIM(COALESCE(f.{col}, '')) = '' THEN 0 ELSE 1 END", "CAST(NULL AS INTEGER)",
                f",\n       f.{col} AS PDF_PATH",
                f"SELECT f.{col} AS PDF_PATH\n  FROM GM_FS f\n WHERE f.TYP_DOK_MAGAZYNOWEGO = ? AND f.ID = ?")
    # folder: the files are found by name; the statement is not used (keep the default text).
    return ("", "0", "CAST(NULL AS INTEGER)", "", None)


# -- the text the user reads ----------------------------------------------------------------------
def _toml_string(value: str) -> str:
    if "\n" in value:
        if "'''" not in value:
            return "'''\n" + value + "'''"
        return '"""\n' + value.replace("\\", "\\\\").replace('"""', '\\"\\"\\"') + '"""'
    if "'" not in value:
        return "'" + value + "'"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return _toml_string(str(value))


def render(prop: Proposal, changes: dict[str, Any]) -> str:
    """The proposal as the user reads it: the choices with evidence, then the TOML to be written."""
    lines = ["Propozycja profilu na podstawie bazy (tylko odczyt).", ""]
    for title, what in (("Status dokumentu", "status"), ("PDF dokumentu", "pdf"), ("Numer zamówienia BaseLinker", "order")):
        items = getattr(prop, what)
        chosen = prop.chosen(what)
        lines.append(f"{title}:")
        if chosen is None:
            lines.append("  nie znaleziono")
        else:
            lines.append(f"  wybrano: {chosen.label}")
            lines += [f"    - {e}" for e in chosen.evidence]
        for c in items:
            if c is chosen:
                continue
            lines.append(f"  odrzucono: {c.label} (ocena {c.score:.1f}, wybrany {chosen.score:.1f})" if chosen else
                         f"  kandydat: {c.label}")
            lines += [f"    - {e}" for e in c.evidence]
        if what == "status" and prop.ambiguous:
            a, b = prop.status[0], prop.status[1]
            lines.append(f"  NIEJEDNOZNACZNE: {a.label} i {b.label} wyglądają na status równie prawdopodobnie.")
            lines.append(f"  Wskaż właściwą kolumnę: raksbl inspect-db --propose --status {a.label} (albo {b.label}).")
        if what == "status" and prop.statuses:
            lines.append("  słownik: " + ", ".join(f"{i} „{n}”" for i, n in prop.statuses))
        lines.append("")
    lines.append(f"Korekty (KS → faktura): {prop.correction_link}")
    for note in prop.notes:
        lines.append(f"UWAGA: {note}")
    lines += ["", "# --- tak zostanie zapisane w pliku ustawień (raksbl inspect-db --propose --write) ---", "[raks]"]
    for key, value in changes.items():
        if key.startswith("raks.queries."):
            continue
        lines.append(f"{key.split('.', 1)[1]} = {toml_value(value)}")
    queries = {k.split(".")[-1]: v for k, v in changes.items() if k.startswith("raks.queries.")}
    if queries:
        lines += ["", "[raks.queries]"]
        for name, sql in queries.items():
            lines.append(f"# {name}: usunięte (domyślne zapytanie pasuje)" if sql is None else f"{name} = {toml_value(sql)}")
    return "\n".join(lines)


def apply(raks_settings, changes: dict[str, Any]):
    """``raks_settings`` with ``changes`` applied (for the preview, nothing is written)."""
    values: dict[str, Any] = {}
    queries = dict(getattr(raks_settings, "queries", {}) or {})
    for key, value in changes.items():
        parts = key.split(".")
        if parts[:2] == ["raks", "queries"]:
            if value is None:
                queries.pop(parts[2], None)
            else:
                queries[parts[2]] = value
        else:
            values[parts[1]] = tuple(value) if isinstance(value, list) else value
    values["queries"] = queries
    return dataclasses.replace(raks_settings, **values)


# -- for the settings dialog's assistant -----------------------------------------------------------
def propose_database(raks_settings, password: str, **choices: str) -> Proposal:
    """Connect (without checking the current profile, which may not fit yet), propose, close."""
    from agent.raks.connection import open_connection

    conn, _ = open_connection(raks_settings.database, raks_settings.user, password,
                              charset=raks_settings.charset or "WIN1250",
                              client_library=raks_settings.client_library or "")
    try:
        return propose(conn, raks_settings, **choices)
    finally:
        conn.close()


@dataclass(frozen=True)
class PreviewRow:
    doc_type: str
    number: str
    order: str            # the order id, or what is wrong
    pdf: str              # "12,3 KB", or what is wrong
    ok: bool


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    return f"{n / 1024:.1f} KB".replace(".", ",") if n < 1024 * 1024 else f"{n / 1048576:.1f} MB".replace(".", ",")


def preview(raks_settings, password: str, limit: int = 10) -> tuple[int, list[PreviewRow]]:
    """(pending count, the first ``limit`` pending documents as the agent would read them).

    Reads the PDFs too (that is where a wrong source shows); a ProfileError names a statement
    that does not work with these choices.
    """
    from agent.raks.repository import RaksRepository

    rows = []
    with RaksRepository(raks_settings, password) as repo:
        docs = repo.pending_documents()
        for doc in docs[:limit]:
            if doc.order_id is not None:
                order = str(doc.order_id)
            else:
                order = f"brak — w „{doc.order_ref}” nie ma numeru" if doc.order_ref else "brak — puste pole"
            ok = doc.order_id is not None
            if not doc.has_pdf:
                pdf, ok = (f"brak pliku {doc.pdf_path}" if doc.pdf_path else "brak PDF"), False
            else:
                try:
                    data = repo.read_pdf(doc)
                except (_files.PdfFileProblem, _files.PdfNotReady) as exc:
                    pdf, ok = str(exc), False
                else:
                    if not data:
                        pdf, ok = "PDF pusty", False
                    elif not data.startswith(b"%PDF-"):
                        pdf, ok = "to nie jest PDF", False
                    else:
                        pdf = _size(len(data))
            rows.append(PreviewRow(doc.doc_type, doc.number, order, pdf, ok))
    return len(docs), rows
