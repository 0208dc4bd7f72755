"""The real "Ustawienia" dialog under Xvfb, against the BaseLinker sandbox over HTTP and a real
Firebird company database: dropdowns filled live, values changed through the widgets, "Zapisz"
writes the file (comments kept) and the keyring. Screenshots of every tab go to test-artifacts/.
"""

from __future__ import annotations

import subprocess
import sys
import time

import keyring
import pytest

from agent import secrets
from agent.settings import load_settings
from tests.support.export_env import CUSTOM_FIELD, INVOICE_SERIES, ORDER_STATUS_SENT, REPO_ROOT, TOKEN
from tests.support.file_keyring import install_file_keyring
from tests.support import xdisplay
from ui.settings import open_settings_dialog
from ui.settings import presenter as p
from tests.support.settings_texts import two_companies_commented

TWO_COMPANIES = two_companies_commented()

pytestmark = [pytest.mark.ui]

ARTIFACTS = REPO_ROOT / "test-artifacts"
USER_COMMENT = "# ustawione przez serwisanta 2026-11-27\n"


@pytest.fixture
def file_keyring(tmp_path, monkeypatch):
    monkeypatch.delenv("RAKSBL_BASELINKER_TOKEN", raising=False)
    monkeypatch.delenv("RAKSBL_RAKS_PASSWORD", raising=False)
    monkeypatch.setenv("RAKSBL_DATA_DIR", str(tmp_path / "data"))
    backend, previous = install_file_keyring(tmp_path)
    yield backend
    keyring.set_keyring(previous)


def pump(root, until, timeout: float = 30.0, what: str = "the dialog"):
    """Run the Tk loop (the look-up answers arrive through it) until ``until()`` is true."""
    deadline = time.monotonic() + timeout
    while True:
        root.update()
        value = until()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def screenshot(window, name: str):
    window.top.update_idletasks()
    window.top.update()
    time.sleep(0.2)
    window.top.update()
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    xdisplay.screenshot(window.top.wm_frame(), path, window.top.winfo_screen())
    assert path.stat().st_size > 5000
    return path


def status_text(window, field):
    return window.status[field].cget("text")


def choose(window, field, label_part: str):
    """Pick the dropdown entry whose label contains ``label_part``, as a user would."""
    adapter = window.fields[field]
    labels = adapter.labels()
    index = next(i for i, label in enumerate(labels) if label_part in label)
    adapter.widget.current(index)
    adapter.widget.event_generate("<<ComboboxSelected>>")


def check(window, field, value, on: bool):
    button = window.fields[field].buttons[value]
    if window.fields[field].vars[value].get() != on:
        button.invoke()


