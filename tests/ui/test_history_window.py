"""The real "Historia" window under Xvfb on a journal file: rows, filter, actions; screenshot."""

from __future__ import annotations

import time

import pytest

from agent.export.journal import Journal
from tests.support import xdisplay
from tests.support.export_env import REPO_ROOT
from ui.history import open_history_window

pytestmark = [pytest.mark.ui]

ARTIFACTS = REPO_ROOT / "test-artifacts"
DB = "localhost:C:/RAKS/Data/F00001.fdb"


@pytest.fixture
def journal_path(tmp_path):
    path = tmp_path / "journal.sqlite3"
    with Journal(path) as j:
        def add(raks_id, doc_type, number, order_id, state, **fields):
            return j.mark(j.ensure(DB, doc_type, raks_id, number, order_id), state, **fields).id

        add(1, "FS", "FS 1/11/2026/MAG", 51001, "done", bl_doc_id=9001, bl_number="FV 1/11/2026")
        add(2, "PA", "PA 7/11/2026/MAG", 51002, "done", bl_doc_id=9002, bl_number="PAR/7/2026")
        add(3, "FS", "FS 2/11/2026/MAG", 51003, "failed",
            error="BaseLinker (addInvoice): Zamówienie nie istnieje [ERROR_ORDER_NOT_FOUND]")
        add(4, "FS", "FS 3/11/2026/MAG", 51004, "in_doubt",
            error="Przerwane połączenie po addInvoice — nie wiadomo, czy faktura powstała.")
        add(5, "FS", "FS 4/11/2026/MAG", None, "failed", error="Brak numeru zamówienia BaseLinker w sygnaturze.")
        add(6, "PA", "PA 8/11/2026/MAG", 51006, "skipped")
    return path


def pump(root, seconds=0.2):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        root.update()
        time.sleep(0.02)


def select(window, *ids):
    window.tree.selection_set([str(i) for i in ids])
    window.tree.event_generate("<<TreeviewSelect>>")
    window.top.update()


def test_history_window_lists_filters_and_acts(root, journal_path):
    opened = []
    window = open_history_window(root, journal_path, open_url=opened.append, refresh_ms=0)
    pump(root)
    tree = window.tree
    rows = [tree.item(i, "values") for i in tree.get_children()]
    assert len(rows) == 6
    assert rows[-1][1:6] == ("faktura", "FS 1/11/2026/MAG", "51001", "wysłano", "FV 1/11/2026")
    assert rows[-1][6] == ""  # the company column (hidden: one company)
    failed_iid = next(i for i in tree.get_children() if tree.item(i, "values")[2] == "FS 2/11/2026/MAG")
    assert "ERROR_ORDER_NOT_FOUND" in tree.item(failed_iid, "values")[5]
    assert "failed" in tree.item(failed_iid, "tags")
    assert all(str(b.cget("state")) == "disabled" for b in window.buttons.values())

    select(window, failed_iid)
    pump(root)
    xdisplay.screenshot(window.top.wm_frame(), ARTIFACTS / "history.png", window.top.winfo_screen())
    assert (ARTIFACTS / "history.png").stat().st_size > 5000
    assert str(window.buttons["retry"].cget("state")) == "normal"
    assert "ERROR_ORDER_NOT_FOUND" in window.detail.get("1.0", "end")

    window.buttons["copy_error"].invoke()
    assert root.clipboard_get() == "BaseLinker (addInvoice): Zamówienie nie istnieje [ERROR_ORDER_NOT_FOUND]"
    window.buttons["open_order"].invoke()
    assert opened == ["https://panel-e.baselinker.com/orders.php#order:51003"]
    window.buttons["retry"].invoke()
    with Journal(journal_path) as j:
        assert j.by_id(int(failed_iid)).retry_allowed
    assert "następnym uruchomieniu" in window.status.cget("text")

    # "tylko błędy"
    window.filter.invoke()
    pump(root)
    numbers = sorted(tree.item(i, "values")[2] for i in tree.get_children())
    assert numbers == ["FS 2/11/2026/MAG", "FS 3/11/2026/MAG", "FS 4/11/2026/MAG"]
    xdisplay.screenshot(window.top.wm_frame(), ARTIFACTS / "history-errors-only.png", window.top.winfo_screen())

    # an in-doubt one asks first (the real dialog is modal: answer through the view's seam)
    asked = []
    window.confirm = lambda title, text: asked.append(text) or False
    doubt_iid = next(i for i in tree.get_children() if tree.item(i, "values")[2] == "FS 3/11/2026/MAG")
    select(window, doubt_iid)
    window.buttons["retry"].invoke()
    assert asked and "dwa dokumenty" in asked[0]
    with Journal(journal_path) as j:
        assert not j.by_id(int(doubt_iid)).retry_allowed

    # "Pomiń"
    window.confirm = lambda title, text: True
    window.buttons["skip"].invoke()
    with Journal(journal_path) as j:
        assert j.by_id(int(doubt_iid)).state == "skipped"

    window.top.tk.call(window.top.protocol("WM_DELETE_WINDOW"))
    root.update()
    assert not window.exists()


