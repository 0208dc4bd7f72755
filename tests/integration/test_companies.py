"""Several companies in one agent (issue 14), end to end: real Firebird server over TCP (a WIN1250
database per company), BaseLinker sandboxes over real HTTP (an account and a token per company),
``raksbl`` run as a process where a user would run it."""

from __future__ import annotations

import re

import pytest
import tomlkit

from agent.export.dbkey import split_key
from agent.export.journal import Journal
from agent.raks.schema import make_pdf
from tests.support.companies import TOKEN_B
from tests.support.export_env import TOKEN


def _lines(result) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.strip()]


def _companies_of_journal(env) -> set[str]:
    with env.journal() as journal:
        return {split_key(key)[0] for key in journal.database_keys()}


# -- two companies, two databases, two accounts -----------------------------------------------------
def test_two_companies_each_send_to_their_own_account_exactly_once(two_companies):
    env = two_companies
    a, b = env["sklep-a"], env["sklep-b"]
    fs_a, order_fs_a = a.add_doc("FS")
    pa_a, order_pa_a = a.add_doc("PA")
    fs_b, order_fs_b = b.add_doc("FS")  # the same RaksSQL number and order id as sklep-a's invoice
    assert a.conn is not b.conn and order_fs_a == order_fs_b

    result = env.cli("send")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = _lines(result)
    assert all(line.startswith(("sklep-a: ", "sklep-b: ", "Razem (2 firmy) — ")) for line in lines), lines
    assert sum(1 for l in lines if l.startswith("sklep-a: ") and "wysłano → BaseLinker" in l) == 2
    assert sum(1 for l in lines if l.startswith("sklep-b: ") and "wysłano → BaseLinker" in l) == 1
    assert lines[-1].startswith("Razem (2 firmy) — wysłano: 3, błędy: 0")

    # Each account got its own company's documents, and only them.
    [inv_a] = a.invoices(order_fs_a)
    [inv_b] = b.invoices(order_fs_b)
    assert len(a.receipts(order_pa_a)) == 1 and b.receipts(order_pa_a) == []
    assert inv_a["external_invoice_number"] == inv_b["external_invoice_number"] == "FS 1/11/2026/MAG"
    assert a.state.invoice_file(inv_a["invoice_id"]) and b.state.invoice_file(inv_b["invoice_id"])
    assert (a.status("FS", fs_a), a.status("PA", pa_a), b.status("FS", fs_b)) == (3, 3, 3)
    errors = {c.error_code for c in a.state.calls + b.state.calls}
    assert not errors & {"ERROR_AUTH_TOKEN", "ERROR_BLOCKED_TOKEN"}, errors  # each token where it belongs
    assert _companies_of_journal(env) == {"sklep-a", "sklep-b"}  # one journal, keyed by company

    # A rerun sends nothing anywhere: the same number in two companies is two documents, each once.
    writes = (len(a.state.write_calls()), len(b.state.write_calls()))
    again = env.cli("send")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "sklep-a: Brak dokumentów do wysłania." in again.stdout
    assert "sklep-b: Brak dokumentów do wysłania." in again.stdout
    assert (len(a.state.write_calls()), len(b.state.write_calls())) == writes

    # --company: only that company; its lines still name it, no total line.
    new_a, order_new_a = a.add_doc("FS")
    new_b, order_new_b = b.add_doc("FS")
    only_b = env.cli("send", "--company", "SKLEP-B")
    assert only_b.returncode == 0, only_b.stdout + only_b.stderr
    assert all(line.startswith("sklep-b: ") for line in _lines(only_b)), only_b.stdout
    assert len(b.invoices(order_new_b)) == 1 and b.status("FS", new_b) == 3
    assert a.invoices(order_new_a) == [] and a.status("FS", new_a) == 2

    # history: a company column; --company filters.
    history = _lines(env.cli("history"))
    assert {line.split()[3] for line in history} == {"sklep-a", "sklep-b"}
    only_a = _lines(env.cli("history", "--company", "sklep-a"))
    assert len(only_a) == 2 and not any("sklep-" in line for line in only_a)


