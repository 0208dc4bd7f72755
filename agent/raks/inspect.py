"""Candidate tables and columns for adapting the profile to a real RaksSQL installation.

``raksbl inspect-db`` lists user tables/columns whose names suggest the document Status, the
generated PDF or the link to the shop/BaseLinker order, so an installer can point the profile's
statements (``[raks.queries]``) at them in minutes. Reads only the system tables
``RDB$RELATIONS``, ``RDB$RELATION_FIELDS`` and ``RDB$FIELDS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PURPOSE_STATUS = "status"
PURPOSE_PDF = "pdf"
PURPOSE_ORDER = "order"

PURPOSE_LABELS = {
    PURPOSE_STATUS: "Status dokumentu",
    PURPOSE_PDF: "Wygenerowany PDF / wydruk / załącznik",
    PURPOSE_ORDER: "Powiązanie z zamówieniem (BaseLinker / sklep)",
}

# Name fragment → purpose. Checked on table and column names (upper case).
KEYWORDS: tuple[tuple[str, str], ...] = (
    ("STATUS", PURPOSE_STATUS),
    ("PDF", PURPOSE_PDF),
    ("WYDRUK", PURPOSE_PDF),
    ("ZALACZ", PURPOSE_PDF),
    ("BASELINKER", PURPOSE_ORDER),
    ("BL", PURPOSE_ORDER),
    ("SYGNATURA", PURPOSE_ORDER),
    ("ZAMOW", PURPOSE_ORDER),
)

# "BL" is short: match it only as a separate word part (BL_ID, ID_BL, ZAMOWIENIE_BL), not
# inside BLOB / TABLE / OBLIGO.
_BL = re.compile(r"(^|_)BL($|_|\d)")

_TYPES = {
    7: "SMALLINT", 8: "INTEGER", 10: "FLOAT", 12: "DATE", 13: "TIME", 14: "CHAR", 16: "BIGINT",
    23: "BOOLEAN", 27: "DOUBLE PRECISION", 35: "TIMESTAMP", 37: "VARCHAR", 261: "BLOB",
    # Firebird 4+
    24: "DECFLOAT(16)", 25: "DECFLOAT(34)", 26: "INT128", 28: "TIME WITH TIME ZONE",
    29: "TIMESTAMP WITH TIME ZONE",
}


@dataclass(frozen=True)
class Candidate:
    purpose: str            # 'status' | 'pdf' | 'order'
    table: str
    column: str | None      # None: the table name itself matched
    type: str               # e.g. 'INTEGER', 'VARCHAR(60)', 'BLOB SUB_TYPE BINARY'; '' for a table
    matched: str            # the keyword that matched

    @property
    def label(self) -> str:
        return f"{self.table}.{self.column}" if self.column else self.table


def _matches(name: str) -> list[tuple[str, str]]:
    name = name.upper()
    out = []
    for word, purpose in KEYWORDS:
        if word == "BL":
            if _BL.search(name):
                out.append((word, purpose))
        elif word in name:
            out.append((word, purpose))
    return out


def _type_name(ftype, subtype, length, char_len, precision, scale) -> str:
    if ftype is None:
        return ""
    if ftype in (7, 8, 16, 26) and scale:
        return f"NUMERIC({precision or 18},{-scale})"
    base = _TYPES.get(ftype, f"TYP {ftype}")
    if ftype in (14, 37):
        return f"{base}({char_len or length})"
    if ftype == 261:
        return "BLOB SUB_TYPE TEXT" if subtype == 1 else "BLOB SUB_TYPE BINARY" if subtype == 0 else f"BLOB SUB_TYPE {subtype}"
    return base


_SQL = """
SELECT TRIM(r.RDB$RELATION_NAME), TRIM(rf.RDB$FIELD_NAME), f.RDB$FIELD_TYPE, f.RDB$FIELD_SUB_TYPE,
       f.RDB$FIELD_LENGTH, f.RDB$CHARACTER_LENGTH, f.RDB$FIELD_PRECISION, f.RDB$FIELD_SCALE
  FROM RDB$RELATIONS r
  JOIN RDB$RELATION_FIELDS rf ON rf.RDB$RELATION_NAME = r.RDB$RELATION_NAME
  LEFT JOIN RDB$FIELDS f ON f.RDB$FIELD_NAME = rf.RDB$FIELD_SOURCE
 WHERE COALESCE(r.RDB$SYSTEM_FLAG, 0) = 0
   AND r.RDB$VIEW_BLR IS NULL
 ORDER BY r.RDB$RELATION_NAME, rf.RDB$FIELD_POSITION
"""


def inspect_database(conn) -> list[Candidate]:
    """Candidates grouped by purpose (status, pdf, order), then by table, then column name.

    Besides names that match, the BLOB columns of a table whose name suggests PDFs (GM_PDF,
    WYDRUKI, ZALACZNIKI) are listed too: that is where the file itself lives.
    """
    from agent.raks.connection import read_only_transaction

    tr = read_only_transaction(conn)
    try:
        cur = tr.cursor()
        cur.execute(_SQL)
        rows = cur.fetchall()
        cur.close()
        tr.commit()
    finally:
        tr.close()

    found: dict[tuple[str, str, str | None], Candidate] = {}
    order: dict[str, int] = {}
    table_matches: dict[str, list[tuple[str, str]]] = {}
    for table, column, ftype, subtype, length, char_len, precision, scale in rows:
        order.setdefault(table, len(order))
        if table not in table_matches:
            table_matches[table] = _matches(table)
            for word, purpose in table_matches[table]:
                found.setdefault((purpose, table, None), Candidate(purpose, table, None, "", word))
        type_name = _type_name(ftype, subtype, length, char_len, precision, scale)
        hits = _matches(column)
        if ftype == 261:
            hits += [(w, p) for w, p in table_matches[table] if p == PURPOSE_PDF]
        for word, purpose in hits:
            found.setdefault((purpose, table, column), Candidate(purpose, table, column, type_name, word))
    purposes = [PURPOSE_STATUS, PURPOSE_PDF, PURPOSE_ORDER]
    return sorted(found.values(), key=lambda c: (purposes.index(c.purpose), order.get(c.table, 0), c.column or ""))


def group_by_purpose(candidates: list[Candidate]) -> dict[str, list[Candidate]]:
    out: dict[str, list[Candidate]] = {p: [] for p in PURPOSE_LABELS}
    for c in candidates:
        out.setdefault(c.purpose, []).append(c)
    return out
