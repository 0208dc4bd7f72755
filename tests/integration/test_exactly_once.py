"""Exactly once against BaseLinker's documented answers, whatever its undocumented ones are.

Every test here runs under each variant of the sandbox's undocumented behaviour
(``UNDOCUMENTED_VARIANTS``: the no-receipt answer, a second create on one order, what
``date_from`` filters on, list lag, page order), over real HTTP, with a real Firebird database.
"""

from __future__ import annotations

import time

import pytest

from agent.sandbox import Fault
from agent.sandbox import UNDOCUMENTED_VARIANTS
from agent.export.journal import Journal
from agent.export.protocol import LATE_CREATE_QUARANTINE
from agent.export.run import run_export
from tests.support.export_env import INVOICE_SERIES, RECEIPT_SERIES

PDF_OF_OTHERS = b"%PDF-1.4 fiscal printer copy"
DAY = 86400


@pytest.fixture(params=sorted(UNDOCUMENTED_VARIANTS))
def env(export_env, request):
    export_env.state.configure(**UNDOCUMENTED_VARIANTS[request.param])
    export_env.variant = request.param
    return export_env


def _number(env, doc_type, raks_id) -> str:
    cur = env.conn.cursor()
    cur.execute("SELECT NUMER FROM GM_FS WHERE ID = ?", (raks_id,))
    number = cur.fetchone()[0]
    env.conn.commit()
    return number


def _run(env, clock_offset: float = 0.0):
    with Journal(env.data_dir / "journal.sqlite3", clock=lambda: time.time() + clock_offset) as journal:
        return run_export(env.settings(), journal=journal)


def _outcomes(summary) -> dict[int, object]:
    return {r.ref.raks_id: r.outcome for r in summary.results}


def _creates(env, method: str) -> int:
    return [c.method for c in env.state.write_calls()].count(method)


# -- item 1: a receipt's file state comes only from getReceipt ------------------------------

def test_receipt_carrying_another_document_is_never_overwritten(env):
    plain = [env.add_doc("PA") for _ in range(3)]  # enough documents for the batch prefetch
    raks_id, order_id = env.add_doc("PA")
    fiscal = env.state.add_receipt(order_id, RECEIPT_SERIES, external_receipt_number="KASA/77/2026",
                                   file=PDF_OF_OTHERS)
    summary = env.run()
    outcomes = _outcomes(summary)
    assert outcomes[raks_id].result == "failed"
    assert "nie nadpisuję" in outcomes[raks_id].reason and "KASA/77/2026" in outcomes[raks_id].reason
    receipt = env.state.receipts_for_order(order_id)
    assert [r["receipt_id"] for r in receipt] == [fiscal]
    assert receipt[0]["external_receipt_number"] == "KASA/77/2026"
    assert env.state.receipt_file(fiscal) == PDF_OF_OTHERS
    for pid, oid in plain:
        assert outcomes[pid].result == "sent", outcomes[pid].reason
        assert len(env.receipts(oid)) == 1 and env.receipts(oid)[0]["external_receipt_number"]
    assert env.status("PA", raks_id) == 2  # still to send, nothing lost


def test_receipt_issued_by_an_automation_is_adopted(env):
    docs = [env.add_doc("PA") for _ in range(3)]
    raks_id, order_id = docs[1]
    existing = env.state.add_receipt(order_id, RECEIPT_SERIES)
    summary = env.run()
    assert all(o.result == "sent" for o in _outcomes(summary).values()), summary.results
    receipts = env.receipts(order_id)
    assert [r["receipt_id"] for r in receipts] == [existing]
    assert receipts[0]["external_receipt_number"] == _number(env, "PA", raks_id)
    assert _creates(env, "addReceipt") == 2


# -- item 2: "not in a list" is not "does not exist" ----------------------------------------

