"""RaksRepository against a real Firebird server over TCP (WIN1250 default-layout database)."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from decimal import Decimal

import pytest

from agent.raks.errors import ProfileError, RaksConnectionError, RowLocked
from agent.raks.repository import Document, RaksRepository
from agent.raks.schema import STATUS_ERROR, STATUS_NEW, STATUS_SENT, STATUS_TO_SEND

# Also on Firebird 5 embedded and with the Firebird 5 client (tests/integration/test_firebird_matrix.py).
pytestmark = pytest.mark.firebird_matrix

POLISH_NUMBER = "FS 1/11/2026/MAGAZYN Łódź"
POLISH_BUYER = "Zakład Usług Źródlanych Ślęża Sp. z o.o."


def _ids(docs):
    return [(d.doc_type, d.raks_id) for d in docs]


def test_pending_selects_by_type_status_and_date(company_db):
    d = dt.date(2026, 11, 1)
    fs1 = company_db.add_document(number="FS 1/11/2026", issue_date=d, sygnatura="BL 1001")
    pa1 = company_db.add_document(doc_type="PA", number="PA 1/11/2026", issue_date=d - dt.timedelta(days=1))
    company_db.add_document(number="FS 2/11/2026", status_id=STATUS_NEW, issue_date=d)
    company_db.add_document(number="FS 3/11/2026", status_id=STATUS_SENT, issue_date=d)
    company_db.add_document(number="FS 4/11/2026", status_id=None, issue_date=d)
    old = company_db.add_document(number="FS 9/10/2026", issue_date=dt.date(2026, 10, 2))
    fs5 = company_db.add_document(number="FS 5/11/2026", status_id=5, issue_date=d)

    repo = company_db.repository()
    assert _ids(repo.pending_documents()) == [("FS", old), ("PA", pa1), ("FS", fs1)]

    repo = company_db.repository(document_types=("FS",), statuses_to_send=(2, 5), not_before=dt.date(2026, 11, 1))
    assert _ids(repo.pending_documents()) == [("FS", fs1), ("FS", fs5)]

    repo = company_db.repository(document_types=("PA",))
    assert _ids(repo.pending_documents()) == [("PA", pa1)]


def test_pending_document_fields_and_polish_round_trip(company_db):
    raks_id = company_db.add_document(
        number=POLISH_NUMBER, buyer_name=POLISH_BUYER, buyer_nip="PL 526-000-12-46",
        sygnatura="BL 12345678", total_gross=Decimal("1234.5"), issue_date=dt.date(2026, 11, 3),
    )
    [doc] = company_db.repository().pending_documents()
    pdf_len = len(company_db.repository().read_pdf(doc))
    assert doc == Document(
        raks_id=raks_id, doc_type="FS", number=POLISH_NUMBER, issue_date=dt.date(2026, 11, 3),
        order_ref="BL 12345678", order_id=12345678, status_id=STATUS_TO_SEND, buyer_name=POLISH_BUYER,
        buyer_nip="PL 526-000-12-46", total_gross=Decimal("1234.50"), currency="PLN", has_pdf=True,
        pdf_size=pdf_len,
    )
    assert str(doc.total_gross) == "1234.50"
    # and what the agent would write back comes out identical from another connection
    conn = company_db.connect()
    cur = conn.cursor()
    cur.execute("SELECT NUMER, NAZWA_PELNA_PLATNIKA FROM GM_FS WHERE ID = ?", (raks_id,))
    assert cur.fetchone() == (POLISH_NUMBER, POLISH_BUYER)
    cur.execute("SELECT CAST(NUMER AS VARCHAR(40) CHARACTER SET OCTETS) FROM GM_FS WHERE ID = ?", (raks_id,))
    assert cur.fetchone()[0] == POLISH_NUMBER.encode("cp1250")   # stored as WIN1250, not mojibake


def test_documents_without_pdf_are_reported(company_db):
    with_pdf = company_db.add_document(number="FS 1/2026")
    without = company_db.add_document(number="FS 2/2026", pdf=None)
    empty = company_db.add_document(number="FS 3/2026", pdf=b"")
    docs = {d.raks_id: d for d in company_db.repository().pending_documents()}
    assert docs[with_pdf].has_pdf and docs[with_pdf].pdf_size > 100
    assert not docs[without].has_pdf and docs[without].pdf_size is None
    # an empty stored file is a PDF row with nothing in it: reported as "empty", not "missing"
    assert docs[empty].has_pdf and docs[empty].pdf_size == 0
    repo = company_db.repository()
    assert repo.read_pdf(docs[without]) is None
    assert repo.read_pdf(docs[empty]) == b""
    assert repo.read_pdf(docs[with_pdf]).startswith(b"%PDF-")


def test_foreign_currency_and_missing_order_ref(company_db):
    company_db.add_document(number="FS 1/EUR", currency_id=2, sygnatura="")
    [doc] = company_db.repository().pending_documents()
    assert doc.currency == "ID_WALUTY=2"
    assert doc.order_ref == "" and doc.order_id is None


def test_order_id_pattern_from_settings(company_db):
    company_db.add_document(number="FS 1", sygnatura="zam. 55/12345")
    assert company_db.repository().pending_documents()[0].order_id == 55
    assert company_db.repository(order_id_pattern=r"/(\d+)").pending_documents()[0].order_id == 12345


def test_read_pdf_20_mb_exact(company_db):
    blob = os.urandom(20 * 1024 * 1024 + 123)
    raks_id = company_db.add_document(number="FS 20MB", pdf=blob)
    repo = company_db.repository()
    [doc] = repo.pending_documents()
    assert doc.pdf_size == len(blob)
    t = time.monotonic()
    data = repo.read_pdf(doc)
    elapsed = time.monotonic() - t
    assert type(data) is bytes and len(data) == len(blob) and data == blob
    assert elapsed < 10, elapsed
    assert raks_id == doc.raks_id


def test_statuses_and_counts(company_db):
    company_db.add_document(number="FS 1")
    company_db.add_document(number="FS 2")
    company_db.add_document(doc_type="PA", number="PA 1", status_id=STATUS_SENT)
    company_db.add_document(number="FS 3", status_id=None)
    repo = company_db.repository()
    assert repo.statuses() == [(1, "Nowy"), (2, "Do wysłania"), (3, "Wysłany do BaseLinker"), (4, "Błąd wysyłki")]
    assert repo.status_counts() == {(2, "FS"): 2, (3, "PA"): 1, (None, "FS"): 1}
    assert "Firebird" in repo.server_version() or repo.server_version()


# -- claims ---------------------------------------------------------------------------------------


def test_claim_and_conditional_set_status(company_db):
    raks_id = company_db.add_document(number="FS 1")
    repo = company_db.repository()
    [doc] = repo.pending_documents()
    with repo.claim(doc) as claim:
        assert claim.current_status == STATUS_TO_SEND and claim.exists
        assert claim.set_status(STATUS_SENT) is True
        assert company_db.status("FS", raks_id) == STATUS_TO_SEND   # not committed yet
        claim.commit()
    assert company_db.status("FS", raks_id) == STATUS_SENT
    assert repo.pending_documents() == []


def test_claim_without_commit_rolls_back(company_db):
    raks_id = company_db.add_document(number="FS 1")
    repo = company_db.repository()
    [doc] = repo.pending_documents()
    with repo.claim(doc) as claim:
        assert claim.set_status(STATUS_ERROR)
    assert company_db.status("FS", raks_id) == STATUS_TO_SEND
    with pytest.raises(RuntimeError):
        claim.set_status(STATUS_SENT)


def test_status_changed_by_someone_else_is_not_overwritten(company_db):
    raks_id = company_db.add_document(number="FS 1")
    repo = company_db.repository()
    [doc] = repo.pending_documents()
    company_db.set_status("FS", raks_id, STATUS_NEW)   # a RaksSQL user pulls it back meanwhile
    with repo.claim(doc) as claim:
        assert claim.current_status == STATUS_NEW
        assert claim.set_status(STATUS_SENT) is False
        claim.commit()
    assert company_db.status("FS", raks_id) == STATUS_NEW


def test_claim_of_a_deleted_document(company_db):
    company_db.add_document(number="FS 1")
    repo = company_db.repository()
    [doc] = repo.pending_documents()
    conn = company_db.connect()
    conn.cursor().execute("DELETE FROM GM_FS")
    conn.commit()
    with repo.claim(doc) as claim:
        assert not claim.exists and claim.current_status is None
        assert claim.set_status(STATUS_SENT) is False


def test_uncommitted_edit_by_another_connection_is_row_locked_at_once(company_db):
    raks_id = company_db.add_document(number=POLISH_NUMBER)
    repo = company_db.repository()
    [doc] = repo.pending_documents()
    editor = company_db.connect()      # a RaksSQL user editing the document
    editor.cursor().execute("UPDATE GM_FS SET UWAGI = 'edycja' WHERE ID = ?", (raks_id,))
    t = time.monotonic()
    with pytest.raises(RowLocked) as info:
        repo.claim(doc)
    assert time.monotonic() - t < 2
    msg = str(info.value)
    assert "zablokowany w RaksSQL" in msg and "ponowię przy następnym uruchomieniu" in msg
    assert POLISH_NUMBER in msg
    editor.rollback()
    with repo.claim(doc) as claim:        # the repository is still usable, the lock is gone
        assert claim.set_status(STATUS_SENT)
        claim.commit()
    assert company_db.status("FS", raks_id) == STATUS_SENT


def test_second_agent_cannot_claim_a_claimed_document(company_db):
    raks_id = company_db.add_document(number="FS 1")
    agent_a = company_db.repository()
    agent_b = company_db.repository()
    [doc_a] = agent_a.pending_documents()
    [doc_b] = agent_b.pending_documents()
    claim_a = agent_a.claim(doc_a)
    t = time.monotonic()
    with pytest.raises(RowLocked):
        agent_b.claim(doc_b)
    assert time.monotonic() - t < 2
    # the same agent cannot claim it twice either (second transaction, same connection)
    with pytest.raises(RowLocked):
        agent_a.claim(doc_a)
    assert claim_a.set_status(STATUS_SENT)
    claim_a.commit()
    with agent_b.claim(doc_b) as claim_b:
        assert claim_b.current_status == STATUS_SENT
        assert claim_b.set_status(STATUS_SENT) is False
    assert company_db.status("FS", raks_id) == STATUS_SENT
    assert agent_b.pending_documents() == []


def test_claims_from_threads_only_one_wins(company_db):
    company_db.add_document(number="FS 1")
    repos = [company_db.repository() for _ in range(4)]
    docs = [r.pending_documents()[0] for r in repos]
    barrier = threading.Barrier(len(repos))
    results = []

    def worker(repo, doc):
        barrier.wait()
        try:
            claim = repo.claim(doc)
        except RowLocked:
            results.append("locked")
            return
        ok = claim.set_status(STATUS_SENT)
        time.sleep(0.2)
        claim.commit()
        results.append(ok)

    threads = [threading.Thread(target=worker, args=(r, d)) for r, d in zip(repos, docs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(map(str, results)) == ["True", "locked", "locked", "locked"]


# -- profile overrides ----------------------------------------------------------------------------


def test_profile_override_is_used(company_db):
    conn = company_db.connect()
    conn.execute_immediate("CREATE TABLE MOJE_PDF (RODZAJ VARCHAR(2), ID_DOK INTEGER, DANE BLOB SUB_TYPE BINARY)")
    conn.commit()
    raks_id = company_db.add_document(number="FS 1", pdf=None)
    conn.cursor().execute("INSERT INTO MOJE_PDF VALUES ('FS', ?, ?)", (raks_id, b"%PDF-1.4 moje"))
    conn.commit()
    repo = company_db.repository(queries={
        "document_pdf": "SELECT DANE AS PLIK FROM MOJE_PDF WHERE RODZAJ = ? AND ID_DOK = ?",
        "statuses": "SELECT ID, NAZWA || ' (mój)' AS NAZWA FROM GM_STATUSY_DOK WHERE ID = 2",
    })
    [doc] = repo.pending_documents()
    assert repo.read_pdf(doc) == b"%PDF-1.4 moje"
    assert repo.statuses() == [(2, "Do wysłania (mój)")]


@pytest.mark.parametrize(
    "name, sql, fragment",
    [
        ("document_pdf", "SELECT PLIK FROM NIE_MA_TAKIEJ_TABELI WHERE A = ? AND B = ?", "NIE_MA_TAKIEJ_TABELI"),
        ("statuses", "SELEC ID, NAZWA FROM GM_STATUSY_DOK", "Token unknown"),
        ("statuses", "SELECT ID FROM GM_STATUSY_DOK", "NAZWA"),
        ("pending_documents", "SELECT f.*, 1 AS HAS_PDF FROM GM_FS f WHERE f.ID = ?", "parametr"),
        ("set_status", "UPDATE GM_FS SET ID_STATUSU = ? WHERE ID = ?", "parametr"),
    ],
)
def test_broken_override_is_a_profile_error_naming_the_statement(company_db, name, sql, fragment):
    with pytest.raises(ProfileError) as info:
        company_db.repository(queries={name: sql})
    err = info.value
    assert err.key == f"raks.queries.{name}"
    assert f"raks.queries.{name}" in str(err) and fragment in str(err)
    assert company_db.password not in str(err)


def test_override_failing_at_run_time_is_a_profile_error(company_db):
    company_db.add_document(number="FS 1")
    repo = company_db.repository(queries={
        "status_counts": "SELECT ID_STATUSU, TYP_DOK_MAGAZYNOWEGO AS TYP, CAST(NUMER AS INTEGER) AS ILE FROM GM_FS",
    })
    with pytest.raises(ProfileError) as info:
        repo.status_counts()
    assert info.value.key == "raks.queries.status_counts"
    assert repo.statuses()     # the connection is still fine


# -- inspect ---------------------------------------------------------------------------------------


def test_inspect_finds_status_pdf_and_order_candidates(company_db):
    with company_db.repository() as repo:
        candidates = repo.inspect()
    labels = {(c.purpose, c.label) for c in candidates}
    assert ("status", "GM_FS.ID_STATUSU") in labels
    assert ("status", "GM_STATUSY_DOK") in labels
    assert ("pdf", "GM_PDF") in labels
    assert ("pdf", "GM_PDF.PLIK") in labels
    assert ("order", "GM_FS.SYGNATURA") in labels
    assert ("order", "GM_ZK.NR_ZAMOWIENIA_NABYWCY") in labels
    by_label = {c.label: c for c in candidates}
    assert by_label["GM_FS.ID_STATUSU"].type == "INTEGER"
    assert by_label["GM_PDF.PLIK"].type == "BLOB SUB_TYPE BINARY"
    assert by_label["GM_FS.SYGNATURA"].type == "VARCHAR(60)"
    assert not any(c.table.startswith("RDB$") or c.table.startswith("MON$") for c in candidates)
    purposes = [c.purpose for c in candidates]
    assert purposes == sorted(purposes, key=["status", "pdf", "order"].index)


def test_context_manager_and_close(company_db):
    repo = RaksRepository(company_db.raks_settings(), company_db.password)
    with repo:
        assert repo.connected
    assert not repo.connected
    with pytest.raises(RaksConnectionError):
        repo.pending_documents()
    assert company_db.password not in repr(repo)
