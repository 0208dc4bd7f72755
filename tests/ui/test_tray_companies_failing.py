"""The tray's wiring over real parts, headless: a settings file of two companies, sklep-a on a
real Firebird database and the BaseLinker sandbox over HTTP, sklep-b on a database that does not
exist. "Wyślij faktury" sends sklep-a's invoices and one notification names sklep-b's problem;
the same problem on the next timer run is not told again; "Wyślij dla firmy ▸ sklep-b" answers
with sklep-b's error, named."""

from __future__ import annotations

import dataclasses

import pytest
import tomlkit

from tests.support.export_env import TOKEN

pytestmark = [pytest.mark.ui]


def _table(dc) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(dc).items() if v is not None}


class Notes:
    def __init__(self):
        self.sent = []

    def notify(self, n):
        self.sent.append(n)
        return True


def sync_thread(target, *args, name=None):
    target(*args)


def test_one_company_down_is_named_and_the_other_sends(tray_export_env, monkeypatch):
    from ui.app import TrayApp
    from ui.uiloop import UiLoop

    env = tray_export_env
    monkeypatch.setenv("RAKSBL_BASELINKER_TOKEN", TOKEN)  # both companies fall back to one token
    monkeypatch.setenv("RAKSBL_RAKS_PASSWORD", env.db.password)
    monkeypatch.setenv("RAKSBL_DATA_DIR", str(env.data_dir))
    settings = env.settings()
    down = dataclasses.replace(settings.raks, database=settings.raks.database.replace(".fdb", "-NIE-MA.fdb"))
    config = env.tmp / "companies.toml"
    config.write_text(tomlkit.dumps({"sync": {"auto": True}, "company": [
        {"name": "sklep-a", "baselinker": _table(settings.baselinker), "raks": _table(settings.raks)},
        {"name": "sklep-b", "baselinker": _table(settings.baselinker), "raks": _table(down)},
    ]}), encoding="utf-8")
    first, _ = env.add_doc("FS")
    second, _ = env.add_doc("FS")

    clock = [1000.0]
    notes = Notes()
    app = TrayApp(config, notifier=notes, ui=UiLoop(use_tk=False), start_thread=sync_thread,
                  clock=lambda: clock[0], first_run_delay=0)
    app.autosync.refresh_settings()
    assert app.company_names() == ("sklep-a", "sklep-b")

    app.send_now()
    assert env.status("FS", first) == settings.raks.status_after_send
    assert env.status("FS", second) == settings.raks.status_after_send
    [note] = notes.sent
    assert note.error and note.title == "sklep-b: Wysyłanie przerwane", note
    lines = note.body.splitlines()
    assert lines[0].startswith("sklep-b: ") and "-NIE-MA.fdb" in lines[0], lines
    assert lines[1] == "sklep-a: wysłano 2 faktury"
    assert len(note.body) <= 255 and len(note.title) <= 63
    assert "sklep-a: wysłano 2" in describe(app)

    # the timer's next run: sklep-a has nothing, sklep-b the same problem - nothing to tell
    clock[0] += 3600
    assert app.autosync.tick()
    assert len(notes.sent) == 1

    # "Wyślij dla firmy ▸ sklep-b": the user asked, so answered, naming the company
    app.send_now("sklep-b")
    note = notes.sent[-1]
    assert note.title == "Nie udało się wysłać dokumentów" and note.body.startswith("sklep-b: "), note
    assert "-NIE-MA.fdb" in note.body


def describe(app) -> str:
    from agent.notify_policy import describe_summary

    return describe_summary(app.autosync.state().last_summary)
