"""The history window's logic on a real journal file, driven through a fake view."""

from __future__ import annotations

import pytest

from agent.export.journal import Journal
from ui import history_presenter as hp

DB = "localhost:/x/F00001.fdb"


class FakeView:
    def __init__(self, answer: bool = True):
        self.rows: list = []
        self.selected: list = []
        self.actions: dict = {}
        self.detail = ""
        self.status = ("", "")
        self.confirmations: list = []
        self.answer = answer
        self.clipboard = None
        self.closed = False

    def show_rows(self, rows, selected):
        self.rows, self.selected = list(rows), list(selected)

    def set_actions(self, enabled):
        self.actions = dict(enabled)

    def set_detail(self, text):
        self.detail = text

    def set_status(self, text, kind=""):
        self.status = (text, kind)

    def confirm(self, title, text):
        self.confirmations.append((title, text))
        return self.answer

    def set_clipboard(self, text):
        self.clipboard = text

    def close(self):
        self.closed = True

    def show_companies(self, names, selected):
        self.companies = (list(names), selected)


@pytest.fixture
def journal(tmp_path):
    clock = iter(range(1_800_000_000, 1_800_001_000))
    j = Journal(tmp_path / "journal.sqlite3", clock=lambda: next(clock))
    yield j
    j.close()


def add(journal, raks_id, state, *, number=None, order_id=1000, **fields):
    entry = journal.ensure(DB, "FS" if raks_id < 100 else "PA", raks_id, number or f"FS {raks_id}/11/2026/MAG", order_id)
    return journal.mark(entry, state, **fields)


@pytest.fixture
def filled(journal):
    ids = {
        "done": add(journal, 1, "done", bl_doc_id=501, bl_number="FV 1/11/2026", order_id=1001).id,
        "failed": add(journal, 2, "failed", error="BaseLinker (addInvoice): Order not found [ERROR_ORDER_NOT_FOUND]",
                      order_id=1002).id,
        "in_doubt": add(journal, 3, "in_doubt", error="Nie wiadomo, czy faktura powstała (przerwane połączenie).",
                        order_id=1003).id,
        "no_order": add(journal, 4, "failed", error="Brak numeru zamówienia w sygnaturze.", order_id=None).id,
        "receipt": add(journal, 150, "done", bl_doc_id=77, bl_number="PAR/5/2026", order_id=1005).id,
    }
    return ids


def make(journal, **kwargs):
    view = FakeView(**kwargs)
    opened: list = []
    presenter = hp.HistoryPresenter(view, lambda: journal, open_url=opened.append)
    presenter.load()
    return presenter, view, opened


def test_rows_show_date_type_number_order_result_and_number_or_error(journal, filled):
    presenter, view, _ = make(journal)
    rows = {r.id: r for r in view.rows}
    assert len(rows) == 5
    done = rows[filled["done"]]
    assert (done.doc_type, done.number, done.order_id, done.result, done.detail) == (
        "faktura", "FS 1/11/2026/MAG", "1001", "wysłano", "FV 1/11/2026")
    assert done.date.startswith("2027-01-15")  # epoch 1_800_000_000 in local time, date part
    failed = rows[filled["failed"]]
    assert failed.result == "błąd" and "ERROR_ORDER_NOT_FOUND" in failed.detail
    assert rows[filled["in_doubt"]].result == "wymaga sprawdzenia"
    assert rows[filled["receipt"]].doc_type == "paragon"
    assert rows[filled["no_order"]].order_id == ""
    assert view.rows[0].id == filled["receipt"]  # most recent first
    assert "z błędami lub do sprawdzenia: 3" in view.status[0]


def test_filter_only_errors(journal, filled):
    presenter, view, _ = make(journal)
    presenter.set_failed_only(True)
    assert {r.id for r in view.rows} == {filled["failed"], filled["in_doubt"], filled["no_order"]}
    presenter.set_failed_only(False)
    assert len(view.rows) == 5


def test_empty_journal_says_so(journal):
    presenter, view, _ = make(journal)
    assert view.rows == [] and view.status[0] == "Dziennik jest pusty."
    presenter.set_failed_only(True)
    assert view.status[0] == "Brak dokumentów z błędami."


