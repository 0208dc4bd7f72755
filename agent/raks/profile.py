"""The profile: the named SQL statements through which the agent reads and writes RaksSQL.

Where a RaksSQL installation keeps the document Status, the generated PDF and the link to the
BaseLinker order differs between installations, so the agent never builds SQL itself: it runs
these statements. Each has a fixed contract: its inputs are ``?`` parameters bound **in the
order listed** and a SELECT must return the listed **output columns** (by name, use ``AS``;
extra columns are ignored). Every parameter must appear exactly once (the agent checks the
count when it connects); to ignore one, keep it harmlessly, e.g. ``AND CAST(? AS DATE) IS NOT
NULL``. The defaults target the default layout (``docs/rakssql.md``);
an installer overrides any of them in the settings file::

    [raks.queries]
    document_pdf = "SELECT w.DANE AS PLIK FROM MOJE_WYDRUKI w WHERE w.RODZAJ = ? AND w.ID_DOK = ?"

``pending_documents`` — params: ``doc_type`` (str, 'FS'/'PA'), ``status_id`` (int),
    ``not_before`` (date; 1900-01-01 when no cut-over date is set).
    Run once per (document type, "to send" status) pair, so no list is ever bound.
    Outputs: ``ID`` (int), ``TYP`` (str), ``NUMER`` (str), ``DATA_WYSTAWIENIA`` (date or
    timestamp), ``ORDER_REF`` (str, the text holding the BaseLinker order id), ``ID_STATUSU``
    (int), ``NAZWA_PLATNIKA`` (str), ``NIP_PLATNIKA`` (str), ``BRUTTO`` (numeric, gross total in
    the document currency), ``WALUTA`` (currency code such as 'PLN'/'EUR', or the numeric
    ID_WALUTY where 0/NULL means PLN), ``HAS_PDF`` (0/1), ``PDF_SIZE`` (int or NULL).
    Optional ``PDF_PATH`` (str): the path of the printout file, when RaksSQL stores a path
    instead of the file (relative paths are under ``raks.pdf_folder``); the agent then checks
    the file itself. With ``raks.pdf_source = "folder"`` ``HAS_PDF``/``PDF_SIZE`` are not needed
    (the agent looks for ``pdf_folder``/``pdf_file_pattern``).
    Must return documents **with and without** a PDF (the agent reports "brak PDF").
``document_pdf`` — params: ``doc_type``, ``raks_id``. Output: ``PLIK`` (binary blob) or
    ``PDF_PATH`` (path of the printout file); no row or NULL means "no PDF". Not used with
    ``raks.pdf_source = "folder"``.
``lock_document`` — params: ``doc_type``, ``raks_id``. Output: ``ID_STATUSU``. Must end with
    ``WITH LOCK``: the row lock is what keeps two agents from exporting one document at once.
``set_status`` — params: ``new_status``, ``doc_type``, ``raks_id``, ``expected_status``. A
    conditional UPDATE that changes the row only while its status is still ``expected_status``
    (use ``IS NOT DISTINCT FROM`` so NULL works); the agent reads the affected-row count.
``statuses`` — no params. Outputs: ``ID``, ``NAZWA`` (the status dictionary).
``status_counts`` — no params. Outputs: ``ID_STATUSU`` (int or NULL), ``TYP``, ``ILE``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from agent.raks.errors import ProfileError

# BaseLinker order ids are integers; accept anything a signed 64-bit integer holds.
MAX_ORDER_ID = 2**63 - 1

PENDING_DOCUMENTS = "pending_documents"
DOCUMENT_PDF = "document_pdf"
LOCK_DOCUMENT = "lock_document"
SET_STATUS = "set_status"
STATUSES = "statuses"
STATUS_COUNTS = "status_counts"
# Corrections (KS) live in their own table (GM_KS in the default layout): their own statements.
PENDING_CORRECTIONS = "pending_corrections"
LOCK_CORRECTION = "lock_correction"
SET_CORRECTION_STATUS = "set_correction_status"

#: The statement a document type uses instead of the FS/PA one (same outputs plus extras).
CORRECTION_STATEMENTS: Mapping[str, str] = MappingProxyType({
    PENDING_DOCUMENTS: PENDING_CORRECTIONS, LOCK_DOCUMENT: LOCK_CORRECTION, SET_STATUS: SET_CORRECTION_STATUS,
})


def statement_for(name: str, doc_type: str) -> str:
    """The profile statement ``name`` for documents of ``doc_type`` (KS has its own)."""
    return CORRECTION_STATEMENTS.get(name, name) if doc_type == "KS" else name


@dataclass(frozen=True)
class StatementSpec:
    name: str
    params: tuple[str, ...]
    outputs: tuple[str, ...]          # empty for a DML statement
    description: str


SPECS: Mapping[str, StatementSpec] = MappingProxyType(
    {
        PENDING_DOCUMENTS: StatementSpec(
            PENDING_DOCUMENTS,
            ("doc_type", "status_id", "not_before"),
            ("ID", "TYP", "NUMER", "DATA_WYSTAWIENIA", "ORDER_REF", "ID_STATUSU", "NAZWA_PLATNIKA",
             "NIP_PLATNIKA", "BRUTTO", "WALUTA", "HAS_PDF", "PDF_SIZE"),
            "dokumenty do wysłania",
        ),
        DOCUMENT_PDF: StatementSpec(DOCUMENT_PDF, ("doc_type", "raks_id"), ("PLIK",), "PDF dokumentu"),
        LOCK_DOCUMENT: StatementSpec(
            LOCK_DOCUMENT, ("doc_type", "raks_id"), ("ID_STATUSU",), "blokada dokumentu"
        ),
        SET_STATUS: StatementSpec(
            SET_STATUS, ("new_status", "doc_type", "raks_id", "expected_status"), (), "zmiana statusu"
        ),
        PENDING_CORRECTIONS: StatementSpec(
            PENDING_CORRECTIONS,
            ("status_id", "not_before"),
            ("ID", "NUMER", "DATA_WYSTAWIENIA", "ORDER_REF", "ID_STATUSU", "NAZWA_PLATNIKA",
             "NIP_PLATNIKA", "BRUTTO", "WALUTA", "HAS_PDF", "PDF_SIZE", "FS_NUMER"),
            "korekty do wysłania",
        ),
        LOCK_CORRECTION: StatementSpec(LOCK_CORRECTION, ("raks_id",), ("ID_STATUSU",), "blokada korekty"),
        SET_CORRECTION_STATUS: StatementSpec(
            SET_CORRECTION_STATUS, ("new_status", "raks_id", "expected_status"), (), "zmiana statusu korekty"
        ),
        STATUSES: StatementSpec(STATUSES, (), ("ID", "NAZWA"), "słownik statusów"),
        STATUS_COUNTS: StatementSpec(STATUS_COUNTS, (), ("ID_STATUSU", "TYP", "ILE"), "liczba dokumentów wg statusu"),
    }
)

DEFAULT_QUERIES: Mapping[str, str] = MappingProxyType(
    {
        PENDING_DOCUMENTS: """
