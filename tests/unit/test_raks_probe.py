"""The child-process connection test (agent/raks/probe.py): request/answer shapes, the command."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys

from agent.raks import probe
from agent.settings import RaksSettings


def test_settings_survive_the_trip_to_the_child():
    settings = RaksSettings(database="serwer/3051:C:/RAKS/Data/F00001.fdb", user="Łucja", client_library="C:/Fb/fbclient.dll",
                            statuses_to_send=(2, 5), document_types=("FS",), not_before=dt.date(2026, 11, 1),
                            queries={"statuses": "SELECT 1 AS ID, 'ą' AS NAZWA FROM RDB$DATABASE"})
    data = json.loads(json.dumps(probe._settings_to_json(settings)))
    assert probe._settings_from_json(data) == settings


def test_child_answers_one_json_line_even_for_a_broken_request():
    out = io.BytesIO()
    assert probe.child_main(io.BytesIO("nie json ą".encode()), out) == 0
    answer = json.loads(out.getvalue().decode("utf-8"))
    assert answer["ok"] is False and answer["kind"] == "connection" and "JSONDecodeError" in answer["error"]


def test_child_reports_a_wrong_setting_with_its_key(tmp_path):
    request = {"settings": {"database": "", "client_library": ""}, "password": "x"}
    out = io.BytesIO()
    probe.child_main(io.BytesIO(json.dumps(request).encode()), out)
    answer = json.loads(out.getvalue())
    assert answer["ok"] is False and "raks.database" in answer["error"]


def test_probe_command(monkeypatch, tmp_path):
    assert probe.probe_command() == [sys.executable, "-m", "agent", "--raks-probe"]
    exe = tmp_path / "raksbl"
    cli = tmp_path / ("raksbl-cli.exe" if sys.platform == "win32" else "raksbl-cli")
    cli.write_text("")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    # the windowed raksbl has no console output: the probe runs the console executable beside it
    assert probe.probe_command() == [str(cli), "--raks-probe"]
