"""AutoSync with a controlled clock and synchronous threads: no real sleeping."""

from __future__ import annotations

import dataclasses
import threading
from types import SimpleNamespace

import pytest

from agent.autosync import AutoSync, RunCoalesced, RunError, StateChanged
from agent.errors import ConfigError, RunAborted
from agent.export.events import EventBus
from agent.settings import Settings, SettingsFile, SyncSettings, update_settings, write_default_settings
from tests.support.settings_texts import TWO_COMPANIES


def _summary(*, sent: int = 0, aborted: str | None = None):
    """A real RunSummary, as run_export returns it (the tray and autosync read its fields)."""
    from agent.export.results import DocumentRef, DocumentResult, Outcome, Result, RunSummary

    results = [DocumentResult(DocumentRef("FS", i, f"FS {i}/2026", 100 + i), Outcome(Result.SENT))
               for i in range(1, sent + 1)]
    return RunSummary(run_id="t", trigger="auto", dry_run=False, started_at=0.0, results=results, aborted=aborted)


class FakeClock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def sync_thread(target, *args, name=None):
    target(*args)
    return None


def make_settings(auto=True, interval=60):
    return Settings(sync=SyncSettings(auto=auto, interval_seconds=interval))


class Provider:
    def __init__(self, settings):
        self.settings = settings
        self.error = None

    def __call__(self):
        if self.error:
            raise self.error
        return self.settings


class FakeRun:
    def __init__(self, body=None):
        self.calls = []
        self.body = body

    def __call__(self, settings, *, trigger, bus, cancel):
        self.calls.append((trigger, settings))
        if self.body:
            return self.body(trigger, cancel)
        return _summary()


def make(settings=None, run=None, clock=None, **kw):
    clock = clock or FakeClock()
    provider = Provider(settings or make_settings())
    run = run or FakeRun()
    bus = EventBus()
    events = []
    bus.subscribe(events.append)
    sync = AutoSync(provider, run, bus=bus, clock=clock, wall_clock=lambda: 1_700_000_000.0 + clock.t,
                    start_thread=sync_thread, first_run_delay=5, **kw)
    sync.refresh_settings()
    return SimpleNamespace(sync=sync, clock=clock, run=run, provider=provider, events=events)


def test_fires_at_the_interval_and_not_before():
    h = make(make_settings(interval=60))
    h.sync.tick()
    assert h.run.calls == []  # first run waits first_run_delay
    h.clock.advance(5)
    assert h.sync.tick() is True
    assert [c[0] for c in h.run.calls] == ["auto"]
    h.clock.advance(59)
    assert h.sync.tick() is False
    assert len(h.run.calls) == 1
    h.clock.advance(1)
    assert h.sync.tick() is True
    assert len(h.run.calls) == 2
    # many missed periods still give one run (schedule never catches up in a burst)
    h.clock.advance(600)
    h.sync.tick()
    h.sync.tick()
    assert len(h.run.calls) == 3


def test_next_run_time_is_exposed_in_wall_clock():
    h = make(make_settings(interval=60))
    h.clock.advance(5)
    h.sync.tick()
    state = h.sync.state()
    assert state.next_run_at == pytest.approx(1_700_000_000.0 + h.clock.t + 60)
    assert state.last_summary is not None and not state.running and not state.paused


def test_runs_never_overlap_and_manual_run_during_a_run_is_coalesced():
    h = None
    inner = {}

    def body(trigger, cancel):
        # While this run is in progress: the timer comes due and the user clicks.
        h.clock.advance(1000)
        inner["tick"] = h.sync.tick()
        inner["manual"] = h.sync.run_now()
        inner["running"] = h.sync.state().running
        return _summary()

    h = make(run=FakeRun(body))
    h.clock.advance(5)
    assert h.sync.tick() is True
    assert inner == {"tick": False, "manual": False, "running": True}
    assert len(h.run.calls) == 1
    coalesced = [e for e in h.events if isinstance(e, RunCoalesced)]
    assert coalesced == [RunCoalesced("manual")]  # the timer's own skip is silent
    assert not h.sync.state().running


def test_manual_run_works_while_paused_and_does_not_resume():
    h = make(make_settings(auto=False))
    h.clock.advance(10_000)
    h.sync.tick()
    assert h.run.calls == []
    assert h.sync.run_now() is True
    assert [c[0] for c in h.run.calls] == ["manual"]
    assert h.sync.state().paused and h.sync.state().next_run_at is None