@pytest.mark.parametrize("fault", ["database down", "token revoked", "wrong setting"])
def test_one_company_failing_never_stops_the_other_and_the_exit_code_is_the_worst(two_companies, fault):
    env = two_companies
    a, b = env["sklep-a"], env["sklep-b"]
    fs_a, order_a = a.add_doc("FS")
    fs_b, order_b = b.add_doc("FS")
    extra_env = {}
    if fault == "database down":  # a stopped alias / a moved file; the shared server keeps running
        env.companies["sklep-a"].settings["raks.database"] = f"localhost:{b.db.path.parent}/NIE_MA_TAKIEJ.fdb"
        env.write()
    elif fault == "wrong setting":  # a hand edit of sklep-a's table: sklep-b's invoices still flow
        env.companies["sklep-a"].settings["raks.status_after_send"] = 0
        env.write()
    else:  # the token was revoked in BaseLinker
        extra_env["RAKSBL_BASELINKER_TOKEN_SKLEP_A"] = "revoked-token"

    result = env.cli("send", extra_env=extra_env)
    assert result.returncode == 2, result.stdout + result.stderr  # the worst: nothing attempted for sklep-a
    expected = {"database down": ("sklep-a: Przerwano: ", "NIE_MA_TAKIEJ.fdb"),
                "token revoked": ("sklep-a: Przerwano: ", "ERROR_AUTH_TOKEN"),
                "wrong setting": ("sklep-a: Błąd ustawień: ", "Ustawienie raks.status_after_send: wybierz status")}[fault]
    failed = next(l for l in _lines(result) if l.startswith(expected[0]))
    assert expected[1] in failed, result.stdout
    assert len(b.invoices(order_b)) == 1 and b.status("FS", fs_b) == 3  # the other company sent
    assert a.invoices(order_a) == [] and a.status("FS", fs_a) == 2 and a.state.write_calls() == []
    assert "Razem (2 firmy) — wysłano: 1" in result.stdout

    doctor = env.cli("doctor", extra_env=extra_env)
    assert doctor.returncode == 2, doctor.stdout + doctor.stderr
    out = doctor.stdout
    section_a, section_b = out.split("=== Firma sklep-a ===")[1].split("=== Firma sklep-b ===")
    assert "BŁĄD" in section_a and "BŁĄD" not in section_b
    assert "połączenie: OK, serwer" in section_b
    assert out.rstrip().endswith("Problemy: sklep-a (szczegóły powyżej).")
    assert doctor.returncode == 2 and env.cli("doctor", "--company", "sklep-b", extra_env=extra_env).returncode == 0


def test_doctor_says_whose_secret_each_company_uses_and_never_prints_it(two_companies):
    env = two_companies
    result = env.cli("doctor", extra_env={"RAKSBL_BASELINKER_TOKEN": TOKEN_B},
                     without=("RAKSBL_BASELINKER_TOKEN_SKLEP_B",))
    assert result.returncode == 0, result.stdout + result.stderr
    section_a, section_b = result.stdout.split("=== Firma sklep-a ===")[1].split("=== Firma sklep-b ===")
    assert "token: własny firmy (zmienna RAKSBL_BASELINKER_TOKEN_SKLEP_A)" in section_a
    assert "token: wspólny (zmienna RAKSBL_BASELINKER_TOKEN)" in section_b
    assert "hasło: wspólny (zmienna RAKSBL_RAKS_PASSWORD)" in section_a
    assert result.stdout.rstrip().endswith("Wszystkie firmy (2) w porządku.")
    for secret in (TOKEN, TOKEN_B, env["sklep-a"].db.password):
        assert secret not in result.stdout + result.stderr


