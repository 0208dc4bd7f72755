"""``raksbl demo``: the demo hands every line to its caller and prints nothing itself."""

from __future__ import annotations

from agent import secrets
from agent.demo import run_demo


def test_demo_says_everything_through_its_caller(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAKSBL_DATA_DIR", str(tmp_path / "data"))
    for name in (secrets.BASELINKER_TOKEN, secrets.RAKS_PASSWORD):  # the demo sets them: undone after
        monkeypatch.setenv(secrets.env_var(name), "")
    lines: list[str] = []
    assert run_demo(lines.append, base=tmp_path / "demo") == 0
    assert capsys.readouterr().out == ""  # only the CLI prints
    text = "\n".join(lines)
    assert "== Wysyłka 1 ==" in text and "== Wysyłka 2" in text
    assert text.count("Podsumowanie — ") == 2
    assert lines[-1].endswith("OK — każdy poprawny dokument wysłany dokładnie raz, problemy opisane.")
    assert "KOR 1/" in text  # the demo's correction is sent with the invoices