def test_actions_follow_the_selection(journal, filled):
    presenter, view, _ = make(journal)
    assert view.actions == {"retry": False, "skip": False, "open_order": False, "copy_error": False}
    presenter.select([filled["done"]])
    assert view.actions == {"retry": False, "skip": False, "open_order": True, "copy_error": False}
    assert "FV 1/11/2026" in view.detail
    presenter.select([filled["failed"]])
    assert view.actions == {"retry": True, "skip": True, "open_order": True, "copy_error": True}
    assert "ERROR_ORDER_NOT_FOUND" in view.detail
    presenter.select([filled["no_order"]])
    assert view.actions["open_order"] is False


def test_retry_failed_releases_it_without_asking(journal, filled):
    presenter, view, _ = make(journal)
    presenter.select([filled["failed"]])
    assert presenter.retry() == 1
    assert view.confirmations == []
    assert journal.by_id(filled["failed"]).retry_allowed
    assert view.status[1] == "ok" and "następnym uruchomieniu" in view.status[0]
    assert next(r for r in view.rows if r.id == filled["failed"]).result == "błąd (ponowienie zaplanowane)"


def test_retry_in_doubt_explains_the_risk_and_respects_no(journal, filled):
    presenter, view, _ = make(journal, answer=False)
    presenter.select([filled["in_doubt"]])
    assert presenter.retry() == 0
    title, text = view.confirmations[0]
    assert "sprawdzenia" in title and "dwa dokumenty" in text
    assert not journal.by_id(filled["in_doubt"]).retry_allowed

    view.answer = True
    assert presenter.retry() == 1
    assert journal.by_id(filled["in_doubt"]).retry_allowed


def test_skip_and_undo_with_retry(journal, filled):
    presenter, view, _ = make(journal)
    presenter.select([filled["failed"]])
    assert presenter.skip() == 1
    assert journal.by_id(filled["failed"]).state == "skipped"
    assert "Pominąć" in view.confirmations[-1][1]
    row = next(r for r in view.rows if r.id == filled["failed"])
    assert row.result == "pominięty"
    assert view.selected == [filled["failed"]]  # the selection survives the refresh
    assert view.actions["retry"] and not view.actions["skip"]
    assert presenter.retry() == 1
    assert journal.by_id(filled["failed"]).state == "pending"


def test_skip_is_refused_for_a_sent_document(journal, filled):
    presenter, view, _ = make(journal)
    presenter.select([filled["done"]])
    assert presenter.skip() == 0
    assert journal.by_id(filled["done"]).state == "done"
    assert view.status[1] == "warning"


def test_a_document_sent_meanwhile_is_reported_not_changed(journal, filled):
    presenter, view, _ = make(journal)
    presenter.select([filled["failed"]])
    journal.mark(journal.by_id(filled["failed"]), "done", bl_number="FV 9/2026")  # the agent sent it meanwhile
    assert presenter.skip() == 0
    assert "został już wysłany" in view.status[0]
    assert journal.by_id(filled["failed"]).state == "done"


def test_open_order_in_baselinker(journal, filled):
    presenter, view, opened = make(journal)
    presenter.select([filled["failed"], filled["done"], filled["no_order"]])
    assert presenter.open_order() == 2
    assert opened == ["https://panel-e.baselinker.com/orders.php#order:1002",
                      "https://panel-e.baselinker.com/orders.php#order:1001"]
    presenter.select([filled["no_order"]])
    assert presenter.open_order() == 0 and view.status[1] == "warning"


def test_copy_error_text(journal, filled):
    presenter, view, _ = make(journal)
    presenter.select([filled["in_doubt"]])
    assert presenter.copy_error() == "Nie wiadomo, czy faktura powstała (przerwane połączenie)."
    assert view.clipboard == "Nie wiadomo, czy faktura powstała (przerwane połączenie)."
    presenter.select([filled["failed"], filled["in_doubt"]])
    text = presenter.copy_error()
    assert text.count("\n") == 1 and "FS 2/11/2026/MAG (zam. 1002): BaseLinker" in text
    presenter.select([filled["done"]])
    view.clipboard = None
    assert presenter.copy_error() == "" and view.clipboard is None


