"""A create whose answer timed out may still be executed by BaseLinker long after we gave up.

Found in production: when a timed-out ``addInvoice`` ran at BaseLinker more than twice the
timeout later, the next run created a second invoice (also with the journal deleted in
between). Now the document is held until a lookup sees the late document (adopted) or the
quarantine has passed; the hold survives the loss of the journal file. Real agent processes,
real HTTP; the late execution is released by the test, no sleeping.
"""

from __future__ import annotations

import pytest

from agent.sandbox import Fault
from tests.faults.invariants import Tracked, assert_invariants


@pytest.mark.parametrize("doc_type, method", [("FS", "addInvoice"), ("PA", "addReceipt")])
def test_late_create_is_adopted_even_after_the_journal_was_deleted(export_env, doc_type, method):
    env = export_env
    env.configure(baselinker__timeout_seconds=1)
    raks_id, order_id = env.add_doc(doc_type)
    cur = env.conn.cursor()
    cur.execute("SELECT NUMER FROM GM_FS WHERE ID = ?", (raks_id,))
    docs = [Tracked(doc_type, raks_id, order_id, cur.fetchone()[0])]
    env.conn.commit()
    late = Fault(method=method, kind="held", times=1)
    env.state.add_fault(late)
    try:
        first = env.cli("send")
        assert first.returncode != 0 and "BaseLinker" in first.stdout + first.stderr
        for name in ("journal.sqlite3", "journal.sqlite3-wal", "journal.sqlite3-shm"):
            (env.data_dir / name).unlink(missing_ok=True)

        second = env.cli("send")  # the late request has not executed yet
        assert second.returncode == 1, second.stdout + second.stderr
        assert "odłożono: 1" in second.stdout and "może je jeszcze wykonać" in second.stdout
        assert [c.method for c in env.state.write_calls()].count(method) == 0  # no second create
        assert_invariants(env, docs, final=False, context="while the create may still run")
    finally:
        late.release()
    assert late.wait_executed(30)

    third = env.cli("send")
    assert third.returncode == 0, third.stdout + third.stderr
    assert [c.method for c in env.state.write_calls()].count(method) == 1
    assert_invariants(env, docs, final=True)
    assert env.status(doc_type, raks_id) == 3
    assert not (env.data_dir / "late-creates.json").exists()
