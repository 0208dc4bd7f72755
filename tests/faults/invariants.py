"""The invariant checker every fault test ends with.

What must hold whatever failed, whenever (``final=False``: after any run, even a killed one):

1. **No second document**: no BaseLinker order carries more than one normal invoice or more than
   one receipt (each test order belongs to one RaksSQL document); its correcting invoices are
   no more than the corrections (KS) pointing at it, and no two carry the same KS number.
2. **No stray document**: every BaseLinker invoice/receipt on a test order belongs to a document
   that was eligible ("to send") at some point, and an external number shown on it is that
   document's number (never another document's file on the wrong order).
3. **RaksSQL ⇒ BaseLinker**: a document in the "sent" status (3) has its order carrying exactly
   one document of its kind with our external number and a file.

What must also hold after a settle run without faults (``final=True``):

4. **BaseLinker ⇒ RaksSQL**: an order carrying our external number has its document in status 3,
   unless the user took the document out of the "to send" statuses meanwhile.
5. **Nothing silently dropped**: every document still eligible (status "to send") is either
   sent (status 3, see 3) or visibly failed / in doubt in a journal (what ``raksbl history
   --failed`` shows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agent.export.journal import Journal

STATUS_NEW, STATUS_TO_SEND, STATUS_SENT = 1, 2, 3


@dataclass
class Tracked:
    """A RaksSQL document the test created, and what the test did to it."""

    doc_type: str
    raks_id: int
    order_id: int | None  # the BaseLinker order it points at (None: no order reference)
    number: str
    ever_eligible: bool = True  # was it ever in a "to send" status?
    expect_failure: bool = False  # built to fail (bad order reference etc.)
    # External numbers of another system's documents already on its order before the test
    # (the agent must refuse them, never overwrite them): not "foreign numbers" put there by us.
    others_numbers: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, int]:
        return (self.doc_type, self.raks_id)


def _statuses(env) -> dict[tuple[str, int], int | None]:
    """RaksSQL's status of every document: ``env.statuses()`` when the world has one (the fast
    tests' dict-backed repository), else read from the Firebird database of ``env.conn``."""
    if hasattr(env, "statuses"):
        return env.statuses()
    conn = env.conn
    conn.commit()  # a fresh snapshot
    cur = conn.cursor()
    try:
        cur.execute("SELECT TYP_DOK_MAGAZYNOWEGO, ID, ID_STATUSU FROM GM_FS")
        found = {(typ.strip(), int(i)): st for typ, i, st in cur.fetchall()}
        cur.execute("SELECT ID, ID_STATUSU FROM GM_KS")
        found.update({("KS", int(i)): st for i, st in cur.fetchall()})
        return found
    finally:
        cur.close()
        conn.commit()


def _journal_states(journal_paths: list[Path], database: str, docs: list[Tracked]) -> dict[tuple[str, int], list]:
    states: dict[tuple[str, int], list] = {}
    for path in journal_paths:
        if not path.exists():
            continue
        # Entries are keyed by the database's identity (export.dbkey); these tests use one database.
        wanted = {doc.key for doc in docs}
        with Journal(path) as journal:
            for entry in journal.recent(1_000_000):
                if (entry.doc_type, entry.raks_id) in wanted:
                    states.setdefault((entry.doc_type, entry.raks_id), []).append(entry)
    return states


def check(env, docs: list[Tracked], *, final: bool, journals: list[Path] | None = None) -> list[str]:
    """All invariant violations (empty when everything holds)."""
    problems: list[str] = []
    statuses = _statuses(env)
    by_order: dict[int, list[Tracked]] = {}
    for doc in docs:
        if doc.order_id is not None:
            by_order.setdefault(doc.order_id, []).append(doc)

    # 1 and 2: the BaseLinker side, order by order.
    for order_id, owners in by_order.items():
        for kind, doc_type, ext_key in (("invoice", "FS", "external_invoice_number"),
                                        ("receipt", "PA", "external_receipt_number"),
                                        ("correction", "KS", "external_invoice_number")):
            mine = [d for d in owners if d.doc_type == doc_type]
            if doc_type == "KS" and not mine:
                continue  # worlds without corrections (the fast tests) are not asked for them
            found = env.documents(doc_type, order_id)
            kind_key = "invoice" if doc_type == "KS" else kind
            if doc_type == "KS":
                numbers = [f.get(ext_key) for f in found if f.get(ext_key)]
                if len(found) > len(mine) or len(numbers) != len(set(numbers)):
                    problems.append(f"order {order_id}: {len(found)} corrections for {len(mine)} KS (duplicate): "
                                    f"{[(f.get('invoice_id'), f.get(ext_key)) for f in found]}")
            elif len(found) > 1:
                problems.append(f"order {order_id}: {len(found)} {kind}s (duplicate): "
                                f"{[(f.get(kind + '_id'), f.get(ext_key)) for f in found]}")
            for bl in found:
                ext = bl.get(ext_key) or ""
                if not mine:
                    problems.append(f"order {order_id}: stray {kind} {bl.get(kind_key + '_id')} (no {doc_type} points here)")
                elif not any(d.ever_eligible for d in mine):
                    problems.append(f"order {order_id}: {kind} for a document that was never eligible")
                elif ext and ext not in {d.number for d in mine} | {n for d in mine for n in d.others_numbers}:
                    problems.append(f"order {order_id}: {kind} carries a foreign number {ext!r}")

    journal_states = _journal_states(journals or [env.data_dir / "journal.sqlite3"], env.settings().raks.database,
                                     docs) if final else {}
    to_send = set(env.settings().raks.statuses_to_send)
    for doc in docs:
        status = statuses.get(doc.key)
        found = env.documents(doc.doc_type, doc.order_id) if doc.order_id is not None else []
        ext_key = "external_receipt_number" if doc.doc_type == "PA" else "external_invoice_number"
        ours = [f for f in found if f.get(ext_key) == doc.number and f.get("file")]
        label = f"{doc.doc_type} {doc.number} (id {doc.raks_id}, order {doc.order_id})"
        # 3
        if status == STATUS_SENT and len(ours) != 1:
            problems.append(f"{label}: status 3 in RaksSQL but {len(ours)} BaseLinker documents with its number and file")
        if not final:
            continue
        # 4
        if ours and status != STATUS_SENT and status in to_send:
            entries = journal_states.get(doc.key, [])
            if not any(e.state in ("failed", "in_doubt") for e in entries):
                problems.append(f"{label}: BaseLinker carries its file but RaksSQL status is {status} "
                                f"(journal: {[e.state for e in entries]})")
        # 5
        if status in to_send and not ours:
            entries = journal_states.get(doc.key, [])
            if not any(e.state in ("failed", "in_doubt") for e in entries):
                problems.append(f"{label}: still 'to send', not in BaseLinker and not visibly failed "
                                f"(journal: {[(e.state, e.error) for e in entries]})")
    return problems


def assert_invariants(env, docs: list[Tracked], *, final: bool, journals: list[Path] | None = None,
                      context: str = "") -> None:
    problems = check(env, docs, final=final, journals=journals)
    if problems:
        head = f"{len(problems)} invariant violation(s){' — ' + context if context else ''}:\n  "
        raise AssertionError(head + "\n  ".join(problems[:40]))