def test_refresh_picks_up_new_documents_and_close_releases_the_journal(tmp_path):
    path = tmp_path / "j.sqlite3"
    writer = Journal(path)
    view = FakeView()
    presenter = hp.HistoryPresenter(view, lambda: Journal(path), open_url=lambda url: None)
    presenter.load()
    assert view.rows == []
    add(writer, 9, "failed", error="x")
    presenter.refresh()
    assert [r.number for r in view.rows] == ["FS 9/11/2026/MAG"]
    presenter.close()
    assert view.closed and presenter._journal is None
    presenter.refresh()  # after closing: nothing happens
    writer.close()


@pytest.mark.parametrize("count, verb", [(1, "1 z zaznaczonych dokumentów wymaga"), (2, "2 z zaznaczonych dokumentów wymagają"),
                                         (5, "5 z zaznaczonych dokumentów wymaga"), (22, "22 z zaznaczonych dokumentów wymagają")])
def test_in_doubt_warning_agrees_with_the_count(count, verb):
    from ui.history_presenter import in_doubt_warning

    text = in_doubt_warning(count)
    assert text.startswith(verb)
    assert ("dla niego" in text) == (count == 1)


def test_a_correction_is_shown_as_korekta(journal):
    entry = journal.ensure(DB, "KS", 7, "KOR 1/12/2026", 1009)
    journal.mark(entry, "done", bl_doc_id=900, bl_number="KOR/1/12/2026")
    presenter, view, _ = make(journal)
    [row] = view.rows
    assert (row.doc_type, row.number, row.detail) == ("korekta", "KOR 1/12/2026", "KOR/1/12/2026")


# --- several companies ---------------------------------------------------------------------------


def add_for(journal, company, raks_id, state, **fields):
    from agent.export.dbkey import company_key

    entry = journal.ensure(company_key(company, DB), "FS", raks_id, f"FS {raks_id}/{company or 'x'}", 1000 + raks_id)
    return journal.mark(entry, state, **fields).id


def test_one_company_shows_no_company_column_or_filter(journal, filled):
    presenter, view, _ = make(journal)
    assert view.companies == ([], None)
    assert {r.company for r in view.rows} == {""}
    presenter.select([filled["failed"]])
    assert view.detail.startswith("faktura FS 2/11/2026/MAG — błąd")  # no company named


def test_several_companies_get_a_column_and_a_filter(journal):
    a1 = add_for(journal, "sklep-a", 1, "done", bl_doc_id=1, bl_number="FV 1")
    b1 = add_for(journal, "sklep-b", 1, "failed", error="Brak PDF")  # the same RaksSQL id, another company
    b2 = add_for(journal, "sklep-b", 2, "done", bl_doc_id=2, bl_number="FV 2")
    presenter, view, _ = make(journal)
    assert view.companies == (["sklep-a", "sklep-b"], None)
    assert {r.id: r.company for r in view.rows} == {a1: "sklep-a", b1: "sklep-b", b2: "sklep-b"}
    presenter.select([b1])
    assert view.detail.splitlines()[0] == "sklep-b: faktura FS 1/sklep-b — błąd, prób: 0"

    presenter.set_company("sklep-b")
    assert {r.id for r in view.rows} == {b1, b2}
    presenter.set_failed_only(True)
    assert [r.id for r in view.rows] == [b1]
    presenter.set_company("sklep-a")
    assert view.rows == [] and view.status[0] == "Brak dokumentów z błędami."
    presenter.set_failed_only(False)
    presenter.set_company(None)
    assert len(view.rows) == 3


def test_entries_of_no_named_company_are_labelled_and_filterable(journal):
    old = add_for(journal, "", 7, "done", bl_doc_id=7)  # written before the file listed companies
    new = add_for(journal, "sklep-a", 1, "done", bl_doc_id=1)
    presenter, view, _ = make(journal)
    assert view.companies == (["(bez nazwy)", "sklep-a"], None)
    presenter.set_company("(bez nazwy)")
    assert [r.id for r in view.rows] == [old]
    presenter.set_company("sklep-a")
    assert [r.id for r in view.rows] == [new]
