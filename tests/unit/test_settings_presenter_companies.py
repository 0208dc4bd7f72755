"""The settings dialog with several companies, through a fake view (no Tk): the list, the selected
company's tabs, per-company secrets with the shared fallback, unsaved changes on switching, and
add / duplicate / rename / remove writing the file and moving the keyring secrets."""

from __future__ import annotations

import tomllib

import pytest

from agent import secrets
from agent.settings import load_settings, write_default_settings
from tests.unit.test_settings_presenter import FakeLookups, env, make  # noqa: F401  (env is a fixture)
from ui.settings import presenter as p
from tests.support.settings_texts import two_companies_commented

TWO = two_companies_commented(b_database="db-b/3050:C:/RAKS/F00002.fdb")



@pytest.fixture
def two(tmp_path):
    path = tmp_path / "cfg" / "raksbl.toml"
    path.parent.mkdir()
    path.write_text(TWO, encoding="utf-8")
    return path


def data(path):
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_the_list_shows_the_companies_and_the_tabs_the_first_ones_settings(env, two):
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-a", "sklep-a")
    secrets.set_secret(secrets.RAKS_PASSWORD, "haslo-b", "sklep-b")
    presenter, view, threads, fake, _, _ = make(two)
    presenter.load()
    assert view.companies == (["sklep-a", "sklep-b"], "sklep-a", True)
    assert presenter.company == "sklep-a"
    assert view.values["baselinker.invoice_series_id"] == 15
    assert view.values[p.DB_PATH] == "C:/RAKS/F00001.fdb"
    assert view.values[p.TOKEN] == "token-a" and view.values[p.PASSWORD] == ""
    assert view.values["sync.interval_seconds"] == "120"
    assert view.text(p.NOTE_SYNC) == p.SHARED_NOTE and view.text(p.NOTE_LOG) == p.SHARED_NOTE
    assert "firma sklep-a" in view.text(p.BANNER)
    threads.run_all()
    assert fake.bl_calls[0][0] == "token-a"  # the look-up uses the selected company's token


def test_switching_shows_the_other_company_and_drops_the_first_ones_lookups(env, two):
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-a", "sklep-a")
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-b", "sklep-b")
    presenter, view, threads, fake, _, _ = make(two)
    presenter.load()
    assert len(threads.pending) == 1  # sklep-a's BaseLinker look-up, still running
    presenter.select_company("sklep-b")
    assert view.companies[1] == "sklep-b"
    assert view.values["baselinker.invoice_series_id"] == 16
    assert (view.values[p.SERVER], view.values[p.DB_PATH]) == ("db-b/3050", "C:/RAKS/F00002.fdb")
    assert view.values[p.TOKEN] == "token-b"
    threads.run_all()  # sklep-a's answer comes late: dropped; sklep-b's is shown
    assert [call[0] for call in fake.bl_calls] == ["token-a", "token-b"]
    assert presenter.baselinker_catalog is not None
    assert not hasattr(view, "questions")  # nothing was changed: no question


def test_saving_writes_only_the_selected_companys_tables_and_its_own_token(env, two):
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-a", "sklep-a")
    presenter, view, threads, _, saved, closed = make(two)
    presenter.load(company="sklep-b")
    view.values[p.TOKEN] = "token-b"
    view.values["raks.status_after_send"] = 5
    view.values["sync.interval_seconds"] = "300"
    assert presenter.save()
    d = data(two)
    assert d["company"][1]["raks"]["status_after_send"] == 5
    assert "status_after_send" not in d["company"][0]["raks"]
    assert d["sync"]["interval_seconds"] == 300
    assert "raks" not in d and "baselinker" not in d
    assert two.read_text(encoding="utf-8").startswith("# dwie firmy")
    assert env.stored()["raksbl"] == {"baselinker-token/sklep-a": "token-a", "baselinker-token/sklep-b": "token-b"}
    assert closed and saved and saved[0].company_names == ("sklep-a", "sklep-b")


def test_an_empty_token_of_a_company_uses_the_shared_one_and_says_so(env, two):
    secrets.set_secret(secrets.BASELINKER_TOKEN, "wspolny")
    presenter, view, threads, fake, _, _ = make(two)
    presenter.load()
    assert view.values[p.TOKEN] == ""
    assert "używany wspólny token" in view.text(p.TOKEN)
    threads.run_all()
    assert fake.bl_calls[0][0] == "wspolny"  # "Testuj połączenie" tests what the agent will use
    view.values["raks.status_after_send"] = 5
    assert presenter.save()  # no "Wpisz token" error: the fallback is there
    assert env.stored()["raksbl"] == {"baselinker-token": "wspolny"}  # nothing written per company


