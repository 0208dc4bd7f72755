"""Firebird 4+ types through profile statements, on the Firebird 5 embedded engine.

Runs only in the Firebird 5 child session of tests/integration/test_firebird_matrix.py (marker
``firebird5``). An installer's profile statement may select ``CURRENT_TIMESTAMP`` (TIMESTAMP WITH
TIME ZONE on Firebird 4+), a DECFLOAT or a NUMERIC(19+) (INT128) column; fdb 2.0 cannot decode
them, so the connection sets the legacy binds (agent/raks/connection.py).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from agent.raks import connection
from agent.raks.errors import ProfileError
from agent.raks.inspect import inspect_database
from agent.raks.profile import DEFAULT_QUERIES, PENDING_DOCUMENTS

pytestmark = pytest.mark.firebird5

ISSUED = dt.date(2026, 11, 3)


def _add_firebird4_columns(company_db) -> int:
    conn = company_db.admin
    for ddl in (
        "ALTER TABLE GM_FS ADD WYSTAWIONO_TZ TIMESTAMP WITH TIME ZONE",
        "ALTER TABLE GM_FS ADD BRUTTO_DF DECFLOAT(34)",
        "ALTER TABLE GM_FS ADD BRUTTO_128 NUMERIC(38, 2)",
    ):
        conn.execute_immediate(ddl)
    conn.commit()
    raks_id = company_db.add_document(number="FS 1/11/2026 Łódź", issue_date=ISSUED, total_gross=Decimal("1234.56"))
    cur = conn.cursor()
    cur.execute(
        "UPDATE GM_FS SET WYSTAWIONO_TZ = CAST('2026-11-03 10:15:00 Europe/Warsaw' AS TIMESTAMP WITH TIME ZONE), "
        "BRUTTO_DF = CAST('1234.56' AS DECFLOAT(34)), BRUTTO_128 = 1234.56 WHERE ID = ?", (raks_id,))
    conn.commit()
    return raks_id


def _pending_sql(**replace: str) -> str:
    sql = DEFAULT_QUERIES[PENDING_DOCUMENTS]
    for old, new in replace.items():
        assert old in sql
        sql = sql.replace(old, new)
    return sql


CASES = {
    "TIMESTAMP WITH TIME ZONE": {
        "f.DATA_WYSTAWIENIA,\n": "f.WYSTAWIONO_TZ AS DATA_WYSTAWIENIA, CURRENT_TIMESTAMP AS ODCZYTANO,\n",
    },
    "DECFLOAT(34)": {"COALESCE(f.WAL_WARTOSC_BRUTTO, f.PLN_WARTOSC_BRUTTO) AS BRUTTO": "f.BRUTTO_DF AS BRUTTO"},
    "INT128": {"COALESCE(f.WAL_WARTOSC_BRUTTO, f.PLN_WARTOSC_BRUTTO) AS BRUTTO": "f.BRUTTO_128 AS BRUTTO"},
}


@pytest.mark.parametrize("type_name", list(CASES))
def test_profile_statement_selecting_a_firebird4_type(company_db, type_name):
    raks_id = _add_firebird4_columns(company_db)
    repo = company_db.repository(queries={PENDING_DOCUMENTS: _pending_sql(**CASES[type_name])})
    [doc] = repo.pending_documents()
    assert doc.raks_id == raks_id
    assert doc.number == "FS 1/11/2026 Łódź"
    assert doc.issue_date == ISSUED
    assert doc.total_gross == Decimal("1234.56")


@pytest.mark.parametrize("type_name", list(CASES))
def test_without_the_legacy_binds_fdb_cannot_read_it(company_db, type_name, monkeypatch):
    """The control: what the binds fix (fdb's "Incorrect values within SQLDA structure")."""
    _add_firebird4_columns(company_db)
    monkeypatch.setattr(connection, "LEGACY_BINDS", ())
    repo = company_db.repository(queries={PENDING_DOCUMENTS: _pending_sql(**CASES[type_name])})
    with pytest.raises(ProfileError, match="SQLDA"):
        repo.pending_documents()


def test_binds_are_set_on_firebird5(company_db):
    conn = company_db.connect()
    assert connection.engine_major(conn) == 5
    cur = conn.cursor()
    cur.execute("SELECT CURRENT_TIMESTAMP, CAST(0.1 AS DECFLOAT(34)), CAST(2 AS INT128) FROM RDB$DATABASE")
    now, decfloat, int128 = cur.fetchone()
    assert isinstance(now, dt.datetime) and now.tzinfo is None
    assert decfloat == pytest.approx(0.1) and int128 == 2
    # doctor and the settings dialog show this: the real release, not the "V6.3" interface version
    assert re.fullmatch(r"[A-Z]{2}-V5\.0\.\d+\.\d+ Firebird 5\.0", company_db.repository().server_version())


def test_inspect_names_firebird4_types(company_db):
    conn = company_db.admin
    conn.execute_immediate(
        "CREATE TABLE BL_TYPY (STATUS_ZMIANA TIMESTAMP WITH TIME ZONE, STATUS_GODZ TIME WITH TIME ZONE, "
        "BL_KWOTA DECFLOAT(34), BL_KWOTA16 DECFLOAT(16), BL_ID INT128, BL_SUMA NUMERIC(38, 2))")
    conn.commit()
    types = {c.label: c.type for c in inspect_database(company_db.connect())}
    assert types["BL_TYPY.STATUS_ZMIANA"] == "TIMESTAMP WITH TIME ZONE"
    assert types["BL_TYPY.STATUS_GODZ"] == "TIME WITH TIME ZONE"
    assert types["BL_TYPY.BL_KWOTA"] == "DECFLOAT(34)"
    assert types["BL_TYPY.BL_KWOTA16"] == "DECFLOAT(16)"
    assert types["BL_TYPY.BL_ID"] == "INT128"
    assert types["BL_TYPY.BL_SUMA"] == "NUMERIC(38,2)"
