"""A create whose answer timed out may still be executed by BaseLinker after we gave up.

Found by the fault suite: the next run looked the order up, found nothing *yet*, created again,
and then the late request created a second invoice. Now a create that timed out blocks further
creates for that document for twice the request timeout; the run after that finds the late
document and adopts it.
"""

from __future__ import annotations

import time

import pytest

from agent.baselinker.sandbox import Fault
from tests.faults.invariants import Tracked, assert_invariants

CLIENT_TIMEOUT = 2


@pytest.mark.parametrize("doc_type, method", [("FS", "addInvoice"), ("PA", "addReceipt")])
def test_create_executed_after_the_client_timed_out_makes_no_duplicate(export_env, doc_type, method):
    env = export_env
    env.configure(baselinker__timeout_seconds=CLIENT_TIMEOUT)
    raks_id, order_id = env.add_doc(doc_type)
    cur = env.conn.cursor()
    cur.execute("SELECT NUMER FROM GM_FS WHERE ID = ?", (raks_id,))
    docs = [Tracked(doc_type, raks_id, order_id, cur.fetchone()[0])]
    env.conn.commit()
    # BaseLinker executes the create 2 s after the client gave up waiting for it.
    env.state.add_fault(Fault(method=method, kind="timeout", seconds=CLIENT_TIMEOUT + 2, times=1))
    first = env.cli("send")
    assert first.returncode != 0 and "BaseLinker" in first.stdout + first.stderr
    gave_up = time.time()

    second = env.cli("send")  # at once: the late request has not executed yet
    assert second.returncode == 1, second.stdout + second.stderr
    assert "odłożono" in second.stdout
    assert [c.method for c in env.state.write_calls()].count(method) <= 1  # no second create sent
    assert_invariants(env, docs, final=False, context="right after the timeout")

    time.sleep(max(0.0, gave_up + 2 * CLIENT_TIMEOUT + 0.5 - time.time()))
    third = env.cli("send")
    assert third.returncode == 0, third.stdout + third.stderr
    assert [c.method for c in env.state.write_calls()].count(method) == 1
    assert_invariants(env, docs, final=True)
    assert env.status(doc_type, raks_id) == 3
