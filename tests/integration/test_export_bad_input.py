"""Bad input: each a clear per-document error, nothing lost, the run goes on (or stops, for
problems that concern the whole run: bad token, database unreachable)."""

import threading

import pytest

from agent.raks import schema
from tests.support.export_env import INVOICE_SERIES


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"pdf": None}, "brak PDF"),
        ({"pdf": b""}, "pusty"),
        ({"pdf": b"\xff\xd8\xff\xe0JFIF skan"}, "nie jest plikiem PDF"),
        ({"order_id": False, "sygnatura": "zamówienie telefoniczne"}, "brak numeru zamówienia"),
        ({"order_id": False, "sygnatura": "BL 987654321"}, "987654321 nie istnieje"),
        ({"number": "FS 1/11/2026/MAGAZYN-CENTRALNY-ŁÓDŹ"}, "najwyżej 30"),
    ],
)
def test_bad_document_fails_alone_with_a_clear_reason(export_env, kwargs, expected):
    env = export_env
    bad_id, bad_order = env.add_doc("FS", **kwargs)
    good_id, good_order = env.add_doc("FS")
    summary = env.run()
    outcomes = {r.ref.raks_id: r.outcome for r in summary.results}
    assert outcomes[bad_id].result == "failed"
    assert expected in outcomes[bad_id].reason
    assert outcomes[good_id].result == "sent"
    assert env.status("FS", bad_id) == 2  # left as it was: no error status chosen
    assert env.status("FS", good_id) == 3
    if bad_order:
        assert env.invoices(bad_order) == []
    # the CLI shows the reason and exits 1
    result = env.cli("send")
    assert result.returncode == 1
    assert expected in result.stdout


def test_receipt_number_limit_is_20(export_env):
    env = export_env
    bad_id, order_id = env.add_doc("PA", "PA 123456/11/2026/MAG")  # 21 characters
    summary = env.run()
    assert summary.results[0].outcome.result == "failed" and "najwyżej 20" in summary.results[0].outcome.reason
    assert env.receipts(order_id) == []


def test_invalid_series_is_a_per_document_error(export_env):
    env = export_env
    env.configure(baselinker__invoice_series_id=424242)
    fs_id, fs_order = env.add_doc("FS")
    pa_id, pa_order = env.add_doc("PA")
    summary = env.run()
    outcomes = {r.ref.raks_id: r.outcome for r in summary.results}
    assert outcomes[fs_id].result == "failed"
    assert "SERIES" in outcomes[fs_id].reason or "424242" in outcomes[fs_id].reason
    assert outcomes[pa_id].result == "sent"
    assert env.invoices(fs_order) == [] and env.status("FS", fs_id) == 2


def test_bad_token_stops_the_run_with_one_message(export_env):
    env = export_env
    ids = [env.add_doc("FS")[0] for _ in range(3)]
    result = env.cli("send", extra_env={"RAKSBL_BASELINKER_TOKEN": "wrong-token"})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "ERROR_AUTH_TOKEN" in result.stdout + result.stderr
    assert "wrong-token" not in result.stdout + result.stderr
    assert len([c for c in env.state.calls if c.method != "getOrders"]) == 0  # stopped at the first call
    assert all(env.status("FS", i) == 2 for i in ids)


def test_database_unreachable_stops_the_run(export_env):
    env = export_env
    env.configure(raks__database="127.0.0.1/3999:/nowhere/F00001.fdb")
    result = env.cli("send")
    assert result.returncode == 2
    assert "Firebird" in result.stderr and "3999" in result.stderr
    assert env.db.password not in result.stdout + result.stderr
    assert env.state.calls == []  # nothing attempted


def test_row_locked_by_a_raks_user_is_deferred_then_sent(export_env):
    env = export_env
    locked_id, locked_order = env.add_doc("FS")
    free_id, free_order = env.add_doc("FS")
    user = env.db.connect()  # a RaksSQL user editing the document (uncommitted change)
    cur = user.cursor()
    cur.execute("UPDATE GM_FS SET UWAGI = 'edytuje Łukasz' WHERE ID = ?", (locked_id,))
    try:
        summary = env.run()
        outcomes = {r.ref.raks_id: r.outcome for r in summary.results}
        assert outcomes[locked_id].result == "deferred"
        assert outcomes[free_id].result == "sent"  # nothing else waits on the locked row
        assert env.invoices(locked_order) == []
    finally:
        user.rollback()
        user.close()
    second = env.run()
    assert [(r.ref.raks_id, r.outcome.result) for r in second.results] == [(locked_id, "sent")]
    assert len(env.invoices(locked_order)) == 1 and env.status("FS", locked_id) == 3


def test_messages_use_correct_polish_cases_and_number_agreement(export_env):
    """Issue 16.12: "22 znaki" (not "22 znaków"), "ma już fakturę", "utworzy fakturę", no "FS FS"."""
    env = export_env
    long_id, _ = env.add_doc("PA", "PA 12345678/11/2026/X")  # 21 characters (21 znaków)
    long22_id, _ = env.add_doc("PA", "PA 123456789/11/2026/X")  # 22 characters → "22 znaki"
    taken_id, taken_order = env.add_doc("FS", "FS 5/11/2026")
    env.state.add_invoice(taken_order, INVOICE_SERIES, "FV 99/2026 z innego programu", file=schema.make_pdf("x"))
    new_id, _ = env.add_doc("FS", "FS 6/11/2026")

    preview = env.cli("send", "--dry-run")
    line = next(l for l in preview.stdout.splitlines() if "FS 6/11/2026" in l)
    assert "utworzy fakturę BaseLinker" in line and "FS FS" not in preview.stdout

    summary = env.run()
    reasons = {r.ref.raks_id: r.outcome.reason for r in summary.results}
    assert "ma 21 znaków" in reasons[long_id]
    assert "ma 22 znaki" in reasons[long22_id]
    assert "ma już fakturę z innym dokumentem" in reasons[taken_id]
