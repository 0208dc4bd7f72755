"""The "Dopasuj do bazy" logic through a fake view (no Tk, no database): stale answers are
dropped, an ambiguous Status blocks "Zapisz" until picked, errors are shown in words."""

from __future__ import annotations

from agent.raks.propose import Choice, PreviewRow, Proposal, ProposalError
from agent.settings import RaksSettings, load_settings, write_default_settings
from ui.settings.fit import FitPresenter


class FakeView:
    def __init__(self):
        self.choices, self.evidence, self.preview, self.status, self.busy, self.closed = {}, "", None, ("", ""), None, False

    def show_choices(self, what, labels, index):
        self.choices[what] = (list(labels), index)

    def show_evidence(self, text):
        self.evidence = text

    def show_preview(self, rows, pending):
        self.preview = (list(rows), pending)

    def set_status(self, text, kind=""):
        self.status = (text, kind)

    def set_busy(self, busy):
        self.busy = busy

    def close(self):
        self.closed = True


def _status(label, score):
    table, column = label.split(".")
    return Choice("column", label, score, [f"{label}: INTEGER"],
                  {"table": table, "column": column, "dictionary": ("SL", "ID", "NAZWA"),
                   "names": {1: "Nowy", 2: "Do wysłania", 3: "Wysłany"}})


def _proposal(*statuses):
    return Proposal(list(statuses), [], [], statuses=[(1, "Nowy"), (2, "Do wysłania"), (3, "Wysłany")])


class Threads:
    """start_thread that keeps the work until the test runs it (answers can arrive late)."""

    def __init__(self):
        self.pending = []

    def __call__(self, target, name=None):
        self.pending.append(target)

    def run_all(self):
        while self.pending:
            self.pending.pop(0)()


def make(tmp_path, proposal, preview=lambda *a: (1, [PreviewRow("FS", "FS 1", "10000001", "1,0 KB", True)])):
    config = tmp_path / "raksbl.toml"
    write_default_settings(config)
    view, threads = FakeView(), Threads()
    saved = []
    presenter = FitPresenter(view, RaksSettings(), "pw", config, on_saved=saved.append, start_thread=threads,
                             propose_fn=lambda *a, **k: proposal, preview_fn=preview)
    return presenter, view, threads, config, saved


def test_ambiguous_status_blocks_saving_until_the_user_picks(tmp_path):
    presenter, view, threads, config, saved = make(tmp_path, _proposal(_status("GM_FS.A_STATUS", 6),
                                                                       _status("GM_FS.B_STATUS", 5.5)))
    presenter.start()
    threads.run_all()
    assert view.choices["status"] == (["GM_FS.A_STATUS  (proponowane)", "GM_FS.B_STATUS"], 0)
    assert "Dwie kolumny" in view.status[0] and view.status[1] == "warning"
    before = config.read_text(encoding="utf-8")
    assert presenter.save() is False and config.read_text(encoding="utf-8") == before
    presenter.choose("status", 1)
    threads.run_all()
    assert view.status[1] == "ok" and view.preview[1] == 1
    assert presenter.save() is True and view.closed
    s = load_settings(config)
    assert "B_STATUS = ?" in s.raks.queries["pending_documents"] and saved and saved[0].raks.statuses_to_send == (2,)


def test_a_late_preview_of_an_older_choice_is_dropped(tmp_path):
    calls = []

    def preview(settings, password, limit):
        calls.append(settings.queries["pending_documents"])
        return 1, [PreviewRow("FS", "FS 1", "from " + ("A" if "A_STATUS" in calls[-1] else "B"), "1 KB", True)]

    presenter, view, threads, *_ = make(tmp_path, _proposal(_status("GM_FS.A_STATUS", 9), _status("GM_FS.B_STATUS", 2)),
                                        preview)
    presenter.start()
    threads.pending.pop(0)()        # the proposal arrives, its preview (A) is started
    presenter.choose("status", 1)   # the user picks B before A's preview answered
    threads.run_all()               # A's preview answers last but belongs to an older choice
    assert [r.order for r in view.preview[0]] == ["from B"]


def test_errors_are_shown_in_words(tmp_path):
    presenter, view, threads, *_ = make(tmp_path, None)
    presenter._propose = lambda *a, **k: (_ for _ in ()).throw(ProposalError("W bazie nie ma tabeli GM_FS"))
    presenter.start()
    threads.run_all()
    assert view.status == ("Nie udało się sprawdzić bazy: W bazie nie ma tabeli GM_FS", "error")
    assert presenter.save() is False and not view.closed


def test_with_several_companies_the_profile_goes_into_the_chosen_companys_table(tmp_path):
    import tomllib

    config = tmp_path / "raksbl.toml"
    config.write_text('[[company]]\nname = "sklep-a"\n[company.raks]\ndatabase = "a.fdb"\n\n'
                      '[[company]]\nname = "sklep-b"\n[company.raks]\ndatabase = "b.fdb"  # firma B\n',
                      encoding="utf-8")
    view, threads, saved = FakeView(), Threads(), []
    presenter = FitPresenter(view, RaksSettings(database="b.fdb"), "pw", config, on_saved=saved.append,
                             start_thread=threads, propose_fn=lambda *a, **k: _proposal(_status("GM_FS.B_STATUS", 9)),
                             preview_fn=lambda *a: (0, []), company="sklep-b")
    presenter.start()
    threads.run_all()
    assert presenter.save() is True
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    assert "B_STATUS = ?" in data["company"][1]["raks"]["queries"]["pending_documents"]
    assert "queries" not in data["company"][0]["raks"] and "raks" not in data
    assert "# firma B" in config.read_text(encoding="utf-8")
    assert saved[0].for_company("sklep-b").raks.statuses_to_send == (2,)