def test_pause_and_resume():
    h = make()
    h.clock.advance(5)
    h.sync.tick()
    assert len(h.run.calls) == 1
    h.sync.pause()
    assert h.sync.state().paused and h.sync.state().next_run_at is None
    h.clock.advance(10_000)
    h.sync.tick()
    assert len(h.run.calls) == 1
    h.sync.resume()
    h.sync.tick()
    assert len(h.run.calls) == 1
    h.clock.advance(5)
    h.sync.tick()
    assert len(h.run.calls) == 2


def test_auto_setting_change_in_the_provider_pauses_and_resumes():
    h = make()
    h.provider.settings = make_settings(auto=False)
    h.clock.advance(1000)
    h.sync.tick()
    assert h.run.calls == [] and h.sync.state().paused
    h.provider.settings = make_settings(auto=True)
    h.sync.tick()
    h.clock.advance(5)
    h.sync.tick()
    assert len(h.run.calls) == 1


def test_interval_change_takes_effect_without_restart():
    h = make(make_settings(interval=600))
    h.clock.advance(5)
    h.sync.tick()
    assert len(h.run.calls) == 1
    h.clock.advance(30)
    # the settings file now says 60 s: next run 60 s after the last one ended, not 600
    h.provider.settings = make_settings(interval=60)
    h.sync.tick()
    assert len(h.run.calls) == 1
    h.clock.advance(30)
    h.sync.tick()
    assert len(h.run.calls) == 2
    h.clock.advance(60)
    h.sync.tick()
    assert len(h.run.calls) == 3
    # and set_interval() directly, longer this time
    h.sync.set_interval(300)
    h.clock.advance(60)
    h.sync.tick()
    assert len(h.run.calls) == 3
    h.clock.advance(240)
    h.sync.tick()
    assert len(h.run.calls) == 4
    assert h.sync.state().interval_seconds == 300


def test_the_run_uses_the_latest_settings():
    h = make(make_settings(interval=60))
    newer = dataclasses.replace(make_settings(interval=60), log=dataclasses.replace(Settings().log, level="DEBUG"))
    h.provider.settings = newer
    h.clock.advance(5)
    h.sync.tick()
    assert h.run.calls[0][1] is newer


def test_exception_in_a_run_is_reported_and_the_loop_goes_on():
    outcomes = iter([ZeroDivisionError("boom"), RunAborted("Brak połączenia z bazą"), None])

    def body(trigger, cancel):
        exc = next(outcomes)
        if exc:
            raise exc
        return _summary(sent=1)

    h = make(run=FakeRun(body))
    h.clock.advance(5)
    h.sync.tick()
    state = h.sync.state()
    assert "ZeroDivisionError" in state.last_error and state.needs_attention and not state.running
    h.clock.advance(60)
    h.sync.tick()
    assert h.sync.state().last_error == "Brak połączenia z bazą"
    h.clock.advance(60)
    h.sync.tick()
    assert len(h.run.calls) == 3
    assert h.sync.state().last_error is None and not h.sync.state().needs_attention
    errors = [e for e in h.events if isinstance(e, RunError)]
    assert [e.kind for e in errors] == ["crash", "aborted"]


def test_unconfigured_does_not_run_the_timer_and_manual_run_reports_it():
    h = make()
    h.provider.error = ConfigError("Brak pliku ustawień", "file")
    h.sync.refresh_settings()
    h.clock.advance(10_000)
    h.sync.tick()
    state = h.sync.state()
    assert not state.configured and state.config_error == "Brak pliku ustawień" and state.next_run_at is None
    assert h.sync.run_now() is False
    assert h.run.calls == []
    assert RunError("manual", "config", "Brak pliku ustawień") in h.events
    # the file appears: the timer starts without a restart
    h.provider.error = None
    h.sync.tick()
    h.clock.advance(5)
    h.sync.tick()
    assert len(h.run.calls) == 1


def test_state_changes_are_published_for_the_tray():
    h = make()
    h.events.clear()
    h.clock.advance(5)
    h.sync.tick()
    states = [e.state for e in h.events if isinstance(e, StateChanged)]
    assert [s.running for s in states] == [True, False]


def test_always_on_ignores_the_auto_setting():
    h = make(make_settings(auto=False), always_on=True)
    h.clock.advance(5)
    h.sync.tick()
    assert len(h.run.calls) == 1


def test_settings_file_provider_rereads_only_on_change(tmp_path):
    path = tmp_path / "raksbl.toml"
    provider = SettingsFile(path)
    with pytest.raises(ConfigError):
        provider()
    write_default_settings(path)
    first = provider()
    assert provider() is first
    update_settings(path, {"sync.interval_seconds": 120})
    provider.invalidate()
    assert provider().sync.interval_seconds == 120