SELECT f.ID,
       f.TYP_DOK_MAGAZYNOWEGO AS TYP,
       f.NUMER,
       f.DATA_WYSTAWIENIA,
       f.SYGNATURA AS ORDER_REF,
       f.ID_STATUSU,
       COALESCE(NULLIF(TRIM(f.NAZWA_PELNA_PLATNIKA), ''), f.NAZWA_SKROCONA_PLATNIKA) AS NAZWA_PLATNIKA,
       f.NIP_PLATNIKA,
       COALESCE(f.WAL_WARTOSC_BRUTTO, f.PLN_WARTOSC_BRUTTO) AS BRUTTO,
       f.ID_WALUTY AS WALUTA,
       CASE WHEN p.PLIK IS NULL THEN 0 ELSE 1 END AS HAS_PDF,
       OCTET_LENGTH(p.PLIK) AS PDF_SIZE
  FROM GM_FS f
  LEFT JOIN GM_PDF p ON p.TYP_DOK = f.TYP_DOK_MAGAZYNOWEGO AND p.ID_DOK = f.ID
 WHERE f.TYP_DOK_MAGAZYNOWEGO = ?
   AND f.ID_STATUSU = ?
   AND f.DATA_WYSTAWIENIA >= ?
 ORDER BY f.DATA_WYSTAWIENIA, f.ID
""".strip(),
        DOCUMENT_PDF: """
SELECT p.PLIK
  FROM GM_PDF p
 WHERE p.TYP_DOK = ? AND p.ID_DOK = ?
""".strip(),
        LOCK_DOCUMENT: """
SELECT f.ID_STATUSU
  FROM GM_FS f
 WHERE f.TYP_DOK_MAGAZYNOWEGO = ? AND f.ID = ?
  WITH LOCK
""".strip(),
        SET_STATUS: """
UPDATE GM_FS
   SET ID_STATUSU = ?
 WHERE TYP_DOK_MAGAZYNOWEGO = ? AND ID = ?
   AND ID_STATUSU IS NOT DISTINCT FROM ?
""".strip(),
        # A correction's order is its invoice's: the KS's own SYGNATURA may be empty. FS_NUMER
        # (the corrected invoice's number) finds the original among the order's BaseLinker
        # invoices; PRZYCZYNA (optional) is the reason, sent only as part of the KS PDF.
        PENDING_CORRECTIONS: """
