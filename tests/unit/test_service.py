"""``raksbl run`` logs each company's run by name (and the whole run once) - with a run function
publishing what run_companies publishes; a single-company file logs as before."""

from __future__ import annotations

import logging
import threading

import pytest

from agent.export.events import CompaniesFinished, RunFinished
from agent.export.results import CompaniesSummary, DocumentRef, DocumentResult, Outcome, RunSummary
from agent.service import run_service
from tests.support.settings_texts import TWO_COMPANIES



@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("RAKSBL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr("agent.logs.setup_logging", lambda *a, **k: tmp_path / "raksbl.log")  # caplog reads it
    return tmp_path


def serve(config, stop):
    """Run the service until the first run stopped it; the run publishes like run_companies."""
    calls = []

    def run_fn(settings, *, trigger, bus, cancel):
        calls.append(trigger)
        total = CompaniesSummary(trigger, False, 0.0)
        ref = DocumentRef("FS", 1, "FS 1/2026", 11)
        for view, results, aborted in zip(settings.each_company(), (
                [DocumentResult(ref, Outcome("sent", bl_doc_id=1)), DocumentResult(ref, Outcome("sent", bl_doc_id=2))],
                []), (None, "brak połączenia z bazą RaksSQL")):
            run = RunSummary("r", trigger, False, 0.0, results=results, aborted=aborted, company=view.company)
            bus.publish(RunFinished(run))
            total.runs.append(run)
        bus.publish(CompaniesFinished(total))
        stop.set()
        return total

    assert run_service(str(config), run_fn=run_fn, stop_event=stop, stop_timeout=30) == 0
    return calls


def test_each_company_is_logged_by_name(env, caplog):
    config = env / "raksbl.toml"
    config.write_text(TWO_COMPANIES, encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="agent.service"):
        calls = serve(config, threading.Event())
    assert calls == ["auto"]
    lines = [r.getMessage() for r in caplog.records if r.name == "agent.service"]
    assert any("companies: sklep-a, sklep-b" in line for line in lines)
    assert "company sklep-a: run finished: sent 2, failed 0, in doubt 0, deferred 0" in lines
    assert ("company sklep-b: run finished: sent 0, failed 0, in doubt 0, deferred 0, "
            "aborted: brak połączenia z bazą RaksSQL") in lines
    assert any(line.startswith("all companies finished (sklep-a, sklep-b): sent 2,") and
               line.endswith("exit code 2") for line in lines), lines


def test_single_company_file_logs_as_before(env, caplog):
    from agent.settings import write_default_settings

    config = env / "raksbl.toml"
    write_default_settings(config)
    with caplog.at_level(logging.INFO, logger="agent.service"):
        serve(config, threading.Event())
    lines = [r.getMessage() for r in caplog.records if r.name == "agent.service"]
    assert "run finished: sent 2, failed 0, in doubt 0, deferred 0" in lines
    assert not any("company " in line or "companies" in line for line in lines), lines