def test_clean_stop_mid_run_sets_the_cancel_event_and_joins():
    """Real threads: stop() while a run is blocked; the run observes cancel and returns."""
    started = threading.Event()
    observed = {}

    def body(trigger, cancel):
        started.set()
        observed["cancelled"] = cancel.wait(10)
        return _summary(aborted="przerwano")

    run = FakeRun(body)
    sync = AutoSync(Provider(make_settings()), run, bus=EventBus(), first_run_delay=0, poll_seconds=0.05)
    sync.start()
    assert started.wait(5), "the timer did not start a run"
    assert sync.run_now() is False  # single flight across real threads too
    assert sync.stop(wait=True, timeout=10) is True
    assert observed == {"cancelled": True}
    assert not sync.state().running and sync.state().stopping
    assert len(run.calls) == 1
    assert sync.run_now() is False  # nothing starts after stop


HEADLESS = """
import sys, threading
from types import SimpleNamespace
from agent import cli
def fake_run(settings, *, trigger, bus, cancel):
    print("RUN", trigger, flush=True)
    cancel.wait(30)   # a long run: SIGTERM must stop it through the cancel event
    print("CANCELLED" if cancel.is_set() else "TIMEOUT", flush=True)
    return _summary(aborted="przerwano")
sys.exit(cli.cmd_run(SimpleNamespace(config=sys.argv[1]), run_fn=fake_run))
"""