SELECT k.ID,
       k.NUMER,
       k.DATA_WYSTAWIENIA,
       COALESCE(NULLIF(TRIM(k.SYGNATURA), ''), f.SYGNATURA) AS ORDER_REF,
       k.ID_STATUSU,
       COALESCE(NULLIF(TRIM(k.NAZWA_PELNA_PLATNIKA), ''), k.NAZWA_SKROCONA_PLATNIKA) AS NAZWA_PLATNIKA,
       k.NIP_PLATNIKA,
       COALESCE(k.WAL_WARTOSC_BRUTTO, k.PLN_WARTOSC_BRUTTO) AS BRUTTO,
       k.ID_WALUTY AS WALUTA,
       CASE WHEN p.PLIK IS NULL THEN 0 ELSE 1 END AS HAS_PDF,
       OCTET_LENGTH(p.PLIK) AS PDF_SIZE,
       f.NUMER AS FS_NUMER
  FROM GM_KS k
  LEFT JOIN GM_FS f ON f.ID = k.ID_FS
  LEFT JOIN GM_PDF p ON p.TYP_DOK = 'KS' AND p.ID_DOK = k.ID
 WHERE k.ID_STATUSU = ?
   AND k.DATA_WYSTAWIENIA >= ?
 ORDER BY k.DATA_WYSTAWIENIA, k.ID
""".strip(),
        LOCK_CORRECTION: """
SELECT k.ID_STATUSU
  FROM GM_KS k
 WHERE k.ID = ?
  WITH LOCK
""".strip(),
        SET_CORRECTION_STATUS: """
UPDATE GM_KS
   SET ID_STATUSU = ?
 WHERE ID = ?
   AND ID_STATUSU IS NOT DISTINCT FROM ?
""".strip(),
        STATUSES: "SELECT s.ID, s.NAZWA FROM GM_STATUSY_DOK s ORDER BY s.ID",
        STATUS_COUNTS: """
SELECT f.ID_STATUSU, f.TYP_DOK_MAGAZYNOWEGO AS TYP, COUNT(*) AS ILE
  FROM GM_FS f
 GROUP BY f.ID_STATUSU, f.TYP_DOK_MAGAZYNOWEGO
""".strip(),
    }
)

def required_outputs(name: str, *, pdf_from_folder: bool = False) -> tuple[str, ...]:
    """The output columns a statement must return (PDF columns are not needed from a folder)."""
    outputs = SPECS[name].outputs
    if name in (PENDING_DOCUMENTS, PENDING_CORRECTIONS) and pdf_from_folder:
        outputs = tuple(c for c in outputs if c not in ("HAS_PDF", "PDF_SIZE"))
    return outputs


_WITH_LOCK = re.compile(r"\bWITH\s+LOCK\b", re.IGNORECASE)


def query_key(name: str) -> str:
    """The settings key of a statement, for messages: ``raks.queries.<name>``."""
    return f"raks.queries.{name}"


@dataclass(frozen=True)
class Profile:
    """The statements in use: the defaults merged with the installer's overrides."""

    queries: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_QUERIES))
    overridden: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "queries", MappingProxyType(dict(self.queries)))

    @classmethod
    def default(cls) -> "Profile":
        return cls(dict(DEFAULT_QUERIES))

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, str] | None) -> "Profile":
        queries = dict(DEFAULT_QUERIES)
        overridden = set()
        for name, sql in (overrides or {}).items():
            key = query_key(name)
            if name not in SPECS:
                known = ", ".join(sorted(SPECS))
                raise ProfileError(
                    f"Nieznana nazwa zapytania w ustawieniach: {key} (dozwolone: {known}).", key, name
                )
            if not isinstance(sql, str) or not sql.strip():
                raise ProfileError(f"Zapytanie {key} jest puste — usuń je albo wpisz SQL.", key, name)
            sql = sql.strip().rstrip(";").strip()
            if name in (LOCK_DOCUMENT, LOCK_CORRECTION) and not _WITH_LOCK.search(sql):
                raise ProfileError(
                    f"Zapytanie {key} musi kończyć się klauzulą WITH LOCK (blokuje dokument na czas "
                    "wysyłki, żeby nie wysłać go dwa razy).",
                    key,
                    name,
                )
            queries[name] = sql
            overridden.add(name)
        return cls(queries, frozenset(overridden))

    @classmethod
    def from_settings(cls, settings) -> "Profile":
        """Defaults merged with ``settings.queries`` (ProfileError, a ConfigError, on unknown names)."""
        return cls.from_overrides(getattr(settings, "queries", None) or {})

    def sql(self, name: str) -> str:
        return self.queries[name]


def extract_order_id(order_ref: str | None, pattern: str = r"\d+") -> int | None:
    """The BaseLinker order id held in ``order_ref`` (e.g. the SYGNATURA text).

    The first match of ``pattern`` (group 1 when the pattern has a group, else the whole match)
    must be a positive integer that fits BaseLinker's integer ids; otherwise None.
    """
    if not order_ref:
        return None
    try:
        regex = re.compile(pattern or r"\d+")
    except re.error:
        return None
    m = regex.search(order_ref)
    if not m:
        return None
    text = m.group(1) if regex.groups >= 1 else m.group(0)
    if text is None:
        return None
    text = text.strip()
    if not text.isdigit() or not text.isascii():
        return None
    value = int(text)
    if value <= 0 or value > MAX_ORDER_ID:
        return None
    return value