def test_each_company_uses_its_own_secret_before_the_shared_fallback(two_companies):
    env = two_companies
    a, b = env["sklep-a"], env["sklep-b"]
    # 1. sklep-b has no token of its own: the unsuffixed one is its fallback.
    _, order = b.add_doc("FS")
    shared = env.cli("send", extra_env={"RAKSBL_BASELINKER_TOKEN": TOKEN_B}, without=("RAKSBL_BASELINKER_TOKEN_SKLEP_B",))
    assert shared.returncode == 0, shared.stdout + shared.stderr
    assert len(b.invoices(order)) == 1

    # 2. its own token in the keyring (baselinker-token/sklep-b) beats a shared one that is wrong there.
    stored = env.cli("secret", "set", "baselinker-token", "--company", "sklep-b", stdin=TOKEN_B + "\n")
    assert stored.returncode == 0 and "baselinker-token/sklep-b" in stored.stdout, stored.stdout + stored.stderr
    _, order = b.add_doc("FS")
    _, order_a = a.add_doc("FS")
    own = env.cli("send", extra_env={"RAKSBL_BASELINKER_TOKEN": TOKEN}, without=("RAKSBL_BASELINKER_TOKEN_SKLEP_B",))
    assert own.returncode == 0, own.stdout + own.stderr
    assert len(b.invoices(order)) == 1 and len(a.invoices(order_a)) == 1

    # 3. a company without any token says which one it misses; the other still sends.
    _, order = b.add_doc("FS")
    env.cli("secret", "delete", "baselinker-token", "--company", "sklep-b")
    missing = env.cli("send", without=("RAKSBL_BASELINKER_TOKEN_SKLEP_B",))
    assert missing.returncode == 2
    assert ("sklep-b: Błąd ustawień: Brak sekretu: token API BaseLinker firmy sklep-b." in missing.stdout
            and "RAKSBL_BASELINKER_TOKEN_SKLEP_B" in missing.stdout), missing.stdout
    assert b.invoices(order) == []


# -- one token, one budget ---------------------------------------------------------------------------
def test_two_companies_on_one_token_stay_within_one_budget(two_companies, monkeypatch):
    """Both companies' databases send to ONE account (one token). sklep-a allows itself 1000
    requests/min, sklep-b 20: together they must use 20. Time is scaled: the sandbox and the
    agent's limiter count 20 requests per 6 s window instead of 60 s (the same code, 10 × faster),
    so the test crosses the budget twice in seconds."""
    from agent.baselinker import ratelimit
    from agent.export.run import run_companies

    window, budget = 6.0, 20
    env = two_companies
    a, b = env["sklep-a"], env["sklep-b"]
    account = a  # the one BaseLinker account
    account.state.configure(requests_per_minute=budget, window_seconds=window, block_seconds=1)
    (b.tmp / "one-account").mkdir()
    b.close()
    env.companies["sklep-b"].env = type(b)(b.db, account.state, account.server, b.tmp / "one-account")  # a's account
    b = env["sklep-b"]
    env.companies["sklep-b"].token = TOKEN
    env.companies["sklep-b"].settings["baselinker.requests_per_minute"] = budget
    env.write()
    monkeypatch.setenv("RAKSBL_BASELINKER_TOKEN_SKLEP_B", TOKEN)
    # The agent's limiter of this token, with the scaled window (run_companies sets its rate).
    monkeypatch.setitem(ratelimit._shared, TOKEN, ratelimit.RateLimiter(1000, window=window))

    docs = [(a, *a.add_doc("FS")) for _ in range(6)] + [(b, *b.add_doc("FS")) for _ in range(6)]
    with env.journal() as journal:
        total = run_companies(env.settings(), trigger="cli", journal=journal)

    assert total.exit_code == 0 and len(total.sent) == 12, total.aborted
    for company, raks_id, order_id in docs:
        assert len(account.invoices(order_id)) == 1 and company.status("FS", raks_id) == 3
    calls = account.state.calls
    assert len(calls) > 2 * budget  # the budget was crossed (else the test proves nothing)
    assert all(c.error_code != "ERROR_BLOCKED_TOKEN" for c in calls)
    times = sorted(c.time for c in calls)
    busiest = max(sum(1 for u in times if t - window < u <= t) for t in times)
    assert busiest <= budget, f"{busiest} requests in one {window:g} s window, budget {budget}"


