"""The command line beyond `send`: doctor, inspect-db and the journal actions, as a user runs them."""

import re

from agent.export.journal import Journal
from agent.raks.schema import make_pdf

from tests.support.export_env import INVOICE_SERIES, RECEIPT_SERIES


def test_doctor_lists_both_sides_and_marks_the_chosen_ones(export_env):
    env = export_env
    env.add_doc("FS")
    env.add_doc("PA", pdf=None)
    result = env.cli("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(rf"{INVOICE_SERIES}\s+INVOICE\s+Faktury .*← faktury", out)
    assert re.search(rf"{RECEIPT_SERIES}\s+RECEIPT\s+Paragony .*← paragony", out)
    assert "Dokument wysłany" in out and "custom:135" in out  # order statuses, extra fields
    assert re.search(r"2\s+Do wysłania\s+1 / 1\s+← do wysłania", out)  # counts per status from RaksSQL
    assert "czeka na wysłanie: 2 (bez PDF: 1)" in out


def test_doctor_fails_with_a_wrong_token_and_names_a_missing_series(export_env):
    env = export_env
    env.configure(baselinker__receipt_series_id=999)
    missing = env.cli("doctor")
    assert missing.returncode == 2 and "receipt_series_id = 999" in missing.stdout
    env.configure(baselinker__receipt_series_id=RECEIPT_SERIES)
    bad = env.cli("doctor", extra_env={"RAKSBL_BASELINKER_TOKEN": "wrong-token"})
    assert bad.returncode == 2
    assert "ERROR_AUTH_TOKEN" in bad.stdout and "połączenie: OK, serwer" in bad.stdout  # RaksSQL still checked


def test_inspect_db_finds_status_pdf_and_order_link_columns(export_env):
    result = export_env.cli("inspect-db")
    assert result.returncode == 0, result.stderr
    sections = result.stdout.split("\n[")
    status = next(s for s in sections if s.startswith("Status"))
    pdf = next(s for s in sections if s.startswith("Wygenerowany PDF"))
    order = next(s for s in sections if s.startswith("Powiązanie"))
    assert re.search(r"GM_FS\.ID_STATUSU\s+INTEGER", status)
    assert re.search(r"GM_PDF\.PLIK\s+BLOB", pdf)
    assert "GM_FS.SYGNATURA" in order


def test_history_skip_and_retry(export_env):
    env = export_env
    raks_id, order_id = env.add_doc("FS", "FS 77/11/2026", pdf=b"")
    assert env.cli("send").returncode == 1
    history = env.cli("history", "--failed")
    line = next(l for l in history.stdout.splitlines() if "FS 77/11/2026" in l)
    assert "błąd" in line and "pusty" in line
    entry_id = line.split()[0]

    assert env.cli("skip", entry_id).returncode == 0
    skipped = env.cli("send")
    assert "pominięto" in skipped.stdout and skipped.returncode == 0  # a skipped document is not a failure

    env.db.set_pdf("FS", raks_id, make_pdf("FS 77/11/2026"))  # the user regenerated the printout
    assert env.cli("retry", entry_id).returncode == 0
    sent = env.cli("send")
    assert sent.returncode == 0 and "wysłano" in sent.stdout
    assert len(env.invoices(order_id)) == 1 and env.status("FS", raks_id) == 3
    assert env.cli("retry", entry_id).returncode == 1  # already sent: nothing to retry


def test_send_redirected_to_a_legacy_encoding_file_keeps_the_report(export_env, tmp_path):
    """`raksbl-cli send > wynik.txt` on Polish Windows (cp1250, no arrows) and LANG=C (ASCII)."""
    import subprocess
    import sys

    from tests.support.export_env import REPO_ROOT

    env = export_env
    for encoding in ("cp1250", "ascii"):
        raks_id, order_id = env.add_doc("FS")
        out_file = tmp_path / f"wynik-{encoding}.txt"
        with open(out_file, "wb") as out:
            proc_env = dict(env.env, PYTHONIOENCODING=encoding, LANG="C", LC_ALL="C")
            result = subprocess.run([sys.executable, "-m", "agent", "send"], env=proc_env, cwd=REPO_ROOT,
                                    stdout=out, stderr=subprocess.PIPE, timeout=120)
        report = out_file.read_bytes().decode(encoding)
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        assert b"Traceback" not in result.stderr
        assert "-> BaseLinker" in report and "Podsumowanie" in report
        assert ("wysłano: 1" if encoding == "cp1250" else "wys?ano: 1") in report
        assert len(env.invoices(order_id)) == 1 and env.status("FS", raks_id) == 3


def test_a_skip_survives_an_equivalent_rewrite_of_the_database_setting(export_env):
    """Issue 16.1: `127.0.0.1:…` → `localhost/3050:…` is the same database; its skip still holds."""
    env = export_env
    raks_id, order_id = env.add_doc("FS", "FS 88/11/2026", pdf=b"")
    assert env.cli("send").returncode == 1
    line = next(l for l in env.cli("history").stdout.splitlines() if "FS 88/11/2026" in l)
    assert env.cli("skip", line.split()[0]).returncode == 0
    env.db.set_pdf("FS", raks_id, make_pdf("FS 88/11/2026"))  # now it could be sent

    host, _, path = env.db.dsn.partition(":")
    assert host == "localhost", env.db.dsn
    env.configure(raks__database=f"127.0.0.1/3050:{path}")
    result = env.cli("send")
    assert "pominięto" in result.stdout, result.stdout + result.stderr
    assert env.invoices(order_id) == [] and env.status("FS", raks_id) == 2


def test_a_document_set_back_to_send_uploads_its_regenerated_pdf_to_the_same_document(export_env):
    """Issue 16.3: corrected, PDF regenerated, Status back to "to send" → the new PDF, same invoice."""
    env = export_env
    number = "FS 90/11/2026"
    raks_id, order_id = env.add_doc("FS", number)
    assert env.cli("send").returncode == 0
    [invoice] = env.invoices(order_id)
    first_pdf = env.state.invoice_file(invoice["invoice_id"])

    corrected = make_pdf("FS 90/11/2026 poprawiona")
    assert corrected != first_pdf
    env.db.set_pdf("FS", raks_id, corrected)
    env.db.set_status("FS", raks_id, 2)
    result = env.cli("send")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ponownie dołączono aktualny PDF" in result.stdout
    assert [i["invoice_id"] for i in env.invoices(order_id)] == [invoice["invoice_id"]]  # never a second one
    assert env.state.invoice_file(invoice["invoice_id"]) == corrected
    assert env.status("FS", raks_id) == 3

    entry_id = next(l for l in env.cli("history").stdout.splitlines() if number in l).split()[0]
    with Journal(env.data_dir / "journal.sqlite3") as journal:
        states = [h["state"] for h in journal.history(int(entry_id))]
    assert states.count("attached") == 2 and states.count("done") == 2  # both uploads are recorded

    again = env.cli("send")  # and it is not sent a third time
    assert "Brak dokumentów do wysłania" in again.stdout


def test_retry_of_a_sent_document_explains_how_to_send_it_again(export_env):
    env = export_env
    raks_id, _ = env.add_doc("FS", "FS 91/11/2026")
    assert env.cli("send").returncode == 0
    entry_id = next(l for l in env.cli("history").stdout.splitlines() if "FS 91/11/2026" in l).split()[0]
    refused = env.cli("retry", entry_id)
    assert refused.returncode == 1
    assert "został już wysłany" in refused.stderr and "status" in refused.stderr and "do wysłania" in refused.stderr


def test_send_counts_its_requests_in_the_shared_budget_of_the_data_dir(export_env):
    """Issue 16.4: a terminal `send` records its BaseLinker requests where the tray sees them."""
    import sqlite3

    from tests.support.export_env import TOKEN

    env = export_env
    env.add_doc("FS")
    assert env.cli("send").returncode == 0
    ledger = env.data_dir / "request-budget.sqlite3"
    with sqlite3.connect(ledger) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM slots").fetchone()
    assert count == len(env.state.calls) > 0  # every request of that process, still in the window
    assert TOKEN.encode() not in ledger.read_bytes()


def test_send_prints_each_line_then_the_numbers(export_env):
    """Issue 10.3: a line per document as it finishes, then BaseLinker's numbers, then the summary."""
    env = export_env
    order_id = env.add_doc("FS", "FS 5/11/2026")[1]
    out = env.cli("send")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    number = env.invoices(order_id)[0]["number"]
    sent = next(i for i, line in enumerate(lines) if line.startswith("FS 5/11/2026") and "wysłano" in line)
    header = lines.index("Numery nadane przez BaseLinker:")
    assert sent < header
    assert lines[header + 1].startswith("FS 5/11/2026") and lines[header + 1].endswith(f"→ {number}")
    assert lines[-1].startswith("Podsumowanie")
