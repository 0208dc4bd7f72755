"""Corrections (KS) end to end: real Firebird server + BaseLinker sandbox over HTTP.

A KS becomes a BaseLinker correcting invoice (addInvoiceCorrection) of the order's invoice that
carries the corrected FS's number, with the KS PDF attached under the KS number.
"""

import signal

import pytest

from agent.raks import schema
from tests.support.export_env import CORRECTION_SERIES, CUSTOM_FIELD, ORDER_STATUS_SENT

CRASH_POINTS = ["before_create", "after_create", "after_attach", "after_bl_done", "after_status"]


def _with_ks(env):
    env.configure(raks__document_types=["FS", "KS"])


def test_invoice_then_its_corrections_in_one_run_then_rerun_writes_nothing(export_env):
    env = export_env
    _with_ks(env)
    env.configure(baselinker__number_field=f"custom:{CUSTOM_FIELD}", baselinker__order_status_on_success=ORDER_STATUS_SENT)
    fs_id, order_id = env.add_doc("FS", "FS 1/12/2026")
    pdf1 = schema.make_pdf("Korekta KOR 1/12/2026")
    # Same issue date: the run still orders the invoice before its corrections.
    ks1 = env.add_correction(fs_id, "KOR 1/12/2026", pdf=pdf1)
    ks2 = env.add_correction(fs_id, "KOR 2/12/2026")

    summary = env.run()

    assert [(r.ref.doc_type, r.outcome.result) for r in summary.results] == [
        ("FS", "sent"), ("KS", "sent"), ("KS", "sent")]
    [invoice] = env.invoices(order_id)
    corrections = env.corrections(order_id)
    assert len(corrections) == 2  # several corrections of one invoice: one correcting invoice each
    assert {c["correcting_to_invoice_id"] for c in corrections} == {invoice["invoice_id"]}
    assert {c["series_id"] for c in corrections} == {CORRECTION_SERIES}
    by_number = {c["external_invoice_number"]: c for c in corrections}
    assert set(by_number) == {"KOR 1/12/2026", "KOR 2/12/2026"}
    assert env.state.invoice_file(by_number["KOR 1/12/2026"]["invoice_id"]) == pdf1
    order = env.state.get_order(order_id)
    assert order["custom_extra_fields"][str(CUSTOM_FIELD)] == "FS 1/12/2026"  # never the KS number
    assert order["order_status_id"] == ORDER_STATUS_SENT
    assert env.status("KS", ks1) == 3 and env.status("KS", ks2) == 3
    numbers = {r.ref.number: r.outcome.bl_number for r in summary.results}
    assert numbers["KOR 1/12/2026"] == by_number["KOR 1/12/2026"]["number"]

    writes = len(env.state.write_calls())
    assert env.run().results == []
    assert len(env.state.write_calls()) == writes


def test_correction_of_an_invoice_not_in_baselinker_fails_alone_and_goes_next_run(export_env):
    env = export_env
    _with_ks(env)
    env.configure(raks__status_on_error=4)
    fs_id, order_id = env.add_doc("FS", "FS 2/12/2026", status_id=1)  # not to send yet
    ks_id = env.add_correction(fs_id, "KOR 3/12/2026")
    other_fs, other_order = env.add_doc("FS", "FS 3/12/2026")

    summary = env.run()
    outcomes = {r.ref.number: r.outcome for r in summary.results}
    assert outcomes["FS 3/12/2026"].result == "sent"
    assert outcomes["KOR 3/12/2026"].result == "failed"
    assert "najpierw musi zostać wysłana faktura FS 2/12/2026" in outcomes["KOR 3/12/2026"].reason
    assert env.corrections(order_id) == []
    assert env.status("KS", ks_id) == 2  # no error status: it is not the correction's fault

    _set_fs_status(env, fs_id, 2)  # the user releases the invoice
    again = env.run()
    assert {r.ref.number: r.outcome.result for r in again.results} == {"FS 2/12/2026": "sent", "KOR 3/12/2026": "sent"}
    [correction] = env.corrections(order_id)
    assert correction["external_invoice_number"] == "KOR 3/12/2026"


def _set_fs_status(env, raks_id, status):
    cur = env.conn.cursor()
    cur.execute("UPDATE GM_FS SET ID_STATUSU = ? WHERE ID = ?", (status, raks_id))
    env.conn.commit()