def test_history_window_refreshes_by_itself(root, tmp_path):
    path = tmp_path / "j.sqlite3"
    window = open_history_window(root, path, open_url=lambda url: None, refresh_ms=100)
    pump(root)
    assert window.tree.get_children() == ()
    assert window.status.cget("text") == "Dziennik jest pusty."
    with Journal(path) as j:
        j.mark(j.ensure(DB, "FS", 1, "FS 10/2026", 1), "failed", error="x")
    pump(root, 0.6)
    assert len(window.tree.get_children()) == 1
    assert open_history_window(root, path) is window  # a second "Historia…" raises the same window
    window.presenter.close()
    root.update()
    assert not window.exists()


def test_history_columns_fit_long_numbers_and_states(root, tmp_path):
    """Issue 16.12: a long RaksSQL number and "w trakcie (PDF dołączony)" were cut off."""
    from tkinter import font as tkfont

    path = tmp_path / "journal.sqlite3"
    long_number = "FS 123456/11/2026/MAGAZYN-CENTRALNY"
    with Journal(path) as j:
        j.mark(j.ensure(DB, "FS", 1, long_number, 51001), "attached", bl_doc_id=9001)
    window = open_history_window(root, path, refresh_ms=0)
    pump(root)
    font = tkfont.nametofont("TkDefaultFont")
    values = window.tree.item(window.tree.get_children()[0], "values")
    assert values[2] == long_number
    assert window.column_width("number") >= font.measure(long_number)
    assert window.column_width("result") >= font.measure(values[4])
    window.close()


def test_history_window_of_several_companies_has_a_company_column_and_filter(root, tmp_path):
    from agent.export.dbkey import company_key

    path = tmp_path / "journal.sqlite3"
    with Journal(path) as j:
        for company, raks_id, number, state in (("sklep-a", 1, "FS 1/A", "done"), ("sklep-b", 1, "FS 1/B", "failed"),
                                                ("sklep-b", 2, "FS 2/B", "done")):
            j.mark(j.ensure(company_key(company, DB), "FS", raks_id, number, 51000 + raks_id), state,
                   **({"error": "Brak PDF"} if state == "failed" else {"bl_doc_id": 9000 + raks_id}))
    window = open_history_window(root, path, refresh_ms=0)
    pump(root)
    tree = window.tree
    assert window.shows_companies and tree.heading("company", "text") == "Firma"
    assert list(tree.cget("displaycolumns"))[:2] == ["date", "company"]
    assert {tree.set(i, "number"): tree.set(i, "company") for i in tree.get_children()} == {
        "FS 1/A": "sklep-a", "FS 1/B": "sklep-b", "FS 2/B": "sklep-b"}
    assert window.company_filter.winfo_ismapped()
    assert list(window.company_filter.cget("values")) == ["wszystkie firmy", "sklep-a", "sklep-b"]

    window.company.set("sklep-b")
    window.company_filter.event_generate("<<ComboboxSelected>>")
    pump(root)
    assert sorted(tree.set(i, "number") for i in tree.get_children()) == ["FS 1/B", "FS 2/B"]
    xdisplay.screenshot(window.top.wm_frame(), ARTIFACTS / "history-companies.png", window.top.winfo_screen())
    window.company.set("wszystkie firmy")
    window.company_filter.event_generate("<<ComboboxSelected>>")
    pump(root)
    assert len(tree.get_children()) == 3
    window.close()


def test_history_window_of_one_company_has_no_company_column(root, journal_path):
    window = open_history_window(root, journal_path, refresh_ms=0)
    pump(root)
    assert not window.shows_companies and not window.company_filter.winfo_ismapped()
    window.close()
