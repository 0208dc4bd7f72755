"""The export engine end to end: real Firebird server (WIN1250) + BaseLinker sandbox over HTTP."""

import datetime as dt
from decimal import Decimal

import pytest

from agent.raks import schema
from tests.support.export_env import (
    CUSTOM_FIELD,
    INVOICE_SERIES,
    ORDER_STATUS_ERROR,
    ORDER_STATUS_SENT,
    RECEIPT_SERIES,
)

# Also on Firebird 5 embedded and with the Firebird 5 client (tests/integration/test_firebird_matrix.py).
pytestmark = pytest.mark.firebird_matrix


def test_run_sends_every_eligible_document_exactly_once(export_env):
    env = export_env
    env.configure(baselinker__number_field=f"custom:{CUSTOM_FIELD}", baselinker__order_status_on_success=ORDER_STATUS_SENT)
    pdf_fs = schema.make_pdf("Faktura FS 1/11/2026/MAG Łódź")
    fs_id, fs_order = env.add_doc("FS", "FS 1/11/2026/MAG Łódź", pdf=pdf_fs, total="250.00", nip="526-000-12-46")
    pa_id, pa_order = env.add_doc("PA", "PA 7/11/2026", total="19.99")
    new_id, new_order = env.add_doc("FS", "FS 2/11/2026", status_id=1)  # "Nowy": not to send
    sent_id, sent_order = env.add_doc("FS", "FS 3/11/2026", status_id=3)  # already sent
    old_id, old_order = env.add_doc("FS", "FS 4/10/2026", issue_date=dt.date(2026, 10, 30))
    env.configure(raks__not_before="2026-11-01")

    summary = env.run()

    assert [r.outcome.result for r in summary.results] == ["sent", "sent"]
    assert summary.ok
    [invoice] = env.invoices(fs_order)
    assert invoice["series_id"] == INVOICE_SERIES
    assert invoice["external_invoice_number"] == "FS 1/11/2026/MAG Łódź"  # Polish text round-trips
    assert env.state.invoice_file(invoice["invoice_id"]) == pdf_fs
    [receipt] = env.receipts(pa_order)
    assert receipt["series_id"] == RECEIPT_SERIES
    assert receipt["external_receipt_number"] == "PA 7/11/2026"
    assert env.state.receipt_file(receipt["receipt_id"]).startswith(b"%PDF-")
    order = env.state.get_order(fs_order)
    assert order["custom_extra_fields"][str(CUSTOM_FIELD)] == "FS 1/11/2026/MAG Łódź"
    assert order["order_status_id"] == ORDER_STATUS_SENT
    assert env.status("FS", fs_id) == 3 and env.status("PA", pa_id) == 3
    # BaseLinker's own number is reported for the sent document
    sent_numbers = {r.ref.number: r.outcome.bl_number for r in summary.results}
    assert sent_numbers["FS 1/11/2026/MAG Łódź"] == invoice["number"]
    # ineligible documents untouched on both sides
    assert env.status("FS", new_id) == 1 and env.status("FS", sent_id) == 3 and env.status("FS", old_id) == 2
    for order_id in (new_order, sent_order, old_order):
        assert env.invoices(order_id) == []

    writes_before = len(env.state.write_calls())
    again = env.run()
    assert again.results == []
    assert len(env.state.write_calls()) == writes_before  # a second run makes no BaseLinker write


def test_number_field_extra_field_1_and_existing_value_skipped(export_env):
    env = export_env
    env.configure(baselinker__number_field="extra_field_1")
    raks_id, order_id = env.add_doc("FS", "FS 9/11/2026")
    env.run()
    assert env.state.get_order(order_id)["extra_field_1"] == "FS 9/11/2026"


def test_dry_run_changes_nothing_anywhere(export_env):
    env = export_env
    raks_id, order_id = env.add_doc("FS", "FS 5/11/2026")
    bad_id, _ = env.add_doc("FS", "FS 6/11/2026", pdf=None)
    summary = env.run(dry_run=True)
    outcomes = {r.ref.number: r.outcome for r in summary.results}
    assert outcomes["FS 5/11/2026"].result == "would_send"
    assert outcomes["FS 6/11/2026"].result == "failed" and "brak PDF" in outcomes["FS 6/11/2026"].reason
    assert env.state.write_calls() == []
    assert env.invoices(order_id) == []
    assert env.status("FS", raks_id) == 2 and env.status("FS", bad_id) == 2
    from agent.export.journal import Journal

    with Journal(env.data_dir / "journal.sqlite3") as journal:
        assert journal.recent() == []  # nothing recorded either


def test_existing_invoice_without_file_is_adopted_not_duplicated(export_env):
    env = export_env
    raks_id, order_id = env.add_doc("FS", "FS 10/11/2026")
    automation = env.state.add_invoice(order_id, INVOICE_SERIES)
    summary = env.run()
    assert summary.results[0].outcome.result == "sent"
    [invoice] = env.invoices(order_id)
    assert invoice["invoice_id"] == automation
    assert invoice["external_invoice_number"] == "FS 10/11/2026"