def test_dialog_loads_lists_live_saves_file_and_keyring(root, tray_export_env, file_keyring):
    env = tray_export_env
    env.add_doc("FS")
    env.add_doc("FS")
    env.add_doc("PA")
    env.settings_path.write_text(USER_COMMENT + env.settings_path.read_text(encoding="utf-8"), encoding="utf-8")
    secrets.set_secret(secrets.BASELINKER_TOKEN, TOKEN)
    secrets.set_secret(secrets.RAKS_PASSWORD, env.db.password)
    saved = []

    window = open_settings_dialog(root, env.settings_path, on_saved=saved.append)
    presenter = window.presenter
    pump(root, lambda: presenter.baselinker_catalog and presenter.raks_catalog, what="both look-ups")

    # BaseLinker lists: series filtered by type, order statuses, extra fields
    invoice_labels = window.fields["baselinker.invoice_series_id"].labels()
    receipt_labels = window.fields["baselinker.receipt_series_id"].labels()
    assert any(f"id {INVOICE_SERIES}" in label and "Faktury" in label for label in invoice_labels)
    assert not any("Paragony" in label for label in invoice_labels)
    assert any("Paragony" in label for label in receipt_labels)
    assert not any("Faktury" in label for label in receipt_labels)
    correction_labels = window.fields["baselinker.correction_series_id"].labels()
    assert any("Korekty" in label for label in correction_labels)  # CORRECTION series only
    assert not any("Faktury" in label or "Paragony" in label for label in correction_labels)
    assert window.fields["raks.document_types"].buttons["KS"].cget("text") == "korekty (KS)"
    assert "pole własne: Numer z RaksSQL" in window.fields["baselinker.number_field"].labels()
    assert "Dokument wysłany" in window.fields["baselinker.order_status_on_success"].labels()
    assert window.fields["baselinker.invoice_series_id"].widget.get().startswith("Faktury")
    assert "Połączenie działa" in status_text(window, p.TEST_BASELINKER)
    # RaksSQL: the status dictionary with counts, server version
    statuses = window.fields["raks.statuses_to_send"]
    assert [label for _, label in statuses.choices][:2] == ["Nowy — dokumentów: 0", "Do wysłania — dokumentów: 3"]
    assert statuses.get() == [2]
    raks_status = status_text(window, p.TEST_RAKS)
    assert "Firebird" in raks_status and "Do wysłania: 2 / 1" in raks_status
    assert window.top.winfo_viewable()

    for title in p.TABS:
        window.select_tab(title)
        screenshot(window, f"settings-{title.lower()}")

    # "Testuj połączenie" with a wrong token: the API's error in words, inline
    window.fields[p.TOKEN].set("zly-token")
    window.buttons[p.TEST_BASELINKER].invoke()
    pump(root, lambda: "odrzucił token" in status_text(window, p.TEST_BASELINKER), what="the auth error")
    assert window.status[p.TEST_BASELINKER].cget("style").startswith("danger")
    assert str(window.buttons[p.TEST_BASELINKER].cget("state")) == "normal"
    window.select_tab("BaseLinker")
    screenshot(window, "settings-baselinker-error")

    # show/hide the token
    assert window.fields[p.TOKEN].widget.cget("show") == "•"
    window.token_toggle.invoke()
    assert window.fields[p.TOKEN].widget.cget("show") == ""

    # change values through the widgets
    window.fields[p.TOKEN].set("nowy-token-abc")
    window.fields[p.PASSWORD].set(env.db.password + "-nowe")
    choose(window, "baselinker.number_field", "Numer z RaksSQL")
    choose(window, "baselinker.order_status_on_success", "Dokument wysłany")
    choose(window, "raks.status_on_error", "Błąd wysyłki")
    check(window, "raks.statuses_to_send", 1, True)
    check(window, "raks.document_types", "PA", False)
    check(window, "raks.document_types", "KS", True)
    choose(window, "baselinker.correction_series_id", "Korekty")
    window.fields["sync.interval_seconds"].set("90")
    window.fields["sync.auto"].widget.invoke()
    choose(window, "sync.notifications", "tylko błędy")
    window.buttons["save"].invoke()
    root.update()

    assert not window.exists()
    s = load_settings(env.settings_path)
    assert s.baselinker.number_field == f"custom:{CUSTOM_FIELD}"
    assert s.baselinker.order_status_on_success == ORDER_STATUS_SENT
    assert s.raks.status_on_error == 4 and s.raks.statuses_to_send == (1, 2)
    assert s.raks.document_types == ("FS", "KS")
    assert s.baselinker.correction_series_id == 40
    assert (s.sync.interval_seconds, s.sync.auto, s.sync.notifications) == (90, True, "errors")
    assert s.raks.database == env.db.dsn  # untouched
    text = env.settings_path.read_text(encoding="utf-8")
    assert text.startswith(USER_COMMENT)
    assert "nowy-token-abc" not in text
    assert file_keyring.stored()["raksbl"] == {"baselinker-token": "nowy-token-abc",
                                                "raks-password": env.db.password + "-nowe"}
    assert saved and saved[0].sync.interval_seconds == 90