def test_invoice_the_lists_miss_is_found_before_creating(env):
    docs = [env.add_doc("FS") for _ in range(3)]
    raks_id, order_id = env.add_doc("FS")
    order = env.state.get_order(order_id)
    # Issued by an automation, its sale date long before the order was added: a date_from
    # filtering on the sale date does not list it, a lagging list does not show it yet.
    automation = env.state.add_invoice(order_id, INVOICE_SERIES, date_sell=order["date_add"] - 30 * DAY)
    summary = env.run()
    assert all(o.result == "sent" for o in _outcomes(summary).values()), summary.results
    invoices = env.invoices(order_id)
    assert [i["invoice_id"] for i in invoices] == [automation]
    assert invoices[0]["external_invoice_number"] == _number(env, "FS", raks_id)
    for _, oid in docs:
        assert len(env.invoices(oid)) == 1
    assert _creates(env, "addInvoice") == 3


def test_foreign_invoice_the_lists_miss_is_not_overwritten_nor_duplicated(env):
    [env.add_doc("FS") for _ in range(3)]
    raks_id, order_id = env.add_doc("FS")
    order = env.state.get_order(order_id)
    foreign = env.state.add_invoice(order_id, INVOICE_SERIES, external_invoice_number="FV/INNY/1",
                                    file=PDF_OF_OTHERS, date_sell=order["date_add"] - 30 * DAY)
    outcome = _outcomes(env.run())[raks_id]
    assert outcome.result == "failed" and "FV/INNY/1" in outcome.reason
    assert [i["invoice_id"] for i in env.invoices(order_id)] == [foreign]
    assert env.state.invoice_file(foreign) == PDF_OF_OTHERS


def test_every_create_is_preceded_by_a_per_order_lookup(env):
    docs = [env.add_doc("FS") for _ in range(3)] + [env.add_doc("PA") for _ in range(3)]
    summary = env.run()
    assert summary.ok, summary.results
    calls = [c for c in env.state.calls if c.status in ("SUCCESS", "ERROR")]
    for index, call in enumerate(calls):
        if call.method in ("addInvoice", "addReceipt"):
            before = calls[index - 1]
            lookup = "getInvoices" if call.method == "addInvoice" else "getReceipt"
            assert before.method == lookup, [c.method for c in calls[max(0, index - 3):index + 1]]
    assert len(docs) == _creates(env, "addInvoice") + _creates(env, "addReceipt")


# -- item 3: the no-receipt answer --------------------------------------------------------

def test_unknown_error_of_the_receipt_lookup_fails_the_document_and_creates_nothing(env):
    raks_id, order_id = env.add_doc("PA")
    fault = Fault(method="getReceipt", kind="api_error", times=0, error_code="ERROR_DB_TIMEOUT",
                  error_message="Database temporarily unavailable")
    env.state.add_fault(fault)
    outcome = _outcomes(env.run())[raks_id]
    assert outcome.result == "failed" and "Database temporarily unavailable" in outcome.reason
    assert fault.hits >= 1
    assert env.receipts(order_id) == [] and _creates(env, "addReceipt") == 0
    assert env.status("PA", raks_id) == 2


@pytest.mark.parametrize("code, message", [
    ("ERROR_RECEIPT_NOT_FOUND", "Receipt not found"),
    ("ERROR_NOT_FOUND", "No such object"),
    ("ERROR_OBJECT", "Receipt does not exist"),
    ("ERROR_RECEIPT", "Paragon nie istnieje"),
])
def test_not_found_answers_of_the_receipt_lookup_mean_none(export_env, code, message):
    env = export_env
    raks_id, order_id = env.add_doc("PA")
    env.state.add_fault(Fault(method="getReceipt", kind="api_error", times=1, error_code=code,
                              error_message=message))
    outcome = _outcomes(env.run())[raks_id]
    assert outcome.result == "sent", outcome.reason
    assert len(env.receipts(order_id)) == 1


# -- item 9: a create BaseLinker carries out late ------------------------------------------