def test_order_with_a_different_external_document_is_refused(export_env):
    env = export_env
    raks_id, order_id = env.add_doc("FS", "FS 11/11/2026")
    env.state.add_invoice(order_id, INVOICE_SERIES, external_invoice_number="FV OBCA 1", file=b"%PDF-1.4 x")
    summary = env.run()
    [result] = summary.results
    assert result.outcome.result == "failed"
    assert "FV OBCA 1" in result.outcome.reason and "nie nadpisuję" in result.outcome.reason
    [invoice] = env.invoices(order_id)
    assert invoice["external_invoice_number"] == "FV OBCA 1"
    assert env.status("FS", raks_id) == 2


def test_error_statuses_are_applied_when_chosen(export_env):
    env = export_env
    env.configure(raks__status_on_error=4, baselinker__order_status_on_error=ORDER_STATUS_ERROR)
    raks_id, order_id = env.add_doc("FS", "FS 12/11/2026")
    env.state.add_invoice(order_id, INVOICE_SERIES, external_invoice_number="FV OBCA 2", file=b"%PDF-1.4 x")
    no_pdf_id, no_pdf_order = env.add_doc("FS", "FS 15/11/2026", pdf=None)
    summary = env.run()
    assert [r.outcome.result for r in summary.results] == ["failed", "failed"]
    assert env.status("FS", raks_id) == 4 and env.status("FS", no_pdf_id) == 4
    assert env.state.get_order(order_id)["order_status_id"] == ORDER_STATUS_ERROR
    # a document that failed before its order was verified never changes that order
    assert env.state.get_order(no_pdf_order)["order_status_id"] != ORDER_STATUS_ERROR
    # documents in the error status are not picked up again
    assert env.run().results == []


def test_wrong_order_is_refused(export_env):
    env = export_env
    raks_id, order_id = env.add_doc("FS", "FS 13/11/2026", total="100.00", nip="5260001246")
    env.state.get_order(order_id)  # exists
    other = env.add_order("100.00", nip="7770002222")
    env.close()
    conn = env.db.connect()
    cur = conn.cursor()
    cur.execute("UPDATE GM_FS SET SYGNATURA = ? WHERE ID = ?", (f"BL {other}", raks_id))
    conn.commit()
    conn.close()
    summary = env.run()
    [result] = summary.results
    assert result.outcome.result == "failed" and "NIP" in result.outcome.reason
    assert env.invoices(other) == []


def test_limit_caps_the_run_and_reports_the_rest(export_env):
    env = export_env
    ids = [env.add_doc("PA")[0] for _ in range(3)]
    summary = env.run(limit=2)
    assert len(summary.sent) == 2 and summary.not_attempted == 1 and not summary.ok
    assert sorted(env.status("PA", i) for i in ids) == [2, 3, 3]


def test_polish_total_and_currency_match(export_env):
    env = export_env
    raks_id, order_id = env.add_doc("FS", "FS 14/11/2026 Źródło", total=str(Decimal("1234.56")))
    summary = env.run()
    assert summary.results[0].outcome.result == "sent", summary.results[0].outcome.reason


def test_baselinker_numbers_are_read_with_one_list_call_per_kind(export_env):
    env = export_env
    orders = [env.add_doc("PA")[1] for _ in range(4)] + [env.add_doc("FS")[1] for _ in range(3)]
    summary = env.run()
    numbers = {r.ref.order_id: r.outcome.bl_number for r in summary.results}
    for order_id in orders[:4]:
        assert numbers[order_id] == env.receipts(order_id)[0]["receipt_full_nr"]
    for order_id in orders[4:]:
        assert numbers[order_id] == env.invoices(order_id)[0]["number"]
    methods = [c.method for c in env.state.calls]
    # after the creates, the numbers cost one list call per document type, not one per document
    last_create = max(i for i, m in enumerate(methods) if m in ("addInvoice", "addReceipt"))
    after = methods[last_create + 1:]
    assert after.count("getReceipts") == 1 and after.count("getInvoices") == 1
    assert "getReceipt" not in after


def test_each_document_is_published_as_it_finishes_and_its_number_after_the_run(export_env):
    """Issue 10.3: `raksbl send` prints a line per document as it finishes, not all at the end."""
    from agent.export.events import DocumentFinished, EventBus, NumbersRead, RunFinished, RunStarted

    env = export_env
    orders = [env.add_doc("FS")[1] for _ in range(3)]
    bus, seen = EventBus(), []

    def listen(event):
        creates = sum(1 for c in env.state.write_calls() if c.method == "addInvoice")
        seen.append((type(event).__name__, creates, event))

    bus.subscribe(listen)
    summary = env.run(bus=bus)

    assert [name for name, _, _ in seen] == (
        ["RunStarted"] + ["DocumentFinished"] * 3 + ["NumbersRead", "RunFinished"])
    # each document's event comes before the next document is created: it is live progress
    assert [creates for name, creates, _ in seen if name == "DocumentFinished"] == [1, 2, 3]
    finished = [e.result for name, _, e in seen if name == "DocumentFinished"]
    assert [r.ref.order_id for r in finished] == orders
    assert all(r.outcome.result == "sent" and r.outcome.bl_doc_id for r in finished)
    numbers = {r.ref.order_id: r.outcome.bl_number for r in seen[4][2].results}
    assert numbers == {o: env.invoices(o)[0]["number"] for o in orders}
    assert isinstance(seen[0][2], RunStarted) and isinstance(seen[4][2], NumbersRead)
    assert isinstance(seen[-1][2], RunFinished) and seen[-1][2].summary is summary