def test_dry_run_knows_corrections_and_writes_nothing(export_env):
    env = export_env
    _with_ks(env)
    fs_id, order_id = env.add_doc("FS", "FS 4/12/2026")
    env.run()
    writes = len(env.state.write_calls())
    env.add_correction(fs_id, "KOR 4/12/2026")
    summary = env.run(dry_run=True)
    [result] = summary.results
    assert result.ref.doc_type == "KS" and result.outcome.result == "would_send"
    assert "utworzy korektę BaseLinker (seria 40)" in result.outcome.reason
    assert env.corrections(order_id) == []
    # An invoice and its correction both pending: the dry run says the correction follows it,
    # and a correction of an invoice that is not being sent says what it waits for.
    fs2, order2 = env.add_doc("FS", "FS 6/12/2026")
    env.add_correction(fs2, "KOR 11/12/2026")
    held, _ = env.add_doc("FS", "FS 9/12/2026", status_id=1)
    env.add_correction(held, "KOR 12/12/2026")
    outcomes = {r.ref.number: r.outcome for r in env.run(dry_run=True).results}
    assert outcomes["KOR 11/12/2026"].result == "would_send"
    assert "po wysłaniu faktury FS 6/12/2026" in outcomes["KOR 11/12/2026"].reason
    assert outcomes["KOR 12/12/2026"].result == "failed"
    assert "najpierw musi zostać wysłana faktura FS 9/12/2026" in outcomes["KOR 12/12/2026"].reason
    assert len(env.state.write_calls()) == writes


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_sigkill_at_every_recovery_point_of_a_correction_then_resume(export_env, point):
    env = export_env
    _with_ks(env)
    fs_id, order_id = env.add_doc("FS", "FS 5/12/2026")
    assert env.cli("send").returncode == 0
    ks = [env.add_correction(fs_id, f"KOR {n}/12/2026") for n in (5, 6)]
    env.send_killed_at_then_resumed(point)
    corrections = env.corrections(order_id)
    assert sorted(c["external_invoice_number"] for c in corrections) == ["KOR 5/12/2026", "KOR 6/12/2026"]
    assert all(env.state.invoice_file(c["invoice_id"]) for c in corrections)
    assert [env.status("KS", k) for k in ks] == [3, 3]
    writes = len(env.state.write_calls())
    assert env.cli("send").stdout.startswith("Brak dokumentów")
    assert len(env.state.write_calls()) == writes


def test_journal_deleted_after_a_correction_was_created_makes_no_duplicate(export_env):
    env = export_env
    _with_ks(env)
    fs_id, order_id = env.add_doc("FS", "FS 7/12/2026")
    assert env.cli("send").returncode == 0
    ks = [env.add_correction(fs_id, f"KOR {n}/12/2026") for n in (7, 8)]
    killed = env.cli("send", extra_env={"RAKSBL_CRASH_AT": "after_create:1"})
    assert killed.returncode == -signal.SIGKILL
    assert [c["external_invoice_number"] for c in env.corrections(order_id)] == [""]  # torn: no file yet
    for path in env.data_dir.glob("journal.sqlite3*"):
        path.unlink()
    result = env.cli("send")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(c["external_invoice_number"] for c in env.corrections(order_id)) == ["KOR 7/12/2026", "KOR 8/12/2026"]
    assert [env.status("KS", k) for k in ks] == [3, 3]


def test_a_correction_torn_after_create_is_not_taken_by_the_next_one(export_env):
    """KS 1 dies after its create (journal names the new correction); KS 2 of the same invoice,
    sent alone next, must not adopt KS 1's correction: it creates its own."""
    env = export_env
    _with_ks(env)
    fs_id, order_id = env.add_doc("FS", "FS 8/12/2026")
    assert env.cli("send").returncode == 0
    first = env.add_correction(fs_id, "KOR 9/12/2026")
    killed = env.cli("send", extra_env={"RAKSBL_CRASH_AT": "after_create:1"})
    assert killed.returncode == -signal.SIGKILL
    [torn] = env.corrections(order_id)
    _set_ks_status(env, first, 1)  # the user holds KS 1 back for now
    second = env.add_correction(fs_id, "KOR 10/12/2026")
    assert env.cli("send").returncode == 0
    by_number = {c["external_invoice_number"]: c["invoice_id"] for c in env.corrections(order_id)}
    assert by_number["KOR 10/12/2026"] != torn["invoice_id"] and by_number[""] == torn["invoice_id"]
    _set_ks_status(env, first, 2)
    assert env.cli("send").returncode == 0
    by_number = {c["external_invoice_number"]: c["invoice_id"] for c in env.corrections(order_id)}
    assert by_number == {"KOR 9/12/2026": torn["invoice_id"], "KOR 10/12/2026": by_number["KOR 10/12/2026"]}
    assert env.status("KS", first) == 3 and env.status("KS", second) == 3


def _set_ks_status(env, raks_id, status):
    schema.set_document_status(env.conn, "KS", raks_id, status)
