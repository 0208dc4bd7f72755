"""Crash safety and lost answers: whatever dies when, no document gets a second BaseLinker
invoice/receipt and none is left behind."""

import random
import signal
import time

import pytest

from agent.sandbox import Fault
from agent.export.journal import Journal
from agent.export.protocol import LATE_CREATE_QUARANTINE
from agent.export.run import run_export

CRASH_POINTS = ["before_create", "after_create", "after_attach", "after_bl_done", "after_status"]


def _seed(env, n_fs=2, n_pa=2):
    docs = [("FS", *env.add_doc("FS")) for _ in range(n_fs)] + [("PA", *env.add_doc("PA")) for _ in range(n_pa)]
    return docs


def _assert_exactly_once(env, docs):
    for doc_type, raks_id, order_id in docs:
        found = env.documents(doc_type, order_id)
        assert len(found) == 1, f"{doc_type} {raks_id}: {len(found)} BaseLinker documents on order {order_id}"
        key = "external_invoice_number" if doc_type == "FS" else "external_receipt_number"
        assert found[0][key], f"{doc_type} {raks_id}: no file attached"
        assert env.status(doc_type, raks_id) == 3


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_sigkill_at_every_step_boundary_then_resume(export_env, point):
    env = export_env
    docs = _seed(env)
    env.send_killed_at_then_resumed(point)
    _assert_exactly_once(env, docs)
    assert env.cli("send").stdout.startswith("Brak dokumentów")


def test_sigkill_at_random_moments(export_env):
    env = export_env
    docs = _seed(env, 3, 3)
    env.state.add_fault(Fault(method="*", kind="latency", seconds=0.05, times=0))
    rng = random.Random(20261127)
    for attempt in range(12):
        proc = env.spawn("send")
        time.sleep(rng.uniform(0.3, 1.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    env.state.clear_faults()
    result = env.cli("send")
    assert result.returncode == 0, result.stdout + result.stderr
    _assert_exactly_once(env, docs)


@pytest.mark.parametrize("doc_type, method", [("FS", "addInvoice"), ("PA", "addReceipt")])
def test_lost_response_on_create_makes_no_duplicate(export_env, doc_type, method):
    env = export_env
    raks_id, order_id = env.add_doc(doc_type)
    env.state.add_fault(Fault(method=method, kind="drop_after_commit", times=1))
    summary = env.run()
    assert summary.results[0].outcome.result == "sent", summary.results[0].outcome.reason
    assert len(env.documents(doc_type, order_id)) == 1
    assert [c.method for c in env.state.calls].count(method) == 1  # never re-sent blind
    assert env.status(doc_type, raks_id) == 3


@pytest.mark.parametrize("http_status", [500, 502, 520, 522, 524])
def test_create_answered_by_a_gateway_error_is_held_then_sent_once(export_env, http_status):
    """Behind Cloudflare a 5xx/HTML answer may come while the origin still runs the create."""
    env = export_env
    raks_id, order_id = env.add_doc("FS")
    env.state.add_fault(Fault(method="addInvoice", kind="http_500", http_status=http_status, times=1))
    first = env.run()
    assert first.aborted and "BaseLinker" in first.aborted
    assert env.invoices(order_id) == [] and env.status("FS", raks_id) == 2
    second = env.run()
    assert second.results[0].outcome.result == "deferred", second.results[0].outcome.reason
    assert [c.method for c in env.state.write_calls()].count("addInvoice") == 0
    with Journal(env.data_dir / "journal.sqlite3", clock=lambda: time.time() + LATE_CREATE_QUARANTINE + 1) as journal:
        third = run_export(env.settings(), journal=journal)
    assert third.results[0].outcome.result == "sent", third.results[0].outcome.reason
    assert len(env.invoices(order_id)) == 1


def test_journal_deleted_between_runs_makes_no_duplicate(export_env):
    env = export_env
    docs = _seed(env, 2, 1)
    killed = env.cli("send", extra_env={"RAKSBL_CRASH_AT": "after_bl_done:1"})
    assert killed.returncode == -signal.SIGKILL
    for path in env.data_dir.glob("journal.sqlite3*"):
        path.unlink()
    result = env.cli("send")
    assert result.returncode == 0, result.stdout + result.stderr
    _assert_exactly_once(env, docs)


def test_rate_limit_block_waits_until_the_end_then_finishes(export_env):
    env = export_env
    docs = _seed(env, 2, 0)
    env.state.add_fault(Fault(method="*", kind="block", seconds=3, after=1, times=1))
    started = time.time()
    result = env.cli("send")
    assert result.returncode == 0, result.stdout + result.stderr
    _assert_exactly_once(env, docs)
    blocked = [c for c in env.state.calls if c.error_code == "ERROR_BLOCKED_TOKEN"]
    assert len(blocked) == 1  # no call was wasted on a blocked token
    until = blocked[0].time + 3  # the sandbox blocks for 3 s from that call
    after = [c for c in env.state.calls if c.time > blocked[0].time]
    assert after and min(c.time for c in after) >= until - 0.01
    assert time.time() - started >= 3
