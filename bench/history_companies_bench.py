"""How long one refresh of the "Historia" window takes on a big journal of several companies.

    .venv/bin/python -m bench.history_companies_bench [--entries 200000] [--companies 3]

Fills a journal in a temporary directory with ``--entries`` documents spread over
``--companies`` companies (journal keys ``[sklep-N] fb:…``; the last company has only 1 % of
them, the case where a company filter finds few rows among many), then times the presenter's
refresh (the list of companies + the latest 500 rows) without filter, filtered to a big company
and to the small one; the window repeats it every 5 seconds while open.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


class View:
    def __getattr__(self, name):
        return lambda *a, **k: None


def fill(path: Path, entries: int, companies: int) -> None:
    from agent.export.dbkey import company_key
    from agent.export.journal import Journal

    Journal(path).close()  # the schema
    db = sqlite3.connect(path)
    names = [f"sklep-{i}" for i in range(companies)]
    rows = []
    for i in range(entries):
        small = i % 100 == 0
        name = names[-1] if small else names[i % (companies - 1)] if companies > 1 else names[0]
        rows.append((company_key(name, "fb:localhost:/data/F0000.fdb"), "FS", i, f"FS {i}/2026", 1000 + i, "done",
                     i, i))
    db.executemany("INSERT INTO documents (database, doc_type, raks_id, number, order_id, state, created_at, "
                   "updated_at) VALUES (?,?,?,?,?,?,?,?)", rows)
    db.commit()
    db.close()


def main() -> None:
    from agent.export.journal import Journal
    from ui.history_presenter import HistoryPresenter

    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--companies", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "journal.sqlite3"
        fill(path, args.entries, args.companies)
        journal = Journal(path)
        presenter = HistoryPresenter(View(), lambda: journal, open_url=lambda url: None)
        print(f"{args.entries} entries, {args.companies} companies")
        for label, company in (("all", None), ("big company", "sklep-0"),
                               ("small company (1 %)", f"sklep-{args.companies - 1}")):
            presenter.company = company
            presenter.refresh()  # warm
            times = []
            for _ in range(5):
                start = time.perf_counter()
                presenter.refresh()
                times.append(time.perf_counter() - start)
            print(f"refresh, {label}: {len(presenter.entries)} rows, median {sorted(times)[2] * 1000:.1f} ms")
        journal.close()


if __name__ == "__main__":
    main()