def test_without_any_token_a_company_still_needs_one(env, two):
    presenter, view, _, _, _, _ = make(two)
    presenter.load()
    assert view.text(p.TOKEN) == ""
    assert not presenter.save()
    assert "token" in view.text(p.TOKEN).lower() and view.kind(p.TOKEN) == "error"


def test_clearing_a_companys_own_token_deletes_it_and_the_shared_one_takes_over(env, two):
    secrets.set_secret(secrets.BASELINKER_TOKEN, "wspolny")
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-a", "sklep-a")
    presenter, view, _, _, _, _ = make(two)
    presenter.load()
    view.values[p.TOKEN] = ""
    assert presenter.save()
    assert env.stored()["raksbl"] == {"baselinker-token": "wspolny"}
    assert secrets.get_secret(secrets.BASELINKER_TOKEN, "sklep-a") == "wspolny"


@pytest.mark.parametrize("answer", ["save", "discard", "cancel"])
def test_switching_with_unsaved_changes_asks(env, two, answer):
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-a", "sklep-a")
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-b", "sklep-b")
    presenter, view, _, _, saved, closed = make(two)
    presenter.load()
    view.values["raks.status_after_send"] = 7
    view.unsaved_answer = answer
    presenter.select_company("sklep-b")
    assert "Zmiany firmy sklep-a nie są zapisane" in view.questions[0]
    written = load_settings(two).for_company("sklep-a").raks.status_after_send
    if answer == "cancel":
        assert presenter.company == "sklep-a" and view.companies[1] == "sklep-a"
        assert view.values["raks.status_after_send"] == 7  # the edit is still in the form
        assert written == 3
    else:
        assert presenter.company == "sklep-b" and view.values["raks.status_after_send"] == 3
        assert written == (7 if answer == "save" else 3)
        assert bool(saved) == (answer == "save")
    assert not closed  # switching never closes the dialog


def test_switching_when_saving_fails_stays_on_the_company(env, two):
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-a", "sklep-a")
    presenter, view, _, _, _, _ = make(two)
    presenter.load()
    view.values["sync.interval_seconds"] = "5"
    view.unsaved_answer = "save"
    presenter.select_company("sklep-b")
    assert presenter.company == "sklep-a" and view.companies[1] == "sklep-a"
    assert view.text("sync.interval_seconds") == "Najmniej 10 sekund."


def test_a_load_error_of_a_company_selects_it_and_marks_the_field(env, two):
    two.write_text(TWO.replace('invoice_series_id = 16', 'invoice_series_id = 16\ntimeout_seconds = 9999'),
                   encoding="utf-8")
    presenter, view, _, _, _, _ = make(two)
    presenter.load()
    assert presenter.load_error is not None and presenter.load_error.company == "sklep-b"
    assert presenter.company == "sklep-b" and view.companies == (["sklep-a", "sklep-b"], "sklep-b", True)
    assert view.values["baselinker.timeout_seconds"] == "9999"
    assert view.text("baselinker.timeout_seconds") == "Podaj liczbę sekund od 1 do 600."
    assert view.kind("baselinker.timeout_seconds") == "error"
    assert "Firma sklep-b" in view.text(p.BANNER)
    view.values[p.TOKEN] = "t"
    view.values["baselinker.timeout_seconds"] = "60"
    assert presenter.save()
    s = load_settings(two)
    assert s.for_company("sklep-b").baselinker.timeout_seconds == 60
    assert s.for_company("sklep-a").raks.database == "localhost:C:/RAKS/F00001.fdb"


def test_add_to_a_single_company_file_names_the_existing_company_first(env, tmp_path):
    config = tmp_path / "raksbl.toml"
    write_default_settings(config, **{"raks.database": "srv:C:/F1.fdb"})
    secrets.set_secret(secrets.BASELINKER_TOKEN, "wspolny")
    presenter, view, _, _, saved, _ = make(config)
    presenter.load()
    assert view.companies == ([p.SINGLE_COMPANY], p.SINGLE_COMPANY, False)
    assert view.text(p.NOTE_SYNC) == ""
    view.names_to_answer = ["sklep a", "sklep-a", "SKLEP_A", "sklep-b"]
    presenter.add_company()
    titles = [(title, error) for title, _, _, error in view.asked]
    assert titles[0] == ("Nazwa obecnej firmy", "")
    assert "niepoprawna" in titles[1][1]  # the refused name is said in the next question
    assert titles[2] == ("Nowa firma", "") and "zbyt podobna" in titles[3][1]
    s = load_settings(config)
    assert s.company_names == ("sklep-a", "sklep-b")
    assert s.for_company("sklep-a").raks.database == "srv:C:/F1.fdb"
    assert presenter.company == "sklep-b" and view.companies == (["sklep-a", "sklep-b"], "sklep-b", True)
    assert "Dodano firmę sklep-b" in view.text(p.BANNER)
    assert "używany wspólny token" in view.text(p.TOKEN)
    assert saved  # the running agent hears of the new file


