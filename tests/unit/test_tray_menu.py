"""The tray menu's wiring, with pystray's dummy backend: each item does what it says."""

from __future__ import annotations

import logging
import os

os.environ["PYSTRAY_BACKEND"] = "dummy"  # before anything imports pystray

from types import SimpleNamespace  # noqa: E402

import pytest  # noqa: E402

from agent.export.events import CompaniesFinished, RunFinished, RunStarted  # noqa: E402
from agent.export.results import CompaniesSummary, DocumentRef, DocumentResult, Outcome, RunSummary  # noqa: E402
from agent.settings import load_settings, update_settings, write_default_settings  # noqa: E402
from ui import autostart  # noqa: E402
from ui.app import TrayApp, UiLoop  # noqa: E402
from ui.tray import (  # noqa: E402
    MENU_AUTO, MENU_AUTOSTART, MENU_HISTORY, MENU_LABELS, MENU_LOGS, MENU_QUIT, MENU_SEND, MENU_SEND_COMPANY,
    MENU_SETTINGS,
    icon_state, tooltip,
)
from tests.support.settings_texts import TWO_COMPANIES  # noqa: E402


class FakeClock:
    t = 100.0

    def __call__(self):
        return self.t


def sync_thread(target, *args, name=None):
    target(*args)


class FakeNotifier:
    def __init__(self):
        self.sent = []

    def notify(self, n):
        self.sent.append(n)
        return True