# -- one company, as before -------------------------------------------------------------------------
def test_a_single_company_file_works_unchanged_and_turning_it_into_a_list_keeps_the_journal(export_env):
    env = export_env
    skipped_id, skipped_order = env.add_doc("FS", "FS 50/11/2026", pdf=b"")
    sent_id, sent_order = env.add_doc("FS", "FS 51/11/2026")
    first = env.cli("send")
    assert first.returncode == 1, first.stdout + first.stderr
    assert not any(re.match(r"[\w-]+: ", line) for line in _lines(first)), first.stdout  # no company prefix
    assert "Razem" not in first.stdout
    with Journal(env.data_dir / "journal.sqlite3") as journal:
        assert all(not key.startswith("[") for key in journal.database_keys())
    line = next(l for l in env.cli("history").stdout.splitlines() if "FS 50/11/2026" in l)
    assert line.split()[3:5] == ["FS", "50/11/2026"]  # no company column
    assert env.cli("skip", line.split()[0]).returncode == 0
    env.db.set_pdf("FS", skipped_id, make_pdf("FS 50/11/2026"))  # now it could be sent

    # The user turns the file into a list of companies (same database, same account).
    doc = tomlkit.parse(env.settings_path.read_text(encoding="utf-8"))
    company = tomlkit.table()
    company.add("name", "sklep-a")
    company.add("baselinker", doc.pop("baselinker"))
    company.add("raks", doc.pop("raks"))
    companies = tomlkit.aot()
    companies.append(company)
    doc["company"] = companies
    env.settings_path.write_text(tomlkit.dumps(doc), encoding="utf-8")
    assert env.settings().company_names == ("sklep-a",)
    new_id, new_order = env.add_doc("FS", "FS 52/11/2026")

    after = env.cli("send")
    assert after.returncode == 0, after.stdout + after.stderr
    assert re.search(r"^sklep-a: FS 50/11/2026 .*pominięto", after.stdout, re.M), after.stdout  # still skipped
    assert re.search(r"^sklep-a: FS 52/11/2026 .*wysłano", after.stdout, re.M)
    assert env.invoices(skipped_order) == [] and env.status("FS", skipped_id) == 2
    assert len(env.invoices(sent_order)) == 1 and len(env.invoices(new_order)) == 1
    with Journal(env.data_dir / "journal.sqlite3") as journal:
        assert {split_key(key)[0] for key in journal.database_keys()} == {"sklep-a"}  # adopted
    history = env.cli("history", "--company", "sklep-a").stdout
    assert re.search(r"FS 50/11/2026 .*pominięty", history), history


# -- inspect-db for one company ----------------------------------------------------------------------
def test_inspect_db_writes_the_proposal_into_the_chosen_companys_tables(two_companies, tmp_path):
    from tests.support.layouts import LAYOUTS, SENT, TO_SEND, LayoutDb

    env = two_companies
    a, b = env["sklep-a"], env["sklep-b"]
    (tmp_path / "wydruki").mkdir()
    # sklep-b's RaksSQL keeps the Status, the PDF and the order id elsewhere than the default profile.
    layout_b = LayoutDb(b.db, LAYOUTS["status_column_blob_column"], tmp_path / "wydruki")
    fs_a, order_a = a.add_doc("FS")
    order_b = b.add_order()
    fs_b = layout_b.add_doc("FS", "FS 1/11/2026/MAG", order_id=order_b)

    misfit = env.cli("send")  # sklep-b's profile does not fit its database: sklep-a still sends
    assert misfit.returncode == 2, misfit.stdout + misfit.stderr
    assert re.search(r"^sklep-b: (Błąd ustawień|Przerwano): ", misfit.stdout, re.M), misfit.stdout
    assert len(a.invoices(order_a)) == 1 and a.status("FS", fs_a) == 3

    refused = env.cli("inspect-db", "--propose")
    assert refused.returncode == 2 and "kilka firm (sklep-a, sklep-b)" in refused.stderr, refused.stderr

    result = env.cli("inspect-db", "--company", "sklep-b", "--propose", "--write")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert out.startswith(f"Firma sklep-b ({b.db.dsn})")
    assert f"Zapisano w {env.settings_path} (firma sklep-b)" in out
    assert "=== Firma sklep-b ===" in out and "=== Firma sklep-a ===" not in out  # doctor of that company
    assert re.search(r"20\s+Do wysłania do BL\s+1 / 0\s+← do wysłania", out), out
    settings = env.settings()
    assert settings.for_company("sklep-b").raks.statuses_to_send == (TO_SEND,)
    assert settings.for_company("sklep-a").raks.statuses_to_send == (2,)  # the other company untouched
    assert settings.for_company("sklep-a").raks.queries == {}

    sent = env.cli("send")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert len(b.invoices(order_b)) == 1 and layout_b.status(fs_b) == SENT
    assert len(a.invoices(order_a)) == 1  # nothing twice
