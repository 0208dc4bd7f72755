"""A RaksSQL user keeps one document row locked across several agent runs while other documents
keep arriving and flowing. (The single-run case is tests/integration/test_export_bad_input.py.)
Each run defers the locked one at once (NO WAIT: no run waits on it), sends the others, and the
locked document is sent exactly once after the user lets go."""

from __future__ import annotations

import time

from tests.faults.invariants import Tracked, assert_invariants


def _tracked(env, doc_type, raks_id, order_id) -> Tracked:
    cur = env.conn.cursor()
    cur.execute("SELECT NUMER FROM GM_FS WHERE ID = ?", (raks_id,))
    number = cur.fetchone()[0]
    cur.close()
    env.conn.commit()
    return Tracked(doc_type, raks_id, order_id, number)


def test_lock_held_across_runs_while_other_documents_flow(export_env):
    env = export_env
    locked = _tracked(env, "FS", *env.add_doc("FS"))
    docs = [locked]
    user = env.db.connect()  # a RaksSQL user editing the document: uncommitted change, row locked
    cur = user.cursor()
    cur.execute("UPDATE GM_FS SET UWAGI = 'edytuje Łukasz' WHERE ID = ?", (locked.raks_id,))
    try:
        for round_no in range(3):
            fresh = [_tracked(env, t, *env.add_doc(t)) for t in ("FS", "PA")]
            docs += fresh
            started = time.monotonic()
            result = env.cli("send")
            took = time.monotonic() - started
            assert result.returncode == 1, result.stdout + result.stderr  # one deferred
            assert "odłożono: 1" in result.stdout, result.stdout
            assert took < 30, f"run {round_no} took {took:.1f} s: something waited on the lock"
            assert env.documents("FS", locked.order_id) == []
            for doc in fresh:
                assert env.status(doc.doc_type, doc.raks_id) == 3, result.stdout
            assert_invariants(env, docs, final=False, context=f"round {round_no}")
    finally:
        user.rollback()
        user.close()
    result = env.cli("send")
    assert result.returncode == 0, result.stdout + result.stderr
    assert_invariants(env, docs, final=True)
    assert env.status("FS", locked.raks_id) == 3
