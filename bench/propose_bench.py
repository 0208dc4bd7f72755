"""How long `raksbl inspect-db --propose` takes on a company database with many documents.

    .venv/bin/python -m bench.propose_bench [--docs 20000] [--pdf-kb 20]

Builds an *embedded* Firebird company database (default layout, ``--docs`` sales documents,
every tenth still "to send", each with a PDF of ``--pdf-kb`` KiB) in a temporary directory,
then runs the proposal once in this process and prints its wall time, CPU time and the choices.
The proposal reads only: counts, distinct values and samples per candidate column, so its cost
grows with the number of documents (full scans of GM_FS) but not with the PDFs' size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

PASSWORD = "masterkey"


def build(path: Path, docs: int, pdf_kb: int) -> None:
    from agent.raks import schema

    schema.create_company_database(str(path), "SYSDBA", PASSWORD)
    conn = schema.connect(str(path), "SYSDBA", PASSWORD)
    pdf = schema.make_pdf("Faktura")
    pdf = pdf[:-6] + b"%" + b"x" * max(0, pdf_kb * 1024 - len(pdf)) + b"\n%%EOF\n"
    today = dt.date.today()
    try:
        cur = conn.cursor()
        batch = []
        for i in range(docs):
            status = 2 if i % 10 == 0 else 3
            batch.append((i + 1, "FS" if i % 3 else "PA", f"FS {i + 1}/11/2026/MAG", today, f"BL {10_000_001 + i}",
                          Decimal("123.00"), status))
            if len(batch) == 1000 or i == docs - 1:
                cur.executemany(
                    "INSERT INTO GM_FS (ID, TYP_DOK_MAGAZYNOWEGO, NUMER, DATA_WYSTAWIENIA, SYGNATURA, "
                    "WAL_WARTOSC_BRUTTO, ID_STATUSU) VALUES (?, ?, ?, ?, ?, ?, ?)", batch)
                cur.executemany("INSERT INTO GM_PDF (ID, TYP_DOK, ID_DOK, PLIK) VALUES (?, ?, ?, ?)",
                                [(b[0], b[1], b[0], pdf) for b in batch])
                conn.commit()
                batch = []
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--pdf-kb", type=int, default=20)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="raksbl-propose-bench-"))
    os.environ["FIREBIRD_LOCK"] = str(work / "lock")
    try:
        from agent.raks import schema
        from agent.raks.propose import build_changes, propose
        from agent.settings import RaksSettings

        db = work / "F00001.fdb"
        t0 = time.monotonic()
        build(db, args.docs, args.pdf_kb)
        print(f"built {args.docs} documents in {time.monotonic() - t0:.1f} s")
        conn = schema.connect(str(db), "SYSDBA", PASSWORD)
        try:
            wall, cpu = time.monotonic(), time.process_time()
            prop = propose(conn, RaksSettings())
            wall, cpu = time.monotonic() - wall, time.process_time() - cpu
        finally:
            conn.close()
        changes = build_changes(prop, RaksSettings())
        print(f"propose: wall {wall:.2f} s, CPU (this process) {cpu:.2f} s")
        print("chosen:", prop.chosen("status").label, "|", prop.chosen("pdf").label, "|", prop.chosen("order").label)
        print("statements written:", sorted(k for k in changes if k.startswith("raks.queries.")) or "none (defaults fit)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