class FakeRun:
    """Publishes events like run_companies and returns its summary; ``during`` runs mid-run;
    ``companies_asked`` records the ``company`` of each call (None = every company)."""

    def __init__(self):
        self.calls = []
        self.companies_asked = []
        self.result = "ok"
        self.during = None

    def __call__(self, settings, *, trigger, bus, cancel, company=None):
        self.calls.append(trigger)
        self.companies_asked.append(company)
        total = CompaniesSummary(trigger, False, 0.0)
        for view in settings.each_company(company):
            bus.publish(RunStarted("r1", trigger, False, 2, company=view.company))
            if self.during:
                self.during()
            ref = DocumentRef("FS", 1, "FS 1/2026", 11)
            if self.result == "ok":
                results = [DocumentResult(ref, Outcome("sent", bl_doc_id=5, bl_number="BL1")),
                           DocumentResult(ref, Outcome("sent", bl_doc_id=6, bl_number="BL2"))]
            else:
                results = [DocumentResult(ref, Outcome("failed", "Brak PDF"))]
            # the summaries run_companies returns, not look-alikes: the tray reads nothing else
            s = RunSummary("r1", trigger, False, 0.0, results=results, company=view.company)
            bus.publish(RunFinished(s))
            total.runs.append(s)
        bus.publish(CompaniesFinished(total))
        return total


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("RAKSBL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr("sys.platform", "linux")
    return tmp_path


def make_app(env, configured=True, auto=True):
    cfg = env / "raksbl.toml"
    if configured:
        write_default_settings(cfg)
        update_settings(cfg, {"sync.auto": auto})
    opened = []
    run = FakeRun()
    app = TrayApp(cfg, run_fn=run, notifier=FakeNotifier(), opener=opened.append, ui=UiLoop(use_tk=False),
                  start_thread=sync_thread, clock=FakeClock(), first_run_delay=0)
    app.create_tray()
    app.autosync.refresh_settings()
    return SimpleNamespace(app=app, cfg=cfg, opened=opened, run=run, notes=app.notifier.sent)


def item(app, label):
    return next(i for i in app.tray.menu.items if i.text == label)


def click(app, label):
    item(app, label)(app.tray.icon)


def test_menu_has_the_polish_labels_in_order(env):
    h = make_app(env)
    import pystray

    texts = [i.text for i in h.app.tray.menu if i is not pystray.Menu.SEPARATOR]
    assert texts == list(MENU_LABELS)  # one company: no "Wyślij dla firmy" submenu
    assert not item(h.app, MENU_SEND).default  # a send is always deliberate (issue 15.8)
    assert item(h.app, MENU_HISTORY).default
    assert item(h.app, MENU_AUTO).checked is True
    assert item(h.app, MENU_SETTINGS).checked is None  # not checkable


def test_send_now_runs_and_notifies(env):
    h = make_app(env)
    h.app.tray.menu(h.app.tray.icon)  # the icon's default action (a click) opens the history
    h.app.ui.drain()
    assert h.run.calls == [] and len(h.opened) == 1
    click(h.app, MENU_SEND)
    assert h.run.calls == ["manual"]
    assert [n.title for n in h.notes] == ["Wysłano 2 dokumenty do BaseLinker"]
    click(h.app, MENU_SEND)
    assert h.run.calls == ["manual", "manual"]


def test_send_during_a_run_is_coalesced_and_told(env):
    h = make_app(env)
    h.run.during = lambda: click(h.app, MENU_SEND)
    click(h.app, MENU_SEND)
    assert h.run.calls == ["manual"]
    assert [n.title for n in h.notes] == ["Trwa wysyłanie", "Wysłano 2 dokumenty do BaseLinker"]


def test_auto_sync_toggle_persists_and_pauses(env):
    h = make_app(env, auto=True)
    click(h.app, MENU_AUTO)
    assert load_settings(h.cfg).sync.auto is False
    assert h.app.autosync.state().paused
    assert item(h.app, MENU_AUTO).checked is False
    assert "# raksbl settings" in h.cfg.read_text(encoding="utf-8")  # comments kept
    click(h.app, MENU_AUTO)
    assert load_settings(h.cfg).sync.auto is True
    assert item(h.app, MENU_AUTO).checked is True and not h.app.autosync.state().paused


def test_open_settings_goes_through_the_ui_thread_and_creates_the_template(env):
    h = make_app(env, configured=False)
    click(h.app, MENU_SETTINGS)
    assert h.opened == []  # queued for the UI (Tk) thread, not done on the tray thread
    h.app.ui.drain()
    assert h.opened == [h.cfg]
    assert "[sync]" in h.cfg.read_text(encoding="utf-8")


def test_history_and_log_folder(env):
    from agent.paths import log_dir

    h = make_app(env)
    click(h.app, MENU_LOGS)
    click(h.app, MENU_HISTORY)
    h.app.ui.drain()
    assert h.opened == [log_dir(), log_dir()]  # no log file configured in this process: the folder


def test_autostart_checkmark_reads_the_real_xdg_file(env):
    h = make_app(env)
    desktop = env / "xdg" / "autostart" / "raksbl.desktop"
    assert item(h.app, MENU_AUTOSTART).checked is False
    click(h.app, MENU_AUTOSTART)
    assert desktop.exists()
    text = desktop.read_text(encoding="utf-8")
    assert "Exec=" in text and "-m agent --config" in text and text.rstrip().endswith("X-GNOME-Autostart-enabled=true")
    assert item(h.app, MENU_AUTOSTART).checked is True
    desktop.unlink()  # removed behind our back: the checkmark follows the OS
    assert item(h.app, MENU_AUTOSTART).checked is False
    desktop.write_text("[Desktop Entry]\nExec=x\nHidden=true\n")
    assert item(h.app, MENU_AUTOSTART).checked is False
    click(h.app, MENU_AUTOSTART)  # unchecked -> enable again
    assert "Hidden" not in desktop.read_text()
    click(h.app, MENU_AUTOSTART)
    assert not desktop.exists()


def test_callbacks_never_raise(env, caplog, monkeypatch):
    h = make_app(env)

    def boom(*a, **k):
        raise RuntimeError("registry on fire")

    monkeypatch.setattr(autostart, "set_enabled", boom)
    monkeypatch.setattr(autostart, "is_enabled", boom)
    with caplog.at_level(logging.ERROR):
        click(h.app, MENU_AUTOSTART)  # must not raise
        assert item(h.app, MENU_AUTOSTART).checked is False
    assert "registry on fire" in caplog.text


def test_quit_stops_the_timer_and_ends_the_ui_loop(env):
    h = make_app(env)
    click(h.app, MENU_QUIT)
    h.app.ui.drain()
    assert h.app.autosync.state().stopping and h.app.autosync.cancel_event.is_set()
    assert h.app.ui.finished
    assert h.app.autosync.run_now() is False


def test_icon_look_and_tooltip_follow_the_state(env):
    h = make_app(env)
    assert h.app.tray.look == "idle"
    h.run.result = "fail"
    click(h.app, MENU_SEND)
    assert h.app.tray.look == "attention"
    assert "błędy 1" in h.app.tray.icon.title and "następna" in h.app.tray.icon.title
    assert h.notes[-1].title == "1 dokument nie został wysłany"
    h.run.result = "ok"
    click(h.app, MENU_SEND)
    assert h.app.tray.look == "idle"
    click(h.app, MENU_AUTO)
    assert h.app.tray.look == "paused" and "wstrzymana" in h.app.tray.icon.title
    seen = []
    h.run.during = lambda: seen.append(h.app.tray.look)
    click(h.app, MENU_SEND)
    assert seen == ["sending"]


def test_unconfigured_tray_says_so_and_runs_nothing(env):
    h = make_app(env, configured=False)
    st = h.app.autosync.state()
    assert tooltip(st) == "raksbl – nieskonfigurowany" and icon_state(st) == "attention"
    assert h.app.tray.icon.title == "raksbl – nieskonfigurowany"
    assert h.app.autosync.tick() is False and h.run.calls == []
    assert item(h.app, MENU_AUTO).checked is False
    click(h.app, MENU_AUTO)  # cannot switch on without settings: told, nothing written
    assert not h.cfg.exists()
    assert h.notes[-1].title == "raksbl nie jest skonfigurowany"
    click(h.app, MENU_SEND)
    assert h.run.calls == [] and h.notes[-1].title == "Błąd ustawień"


def test_notification_mode_from_settings(env):
    h = make_app(env)
    update_settings(h.cfg, {"sync.notifications": "errors"})
    h.app.settings_source.invalidate()
    h.app.autosync.refresh_settings()
    click(h.app, MENU_SEND)
    assert h.notes == []
    h.run.result = "fail"
    click(h.app, MENU_SEND)
    assert [n.title for n in h.notes] == ["1 dokument nie został wysłany"]


# --- desktop notifications ---------------------------------------------------------------------

from agent.notify_policy import Notification  # noqa: E402
from ui.notifications import DesktopNotifier  # noqa: E402


class Runner:
    def __init__(self, codes):
        self.codes = dict(codes)
        self.cmds = []

    def __call__(self, cmd, **kw):
        self.cmds.append(cmd)
        name = os.path.basename(cmd[0])
        code = self.codes.get(name, 0)
        if isinstance(code, Exception):
            raise code
        return SimpleNamespace(returncode=code, stderr="no daemon" if code else "")


def test_notify_send_is_used_on_linux(tmp_path):
    runner = Runner({})
    n = DesktopNotifier(platform="linux", runner=runner, which=lambda name: f"/usr/bin/{name}", background=False,
                        icon_path=tmp_path / "ok.png", error_icon_path=tmp_path / "bad.png")
    assert n.notify(Notification("2 dokumenty nie zostały wysłane", "FS 1: -x", error=True)) is True
    cmd = runner.cmds[0]
    assert cmd[0] == "/usr/bin/notify-send" and "--urgency=critical" in cmd and f"--icon={tmp_path / 'bad.png'}" in cmd
    assert cmd[-3:] == ["--", "2 dokumenty nie zostały wysłane", "FS 1: -x"]  # "--": a body starting with - is text
    assert len(n.sent) == 1


def test_gdbus_fallback_and_never_crash_without_a_daemon():
    runner = Runner({"notify-send": 1})
    n = DesktopNotifier(platform="linux", runner=runner, which=lambda name: f"/usr/bin/{name}", background=False)
    assert n.notify(Notification("Tytuł 'x'", "a\nb")) is True  # notify-send failed, gdbus worked
    gdbus = runner.cmds[1]
    assert gdbus[:3] == ["/usr/bin/gdbus", "call", "--session"]
    assert "'Tytuł \\'x\\''" in gdbus and "'a\\nb'" in gdbus
    broken = Runner({"notify-send": OSError("gone"), "gdbus": 1})
    n = DesktopNotifier(platform="linux", runner=broken, which=lambda name: f"/usr/bin/{name}", background=False)
    assert n.notify(Notification("t", "b")) is False and n.sent == []
    n = DesktopNotifier(platform="linux", runner=broken, which=lambda name: None, background=False)
    assert n.notify(Notification("t", "b")) is False


def test_windows_uses_the_tray_icon_balloon_with_limits():
    shown = []

    def balloon(title, body, done):
        shown.append((title, body))
        done(True)

    runner = Runner({})
    n = DesktopNotifier(balloon, platform="win32", runner=runner, background=False)
    assert n.notify(Notification("T" * 100, "x" * 400)) is True
    title, body = shown[0]
    assert len(title) <= 63 and len(body) <= 255 and body.endswith("…")
    assert runner.cmds == [] and len(n.sent) == 1


def test_a_broken_settings_file_at_start_is_named_not_called_unconfigured(env):
    """Issue 16.11: the start notice named nothing ("nie jest skonfigurowany")."""
    h = make_app(env, configured=False)
    assert h.app.unconfigured_notice(h.app.autosync.state()).title == "raksbl nie jest skonfigurowany"
    h.cfg.write_text("[raks]\nstatus_after_send = 0\n", encoding="utf-8")
    h.app.settings_source.invalidate()
    h.app.autosync.refresh_settings()
    notice = h.app.unconfigured_notice(h.app.autosync.state())
    assert notice.title == "Błąd ustawień" and "raks.status_after_send" in notice.body


def test_a_settings_file_that_is_not_text_is_named_at_start_not_a_crash(env):
    """Issue 16.5: a non-UTF-8 / binary file killed the tray with no icon and no message."""
    h = make_app(env, configured=False)
    h.cfg.write_bytes(b"\xff\xfe\x00\x00\x01\x02garbage\x00" * 20)
    h.app.settings_source.invalidate()
    h.app.autosync.refresh_settings()
    notice = h.app.unconfigured_notice(h.app.autosync.state())
    assert notice.title == "Błąd ustawień" and str(h.cfg) in notice.body


# --- several companies -------------------------------------------------------------------------



def visible_texts(menu):
    import pystray

    return [i.text for i in menu if i is not pystray.Menu.SEPARATOR]


def make_two_company_app(env):
    h = make_app(env)
    h.cfg.write_text(TWO_COMPANIES, encoding="utf-8")
    h.app.settings_source.invalidate()
    h.app.autosync.refresh_settings()
    return h


def test_submenu_sends_for_one_company_and_the_send_item_for_all(env):
    h = make_two_company_app(env)
    assert visible_texts(h.app.tray.menu) == [MENU_SEND, MENU_SEND_COMPANY, *MENU_LABELS[1:]]
    submenu = item(h.app, MENU_SEND_COMPANY).submenu
    assert visible_texts(submenu) == ["sklep-a", "sklep-b"]
    next(i for i in submenu if i.text == "sklep-b")(h.app.tray.icon)
    assert h.run.companies_asked == ["sklep-b"]
    assert [(n.title, n.body) for n in h.notes] == [("sklep-b: wysłano 2 faktury", "FS 1/2026, FS 1/2026")]
    click(h.app, MENU_SEND)
    assert h.run.companies_asked == ["sklep-b", None]
    assert h.notes[-1].title == "Wysłano 4 dokumenty do BaseLinker"
    assert h.notes[-1].body.splitlines() == ["sklep-a: wysłano 2 faktury", "sklep-b: wysłano 2 faktury"]
    assert "sklep-a: wysłano 2; sklep-b: wysłano 2" in h.app.tray.icon.title


def test_submenu_follows_the_settings_file(env):
    h = make_two_company_app(env)
    # a third company typed into the file while the agent runs: the next tick re-reads the file
    h.cfg.write_text(TWO_COMPANIES + '\n[[company]]\nname = "hurt"\n[company.raks]\ndatabase = "/x.fdb"\n',
                     encoding="utf-8")
    h.app.settings_source.invalidate()
    h.app.autosync.tick()
    assert visible_texts(item(h.app, MENU_SEND_COMPANY).submenu) == ["sklep-a", "sklep-b", "hurt"]
    # back to a single-company file: no submenu
    h.cfg.unlink()
    write_default_settings(h.cfg)
    h.app.settings_source.invalidate()
    h.app.autosync.tick()
    assert MENU_SEND_COMPANY not in visible_texts(h.app.tray.menu)


def test_one_failing_company_is_named_in_the_notification(env):
    h = make_two_company_app(env)
    h.run.result = "fail"
    click(h.app, MENU_SEND)
    assert h.notes[-1].title == "2 dokumenty nie zostały wysłane"
    assert h.notes[-1].body.splitlines() == ["sklep-a: 1 dokument nie został wysłany: FS 1/2026 (Brak PDF)",
                                             "sklep-b: 1 dokument nie został wysłany: FS 1/2026 (Brak PDF)"]
    assert h.app.tray.look == "attention"


def test_tooltip_of_many_companies_keeps_the_next_run_and_names_the_one_sending():
    from agent.autosync import AutoSyncState

    ref = DocumentRef("FS", 1, "FS 1/2026", 11)
    runs = [RunSummary("r", "auto", False, 0.0, company=f"sklep-{i:02d}-z-dluga-nazwa",
                       results=[DocumentResult(ref, Outcome("failed", "Brak PDF"))]) for i in range(6)]
    state = AutoSyncState(configured=True, config_error=None, paused=False, running=False, trigger=None,
                          interval_seconds=60, next_run_at=1_700_000_000.0, last_summary=CompaniesSummary(
                              "auto", False, 0.0, runs=runs), last_error=None, last_finished_at=1_700_000_000.0)
    text = tooltip(state)
    assert len(text) <= 127 and "sklep-00-z-dluga-nazwa: wysłano 0, błędy 1" in text
    assert "…" in text and "następna" in text
    import dataclasses

    sending = dataclasses.replace(state, running=True, company="sklep-b")
    assert tooltip(sending).startswith("raksbl – trwa wysyłanie (sklep-b)…")


def test_tooltip_names_the_company_being_sent_for_during_a_run_over_all(env):
    h = make_two_company_app(env)
    seen = []
    h.run.during = lambda: seen.append(h.app.tray.icon.title)
    click(h.app, MENU_SEND)
    assert [t.split(" · ")[0] for t in seen] == ["raksbl – trwa wysyłanie (sklep-a)…",
                                                  "raksbl – trwa wysyłanie (sklep-b)…"]
    assert "trwa" not in h.app.tray.icon.title