def test_cancelling_the_name_question_changes_nothing(env, two):
    before = two.read_bytes()
    presenter, view, _, _, _, _ = make(two)
    presenter.load()
    view.names_to_answer = []
    for action in (presenter.add_company, presenter.duplicate_company, presenter.rename_company):
        action()
    view.confirm_answer = False
    presenter.remove_company()
    assert two.read_bytes() == before


def test_duplicate_rename_and_remove(env, two):
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-a", "sklep-a")
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-b", "sklep-b")
    presenter, view, _, _, _, _ = make(two)
    presenter.load()
    view.names_to_answer = ["sklep-c"]
    presenter.duplicate_company()
    assert presenter.company == "sklep-c"
    assert view.values["baselinker.invoice_series_id"] == 15 and view.values[p.TOKEN] == ""
    assert "bez tokenu" in view.text(p.BANNER)

    presenter.select_company("sklep-b")
    view.names_to_answer = ["hurt"]
    presenter.rename_company()
    assert view.asked[-1][2] == "sklep-b"  # the question starts from the old name
    assert presenter.company == "hurt" and view.values[p.TOKEN] == "token-b"
    assert load_settings(two).company_names == ("sklep-a", "hurt", "sklep-c")
    assert env.stored()["raksbl"] == {"baselinker-token/sklep-a": "token-a", "baselinker-token/hurt": "token-b"}

    presenter.remove_company()
    assert "Usunąć firmę hurt" in view.questions[-1]
    assert load_settings(two).company_names == ("sklep-a", "sklep-c")
    assert env.stored()["raksbl"] == {"baselinker-token/sklep-a": "token-a"}
    assert presenter.company == "sklep-a"
    presenter.select_company("sklep-c")
    presenter.remove_company()
    presenter.remove_company()  # the last one stays
    assert load_settings(two).company_names == ("sklep-a",)
    assert "jedyna firma" in view.text(p.BANNER)


def test_fit_assistant_works_on_the_selected_company(env, two):
    shown = []
    presenter, view, threads, _, _, _ = make(two)
    view.show_fit = lambda *args, **kwargs: shown.append((args, kwargs))
    presenter.load(company="sklep-b")
    presenter.open_fit()
    (raks, password, path, on_saved), kwargs = shown[0]
    assert raks.database == "db-b/3050:C:/RAKS/F00002.fdb" and kwargs == {"company": "sklep-b"}
    # the assistant wrote sklep-b's profile: the dialog shows it as sklep-b's, not the first company's
    from agent.settings import update_settings

    on_saved(update_settings(two, {"raks.statuses_to_send": [6], "raks.status_after_send": 8}, company="sklep-b"))
    assert presenter.settings.company == "sklep-b"
    assert view.values["raks.statuses_to_send"] == [6] and view.values["raks.status_after_send"] == 8


def test_saving_when_another_company_became_invalid_names_it_and_writes_nothing(env, two):
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-a", "sklep-a")
    presenter, view, _, _, saved, closed = make(two)
    presenter.load()
    # someone edits the file by hand while the dialog is open
    two.write_text(TWO.replace("invoice_series_id = 16", "invoice_series_id = -1"), encoding="utf-8")
    before = two.read_bytes()
    view.values["raks.status_after_send"] = 5
    assert not presenter.save()
    assert "Firma sklep-b" in view.text(p.BANNER) and "Wybierz firmę sklep-b" in view.text(p.BANNER)
    assert view.kind(p.BANNER) == "error"
    assert view.kind("baselinker.invoice_series_id") != "error"  # not marked on sklep-a's form
    assert two.read_bytes() == before and not saved and not closed


def test_an_empty_password_of_a_company_uses_the_shared_one_and_says_so_in_correct_polish(env, two):
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-a", "sklep-a")
    secrets.set_secret(secrets.RAKS_PASSWORD, "masterkey")
    presenter, view, threads, fake, _, _ = make(two)
    presenter.load()
    assert view.text(p.PASSWORD).startswith("Pole puste: używane wspólne hasło (zapisane bez nazwy firmy).")
    threads.run_all()
    assert fake.raks_calls[0][1] == "masterkey"
    assert fake.raks_calls[0][0].database == "localhost:C:/RAKS/F00001.fdb"
