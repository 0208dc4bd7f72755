"""Parsing the raks.database setting, classifying Firebird errors, the test PDF builder."""

from __future__ import annotations

import re

import fdb
import pytest

from agent.raks import connection as C
from agent.raks.errors import RaksConnectionError
from agent.raks.schema import make_pdf


@pytest.mark.parametrize(
    "raw, host, port, path",
    [
        ("localhost:/var/lib/f.fdb", "localhost", None, "/var/lib/f.fdb"),
        ("localhost/3051:/var/lib/f.fdb", "localhost", 3051, "/var/lib/f.fdb"),
        ("192.168.1.10:C:\\RAKS\\F00001.fdb", "192.168.1.10", None, "C:\\RAKS\\F00001.fdb"),
        ("serwer/3050:C:/RAKS/F00001.fdb", "serwer", 3050, "C:/RAKS/F00001.fdb"),
        ("serwer:F00001", "serwer", None, "F00001"),                     # alias
        ("[::1]/3050:/x.fdb", "::1", 3050, "/x.fdb"),
        ("C:/RAKS/F00001.fdb", None, None, "C:/RAKS/F00001.fdb"),       # drive, not a host
        ("C:\\RAKS\\F00001.fdb", None, None, "C:\\RAKS\\F00001.fdb"),
        ("d:\\dane\\f.gdb", None, None, "d:\\dane\\f.gdb"),
        ("/var/tmp/x.fdb", None, None, "/var/tmp/x.fdb"),
        ("F00001.fdb", None, None, "F00001.fdb"),
        ("  localhost:/x.fdb  ", "localhost", None, "/x.fdb"),
        ("inet://srv:3051/C:/x.fdb", "srv", 3051, "C:/x.fdb"),
    ],
)
def test_parse_database(raw, host, port, path):
    loc = C.parse_database(raw)
    assert (loc.host, loc.port, loc.path) == (host, port, path)


def test_dsn_round_trip():
    assert C.parse_database("localhost/3051:/x.fdb").dsn == "localhost/3051:/x.fdb"
    assert C.parse_database("C:\\RAKS\\F.fdb").dsn == "C:\\RAKS\\F.fdb"
    assert C.parse_database("[::1]:/x.fdb").dsn == "[::1]:/x.fdb"


@pytest.mark.parametrize("raw", ["", "   "])
def test_empty_database_setting(raw):
    with pytest.raises(RaksConnectionError, match="raks.database"):
        C.parse_database(raw)


def test_bad_port():
    with pytest.raises(RaksConnectionError, match="port"):
        C.parse_database("host/abc:/x.fdb")


def _err(code, text="boom"):
    return fdb.DatabaseError(f"Cursor.fetchone:\n- SQLCODE: -913\n- {text}", -913, code)


def test_error_classification():
    assert C.is_lock_conflict(_err(335544336, "deadlock"))
    assert C.is_lock_conflict(_err(335544345, "lock conflict on no wait transaction"))
    assert C.is_lock_conflict(_err(335544878))
    assert not C.is_lock_conflict(_err(335544726))
    assert C.is_connection_lost(_err(335544726))
    assert C.is_connection_lost(_err(335544727))
    assert C.is_connection_lost(_err(335544856))
    assert not C.is_connection_lost(_err(335544569))  # dynamic SQL error


def test_error_text_strips_prefix_and_password():
    exc = fdb.DatabaseError("Error while connecting:\n- SQLCODE: -902\n- bad s3cret thing", -902, 1)
    assert C.error_text(exc, "s3cret") == "bad *** thing"


def test_make_pdf_is_a_valid_single_page_pdf():
    pdf = make_pdf("Faktura FS 1/11/2026 Łódź (test)\nZakład Ślęża")
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    start = int(re.search(rb"startxref\n(\d+)", pdf).group(1))
    assert pdf[start:start + 4] == b"xref"
    offsets = [int(x) for x in re.findall(rb"(\d{10}) 00000 n ", pdf)]
    assert [pdf[o:o + 8] for o in offsets] == [f"{i} 0 obj".encode() + b"\n" for i in range(1, 6)]
    stream = re.search(rb"/Length (\d+) >>\nstream\n", pdf)
    length = int(stream.group(1))
    assert pdf[stream.end() + length:stream.end() + length + 10] == b"\nendstream"
    assert b"(Faktura FS 1/11/2026 L\xf3dz \\(test\\)) Tj" in pdf
    assert make_pdf("a") != make_pdf("b")


class _FakeConn:
    def __init__(self, engine_version, firebird_version=""):
        self.engine_version = engine_version
        self.firebird_version = firebird_version
        self.statements: list[str] = []
        self.commits = 0

    def execute_immediate(self, sql):
        self.statements.append(sql)

    def commit(self):
        self.commits += 1


@pytest.mark.parametrize("version, binds", [(2.5, False), (3.0, False), (4.0, True), (5.0, True)])
def test_legacy_binds_only_from_firebird_4(version, binds):
    conn = _FakeConn(version)
    assert C.set_legacy_binds(conn) is binds
    if binds:
        assert conn.statements == ["SET BIND OF TIME ZONE TO LEGACY", "SET BIND OF DECFLOAT TO LEGACY",
                                   "SET BIND OF INT128 TO LEGACY"]
        assert conn.commits == 1
    else:
        assert conn.statements == [] and conn.commits == 0  # a 2.5/3.0 server rejects SET BIND


def test_engine_major_falls_back_to_the_version_string():
    assert C.engine_major(_FakeConn(None, "WI-V4.0.5.3140 Firebird 4.0")) == 4
    assert C.engine_major(_FakeConn(None, "")) == 0


def test_a_drive_letter_is_never_a_host():
    from agent.raks.connection import parse_database

    for raw in ("C:baza.fdb", "c:\\baza\\test.fdb", "D:"):
        location = parse_database(raw)
        assert location.host is None and location.path == raw