def test_validation_error_is_shown_next_to_the_field_and_nothing_is_written(root, tmp_path, file_keyring):
    config = tmp_path / "raksbl.toml"
    from agent.settings import write_default_settings

    write_default_settings(config, **{"baselinker.invoice_series_id": 15, "baselinker.receipt_series_id": 16})
    secrets.set_secret(secrets.BASELINKER_TOKEN, "t")
    before = config.read_bytes()
    window = open_settings_dialog(root, config, baselinker_lookup=lambda *a, **k: p.lookups.BaseLinkerCatalog(),
                                  raks_lookup=lambda *a, **k: p.lookups.RaksCatalog())
    root.update()
    window.fields["sync.interval_seconds"].set("5")
    window.buttons["save"].invoke()
    root.update()
    assert window.exists()
    label = window.status["sync.interval_seconds"]
    assert label.cget("text") == "Najmniej 10 sekund." and label.winfo_ismapped()
    assert window.notebook.tab(window.notebook.select(), "text") == "Synchronizacja"
    assert "Nie zapisano" in status_text(window, p.BANNER)
    screenshot(window, "settings-validation-error")
    assert config.read_bytes() == before
    window.buttons["cancel"].invoke()
    root.update()
    assert not window.exists()
    assert config.read_bytes() == before


def test_first_start_opens_with_defaults_and_cancel_creates_no_file(root, tmp_path, file_keyring):
    config = tmp_path / "new" / "raksbl.toml"
    closed = []
    window = open_settings_dialog(root, config, on_closed=lambda: closed.append(True))
    root.update()
    assert "Pierwsze uruchomienie" in status_text(window, p.BANNER)
    assert window.fields["sync.interval_seconds"].get() == "60"
    again = open_settings_dialog(root, config)  # a second "Ustawienia…" raises the same window
    assert again is window
    window.fields["sync.interval_seconds"].set("30")
    window.top.tk.call(window.top.protocol("WM_DELETE_WINDOW"))  # the window's [X] is "Anuluj"
    root.update()
    assert closed == [True] and not config.exists()


def test_raksbl_settings_subcommand_opens_the_dialog(display, tmp_path, file_keyring):
    """`raksbl settings` (the CLI entry) shows the window; closing it ends the process with 1."""
    import os

    config = tmp_path / "cli.toml"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "agent", "settings", "--config", str(config)], cwd=REPO_ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        window_id = ""
        while not window_id and time.monotonic() < deadline and proc.poll() is None:
            found = subprocess.run(["xdotool", "search", "--name", "^Ustawienia"], capture_output=True, text=True)
            window_id = found.stdout.split()[0] if found.stdout.split() else ""
            time.sleep(0.2)
        assert window_id, f"the settings window did not appear: {proc.poll()} {proc.stderr.read() if proc.poll() else ''}"
        # no window manager: the keyboard focus follows the pointer, so point at the dialog and press Esc
        subprocess.run(["xdotool", "mousemove", "200", "200"], check=True)
        time.sleep(0.5)
        subprocess.run(["xdotool", "key", "Escape"], check=True)
        assert proc.wait(30) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not config.exists()


def test_offline_the_dialog_says_it_once_keeps_its_size_and_saves(root, tmp_path, file_keyring, monkeypatch):
    """Issue 16.9: BaseLinker unreachable: one Polish message, no growing window, Save works."""
    import socket

    from agent.baselinker import ratelimit

    # A fresh process-wide request budget: the earlier tests of this module used this one's.
    monkeypatch.setattr(ratelimit, "_shared", {})

    from agent.settings import write_default_settings

    with socket.socket() as s:  # a port nobody listens on: connection refused, like no internet
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    config = tmp_path / "raksbl.toml"
    write_default_settings(config, **{"baselinker.api_url": f"http://127.0.0.1:{dead_port}/connector.php",
                                      "baselinker.timeout_seconds": 2,
                                      "raks.database": f"127.0.0.1/{dead_port}:/nie/ma/bazy.fdb"})
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-offline")
    saved = []
    window = open_settings_dialog(root, config, on_saved=saved.append)
    root.update()
    size = (window.top.winfo_width(), window.top.winfo_height())
    pump(root, lambda: "nieosiągalny" in status_text(window, p.TEST_BASELINKER), what="the offline message")
    root.update_idletasks()
    root.update()
    for field in p.BASELINKER_FIELDS:  # not repeated under every field
        assert status_text(window, field) == "", field
    assert "Errno" not in status_text(window, p.TEST_BASELINKER)
    assert (window.top.winfo_width(), window.top.winfo_height()) == size  # it did not grow
    screen_h = window.top.winfo_screenheight()
    save = window.buttons["save"]
    assert save.winfo_rooty() + save.winfo_height() <= screen_h  # Zapisz is on the screen
    screenshot(window, "settings-offline")

    window.fields["sync.interval_seconds"].set("120")  # series stay 0: BaseLinker's default series
    save.invoke()
    root.update()
    assert saved and load_settings(config).sync.interval_seconds == 120
    assert load_settings(config).baselinker.invoice_series_id == 0


