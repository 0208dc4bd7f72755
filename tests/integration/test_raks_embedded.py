"""A bare database path opens the embedded engine (what a single-PC RaksSQL install may use).

Runs in a child process with its own FIREBIRD_LOCK directory, so the embedded engine (running
as the test user) never shares lock files with the Firebird server used by the other tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import datetime as dt, json, sys
from decimal import Decimal
from agent.raks import schema
from agent.raks.repository import RaksRepository
from agent.raks.errors import RowLocked
from tests.support.firebird import RaksSettingsStub

path = sys.argv[1]
schema.create_company_database(path, "SYSDBA", "dowolne")
conn = schema.connect(path, "SYSDBA", "dowolne")
pdf = schema.make_pdf("Paragon Łódź")
a = schema.add_document(conn, number="FS 1/11/2026/MAGAZYN Łódź", buyer_name="Zakład Usług Źródlanych Ślęża Sp. z o.o.",
                        sygnatura="BL 12345678", issue_date=dt.date(2026, 11, 2), total_gross=Decimal("99.90"))
b = schema.add_document(conn, doc_type="PA", number="PA 7/2026", pdf=pdf, issue_date=dt.date(2026, 11, 1))
settings = RaksSettingsStub(database=path)
out = {}
with RaksRepository(settings, "dowolne") as repo:
    docs = repo.pending_documents()
    out["docs"] = [[d.doc_type, d.raks_id, d.number, d.buyer_name, d.order_id, str(d.total_gross)] for d in docs]
    out["pdf_ok"] = repo.read_pdf(docs[0]) == pdf
    with repo.claim(docs[1]) as claim:
        try:
            with RaksRepository(settings, "dowolne") as other:
                other.claim(docs[1])
            out["second_claim"] = "claimed"
        except RowLocked:
            out["second_claim"] = "locked"
        out["set"] = claim.set_status(3)
        claim.commit()
    out["status_after"] = schema.document_status(conn, "FS", a)
    out["version"] = repo.server_version()
conn.close()
print(json.dumps(out, ensure_ascii=False))
"""


def test_embedded_bare_path(tmp_path):
    db = tmp_path / "F00001.fdb"
    lock_dir = tmp_path / "fb-lock"
    lock_dir.mkdir()
    env = dict(os.environ, FIREBIRD_LOCK=str(lock_dir), PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(db)], capture_output=True, text=True,
                          timeout=120, cwd=str(ROOT), env=env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["docs"] == [
        ["PA", 2, "PA 7/2026", "", None, "123.00"],
        ["FS", 1, "FS 1/11/2026/MAGAZYN Łódź", "Zakład Usług Źródlanych Ślęża Sp. z o.o.", 12345678, "99.90"],
    ]
    assert out["pdf_ok"] is True
    assert out["second_claim"] == "locked"
    assert out["set"] is True and out["status_after"] == 3
    assert db.exists()