def test_raksbl_run_single_instance_and_sigterm(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    cfg = tmp_path / "raksbl.toml"
    write_default_settings(cfg)  # [sync] auto = false: ignored by `raksbl run`
    env = dict(os.environ, RAKSBL_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(root),
               RAKSBL_BASELINKER_TOKEN="1234-5678-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    first = subprocess.Popen([sys.executable, "-c", HEADLESS, str(cfg)], env=env, cwd=root,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline().strip() == "RUN auto"  # the timer ran at once
        second = subprocess.run([sys.executable, "-c", HEADLESS, str(cfg)], env=env, cwd=root,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 3
        assert f"PID {first.pid}" in second.stderr
        first.send_signal(signal.SIGTERM)
        out, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
        assert out.strip() == "CANCELLED"
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    log_text = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "data" / "logs").glob("*.log"))
    assert "raksbl run stopped" in log_text and "signal 15" in log_text
    assert "ABCDEFGHIJ" not in log_text


def test_raksbl_run_without_settings_exits_2(tmp_path, monkeypatch, capsys):
    import logging

    from agent.cli import cmd_run

    monkeypatch.setenv("RAKSBL_DATA_DIR", str(tmp_path / "data"))
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        assert cmd_run(SimpleNamespace(config=str(tmp_path / "missing.toml")), run_fn=FakeRun()) == 2
    finally:
        for h in list(root.handlers):
            if h not in before:
                root.removeHandler(h)
                h.close()
    assert "Brak pliku ustawień" in capsys.readouterr().err


def test_settings_broken_while_running_are_announced_once_and_name_the_setting():
    """Issue 16.11: auto-sync stopped silently when the file broke while the tray was running."""
    h = make(make_settings(auto=True))
    message = "Ustawienie raks.status_after_send: wybierz status po wysłaniu."
    h.provider.error = ConfigError(message, "raks.status_after_send")
    h.sync.refresh_settings()
    h.sync.refresh_settings()  # still broken: said once
    announced = [e for e in h.events if isinstance(e, RunError)]
    assert len(announced) == 1 and announced[0].kind == "config" and announced[0].trigger == "auto"
    assert "raks.status_after_send" in announced[0].message
    assert "Automatyczna synchronizacja wstrzymana" in announced[0].message


# ------------------------------------------------------------------ one company of several




class CompanyRun:
    """A run function with run_companies' signature: records the company asked for."""

    def __init__(self, error=None):
        self.calls = []
        self.error = error

    def __call__(self, settings, *, trigger, bus, cancel, company=None):
        self.calls.append((trigger, company))
        if self.error is not None:
            raise self.error
        return _summary(sent=1)


def test_run_now_for_one_company_hands_it_to_the_run_and_the_timer_runs_every_company():
    from agent.settings import parse_settings

    run = CompanyRun()
    h = make(parse_settings(TWO_COMPANIES), run=run)
    assert h.sync.run_now("manual", company="sklep-b")
    assert run.calls == [("manual", "sklep-b")]
    assert h.sync.run_now("manual")  # "Wyślij faktury": every company
    h.clock.advance(60)  # the period restarts after each run
    assert h.sync.tick()
    assert run.calls == [("manual", "sklep-b"), ("manual", None), ("auto", None)]
    assert h.sync.state().company is None  # nothing running any more


def test_a_plain_run_function_without_company_still_works_for_every_company():
    h = make()
    assert h.sync.run_now("manual")
    assert h.run.calls[0][0] == "manual"  # FakeRun takes no company: it was not passed one


def test_the_company_is_known_while_its_run_is_in_progress_and_a_second_trigger_coalesces():
    seen = []

    class Busy(CompanyRun):
        def __call__(self, settings, *, trigger, bus, cancel, company=None):
            seen.append(h.sync.state().company)
            assert not h.sync.run_now("manual", company="sklep-a")  # while sklep-b's run goes on
            return super().__call__(settings, trigger=trigger, bus=bus, cancel=cancel, company=company)

    h = make(run=Busy())
    assert h.sync.run_now("manual", company="sklep-b")
    assert seen == ["sklep-b"]
    assert h.run.calls == [("manual", "sklep-b")]
    assert [e for e in h.events if isinstance(e, RunCoalesced)] == [RunCoalesced("manual", "sklep-a")]


def test_the_error_of_a_one_company_run_names_that_company():
    from agent.settings import parse_settings

    run = CompanyRun(RunAborted("Brak połączenia z bazą RaksSQL."))
    h = make(parse_settings(TWO_COMPANIES), run=run)
    h.sync.run_now("manual", company="sklep-b")
    errors = [e for e in h.events if isinstance(e, RunError)]
    assert errors == [RunError("manual", "aborted", "Brak połączenia z bazą RaksSQL.", "sklep-b")]
    run.error = ConfigError("Nie ma firmy 'sklep-c' w ustawieniach; są: sklep-a, sklep-b.", "company")
    h.sync.run_now("manual", company="sklep-c")
    assert [e for e in h.events if isinstance(e, RunError)][-1].company == "sklep-c"


def test_the_error_of_a_one_company_list_names_its_company():
    """A [[company]] list of one company: run_companies raises that company's error (nothing to
    go on with); the tray must still say whose it is."""
    from agent.settings import parse_settings

    one = TWO_COMPANIES[: TWO_COMPANIES.index("[[company]]\nname = \"sklep-b\"")]
    run = CompanyRun(RunAborted("Błędny token BaseLinker."))
    h = make(parse_settings(one), run=run)
    h.sync.run_now("manual")
    assert [e.company for e in h.events if isinstance(e, RunError)] == ["sklep-a"]


def test_a_run_for_one_company_keeps_the_others_problems_on_the_icon():
    from agent.export.results import CompaniesSummary, DocumentRef, DocumentResult, Outcome, RunSummary
    from agent.settings import parse_settings

    def company_run(company, result):
        ref = DocumentRef("FS", 1, "FS 1/2026", 11)
        return RunSummary("r", "x", False, 0.0, company=company, results=[DocumentResult(ref, Outcome(result, "x"))])

    class Runs(CompanyRun):
        def __call__(self, settings, *, trigger, bus, cancel, company=None):
            self.calls.append((trigger, company))
            if self.error is not None:
                raise self.error
            names = [company] if company else ["sklep-a", "sklep-b"]
            return CompaniesSummary(trigger, False, 0.0, runs=[
                company_run(n, "failed" if (n == "sklep-a" and trigger == "auto") else "sent") for n in names])

    run = Runs()
    h = make(parse_settings(TWO_COMPANIES), run=run)
    h.clock.advance(5)
    assert h.sync.tick()  # the timer: sklep-a fails, sklep-b sends
    assert h.sync.state().needs_attention
    h.sync.run_now("manual", company="sklep-b")  # sklep-b again: sklep-a's failure still shown
    last = h.sync.state().last_summary
    assert [r.company for r in last.runs] == ["sklep-a", "sklep-b"]
    assert last.runs[0].failed and h.sync.state().needs_attention
    h.sync.run_now("manual", company="sklep-a")  # sklep-a's own run clears it
    assert not h.sync.state().needs_attention
    run.error = RunAborted("Brak połączenia z bazą RaksSQL.")
    h.sync.run_now("manual", company="sklep-b")
    assert h.sync.state().last_error == "sklep-b: Brak połączenia z bazą RaksSQL."