# ---------------------------------------------------------------------- several companies



def _offline_lookups():
    return dict(baselinker_lookup=lambda *a, **k: p.lookups.BaseLinkerCatalog(),
                raks_lookup=lambda *a, **k: p.lookups.RaksCatalog())


def click_company(window, name):
    index = window.company_list.get(0, "end").index(name)
    window.company_list.selection_clear(0, "end")
    window.company_list.selection_set(index)
    window.company_list.event_generate("<<ListboxSelect>>")


class Answers(list):
    """Answers for the dialog's questions (AskDialog), in order: (button, text for the entry);
    ``seen``: (title, question, refusal, entry text) of each question asked."""

    def __init__(self):
        super().__init__()
        self.seen: list = []
        self.labels_cut: list = []  # a Tk callback cannot fail the test: collected, asserted after


@pytest.fixture
def answers(monkeypatch):
    from ui.settings import view as view_module

    queue = Answers()

    def opened(dialog):
        button, text = queue.pop(0)

        def act():
            queue.seen.append((dialog.top.title(), dialog.text.cget("text"), dialog.error.cget("text"),
                               dialog.var.get()))
            if text is not None:
                dialog.var.set(text)
            queue.labels_cut += [b.cget("text") for b in dialog.buttons.values()
                                 if b.winfo_width() < b.winfo_reqwidth()]
            if len(queue.seen) == 2:
                screenshot(dialog, "settings-company-name-refused")
            dialog.buttons[button].invoke()

        dialog.top.after_idle(act)

    monkeypatch.setattr(view_module.AskDialog, "opened", staticmethod(opened))
    yield queue
    assert not queue.labels_cut, queue.labels_cut
    assert not queue, "questions the dialog never asked"


def test_two_companies_select_the_second_change_it_and_save_only_its_table(root, tmp_path, file_keyring):
    import tomllib

    config = tmp_path / "raksbl.toml"
    config.write_text(TWO_COMPANIES, encoding="utf-8")
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-a", "sklep-a")
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-b", "sklep-b")
    before = tomllib.loads(TWO_COMPANIES)
    saved = []
    window = open_settings_dialog(root, config, on_saved=saved.append, **_offline_lookups())
    root.update()
    assert window.company_list.get(0, "end") == ("sklep-a", "sklep-b")
    assert window.company_list.curselection() == (0,)
    assert window.fields[p.TOKEN].get() == "token-a"
    window.select_tab("Synchronizacja")
    root.update()
    assert status_text(window, p.NOTE_SYNC) == "Wspólne dla wszystkich firm."
    assert window.status[p.NOTE_SYNC].winfo_ismapped()

    click_company(window, "sklep-b")
    root.update()
    assert window.fields[p.TOKEN].get() == "token-b"
    assert window.fields[p.DB_PATH].get() == "C:/RAKS/F00002.fdb"
    assert "firma sklep-b" in status_text(window, p.BANNER)
    window.select_tab("BaseLinker")
    screenshot(window, "settings-companies")
    for key in ("company:add", "company:duplicate", "company:rename", "company:remove"):
        button = window.buttons[key]
        assert button.winfo_width() >= button.winfo_reqwidth(), button.cget("text")

    window.fields["baselinker.timeout_seconds"].set("45")
    window.fields[p.TOKEN].set("token-b-nowy")
    window.buttons["save"].invoke()
    root.update()
    assert not window.exists()
    after = tomllib.loads(config.read_text(encoding="utf-8"))
    assert after["company"][1]["baselinker"] == {**before["company"][1]["baselinker"], "timeout_seconds": 45}
    assert after["company"][0] == before["company"][0]
    assert after["company"][1]["raks"] == before["company"][1]["raks"]
    assert after["sync"] == before["sync"] and set(after) == {"sync", "company"}
    assert "# seria A" in config.read_text(encoding="utf-8")
    assert file_keyring.stored()["raksbl"] == {"baselinker-token/sklep-a": "token-a",
                                                "baselinker-token/sklep-b": "token-b-nowy"}
    assert saved