@pytest.mark.parametrize("doc_type, method", [("FS", "addInvoice"), ("PA", "addReceipt")])
def test_create_executed_long_after_the_timeout_is_adopted_not_duplicated(env, doc_type, method):
    env.configure(baselinker__timeout_seconds=1)
    raks_id, order_id = env.add_doc(doc_type)
    late = Fault(method=method, kind="held", times=1)
    env.state.add_fault(late)
    try:
        first = _run(env)
        assert first.aborted and "BaseLinker" in first.aborted
        # Runs long after twice the timeout, still inside the quarantine: the document is held.
        for offset in (3.0, 10 * 60.0, LATE_CREATE_QUARANTINE - 60):
            held = _outcomes(_run(env, offset))[raks_id]
            assert held.result == "deferred", held.reason
            assert "może je jeszcze wykonać" in held.reason
        assert _creates(env, method) == 0 and env.documents(doc_type, order_id) == []
    finally:
        late.release()
    assert late.wait_executed(30)
    after = _outcomes(_run(env, 10 * 60.0))[raks_id]
    assert after.result == "sent", after.reason
    found = env.documents(doc_type, order_id)
    key = "external_invoice_number" if doc_type == "FS" else "external_receipt_number"
    assert len(found) == 1 and found[0][key] == _number(env, doc_type, raks_id)
    assert _creates(env, method) == 1
    assert env.status(doc_type, raks_id) == 3


@pytest.mark.parametrize("doc_type, method", [("FS", "addInvoice"), ("PA", "addReceipt")])
def test_create_that_never_ran_is_sent_again_only_after_the_quarantine(export_env, doc_type, method):
    env = export_env
    env.configure(baselinker__timeout_seconds=1)
    raks_id, order_id = env.add_doc(doc_type)
    env.state.add_fault(Fault(method=method, kind="timeout_lost", seconds=2, times=1))
    assert _run(env).aborted
    assert _outcomes(_run(env, LATE_CREATE_QUARANTINE - 30))[raks_id].result == "deferred"
    final = _outcomes(_run(env, LATE_CREATE_QUARANTINE + 1))[raks_id]
    assert final.result == "sent", final.reason
    assert len(env.documents(doc_type, order_id)) == 1
    assert env.status(doc_type, raks_id) == 3


def test_two_of_our_invoices_on_an_order_put_the_document_in_doubt_with_both_numbers(env):
    raks_id, order_id = env.add_doc("FS")
    number = _number(env, "FS", raks_id)
    a = env.state.add_invoice(order_id, INVOICE_SERIES, external_invoice_number=number, file=b"%PDF-a")
    b = env.state.add_invoice(order_id, INVOICE_SERIES, external_invoice_number=number, file=b"%PDF-b")
    outcome = _outcomes(env.run())[raks_id]
    assert outcome.result == "in_doubt"
    numbers = [i["number"] for i in env.invoices(order_id)]
    assert all(n in outcome.reason for n in numbers), (numbers, outcome.reason)
    assert {i["invoice_id"] for i in env.invoices(order_id)} == {a, b}
    assert env.status("FS", raks_id) == 2


# -- item 8: the history shows BaseLinker's numbers ------------------------------------------

def test_history_shows_the_baselinker_numbers_of_created_documents(export_env):
    env = export_env
    docs = [env.add_doc("FS"), env.add_doc("FS"), env.add_doc("PA")]
    sent = env.cli("send")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    numbers = [env.documents(t, oid)[0]["number" if t == "FS" else "receipt_full_nr"]
               for t, (_, oid) in zip(("FS", "FS", "PA"), docs)]
    history = env.cli("history")
    assert history.returncode == 0, history.stderr
    for number in numbers:
        assert number in sent.stdout
        assert number in history.stdout, history.stdout
    assert " id 500" not in history.stdout and " id 700" not in history.stdout
    with Journal(env.data_dir / "journal.sqlite3") as journal:
        assert sorted(e.bl_number for e in journal.recent()) == sorted(numbers)


def test_dry_run_sees_the_invoice_the_lists_miss(env):
    [env.add_doc("FS") for _ in range(3)]
    raks_id, order_id = env.add_doc("FS")
    order = env.state.get_order(order_id)
    env.state.add_invoice(order_id, INVOICE_SERIES, date_sell=order["date_add"] - 30 * DAY)
    outcome = _outcomes(env.run(dry_run=True))[raks_id]
    assert outcome.result == "would_send" and "dołączy PDF do istniejącego" in outcome.reason, outcome.reason
    assert env.state.write_calls() == []