def test_add_rename_and_remove_companies_through_the_dialog(root, tmp_path, file_keyring, answers):
    from agent.settings import write_default_settings

    config = tmp_path / "raksbl.toml"
    write_default_settings(config, **{"raks.database": "srv:C:/F1.fdb"})
    secrets.set_secret(secrets.BASELINKER_TOKEN, "wspolny")
    window = open_settings_dialog(root, config, **_offline_lookups())
    root.update()
    assert window.company_list.get(0, "end") == ("(jedna firma)",)
    assert str(window.buttons["company:rename"].cget("state")) == "disabled"

    # a single-company file: "Dodaj firmę…" names the existing company first (a bad name is refused)
    answers.extend([("ok", "sklep a"), ("ok", "sklep-a"), ("ok", "sklep-b")])
    window.buttons["company:add"].invoke()
    root.update()
    titles = [seen[0] for seen in answers.seen]
    assert titles == ["Nazwa obecnej firmy", "Nazwa obecnej firmy", "Nowa firma"]
    assert "niepoprawna" in answers.seen[1][2]
    assert window.company_list.get(0, "end") == ("sklep-a", "sklep-b")
    assert window.company_list.curselection() == (1,)
    assert "używany wspólny token" in status_text(window, p.TOKEN)
    assert load_settings(config).for_company("sklep-a").raks.database == "srv:C:/F1.fdb"

    # switching with an unsaved change asks; "Nie zapisuj" drops it
    window.fields["baselinker.timeout_seconds"].set("45")
    answers.append(("discard", None))
    click_company(window, "sklep-a")
    root.update()
    assert answers.seen[-1][0] == "Niezapisane zmiany" and "firmy sklep-b" in answers.seen[-1][1]
    assert window.company_list.curselection() == (0,)
    assert load_settings(config).for_company("sklep-b").baselinker.timeout_seconds == 30

    # rename sklep-a: its own token moves along
    secrets.set_secret(secrets.BASELINKER_TOKEN, "token-a", "sklep-a")
    answers.append(("ok", "hurt"))
    window.buttons["company:rename"].invoke()
    root.update()
    assert answers.seen[-1][3] == "sklep-a"  # the question started from the old name
    assert window.company_list.get(0, "end") == ("hurt", "sklep-b")
    assert file_keyring.stored()["raksbl"] == {"baselinker-token": "wspolny", "baselinker-token/hurt": "token-a"}

    # remove it (after the question)
    answers.append(("remove", None))
    window.buttons["company:remove"].invoke()
    root.update()
    assert "Usunąć firmę hurt" in answers.seen[-1][1]
    assert window.company_list.get(0, "end") == ("sklep-b",)
    assert load_settings(config).company_names == ("sklep-b",)
    assert file_keyring.stored()["raksbl"] == {"baselinker-token": "wspolny"}
    assert str(window.buttons["company:remove"].cget("state")) == "disabled"  # never the last one
    window.buttons["cancel"].invoke()
    root.update()
