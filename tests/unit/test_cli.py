"""agent.cli without servers: argument validation and output that never crashes on encoding."""

import io

import pytest

from agent import cli
from agent.export.report import format_result_line


@pytest.mark.parametrize("argv", [
    ["send", "--limit", "-1"],
    ["send", "--limit", "0"],
    ["send", "--limit", "abc"],
    ["history", "--limit", "-5"],
    ["retry", "-3"],
    ["skip", "0"],
    ["sandbox", "--port", "70000"],
    ["sandbox", "--rpm", "0"],
])
def test_impossible_numbers_are_refused_before_anything_runs(argv, capsys, monkeypatch):
    def must_not_run(args):
        raise AssertionError("the command ran with an impossible argument")

    for name in ("cmd_send", "cmd_history", "cmd_retry", "cmd_skip", "cmd_sandbox"):
        monkeypatch.setattr(cli, name, must_not_run)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "oczekiwano" in err or "portu" in err


def test_a_positive_limit_is_accepted():
    args = cli.build_parser().parse_args(["send", "--limit", "3"])
    assert args.limit == 3


@pytest.mark.parametrize("encoding", ["cp1250", "ascii"])
def test_output_without_arrows_or_polish_letters_does_not_crash(encoding):
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding=encoding)
    cli.make_output_safe(stream)
    stream.write("FS 1/2026  wysłano → BaseLinker 7/11/2026 — żółć\n")
    stream.flush()
    text = raw.getvalue().decode(encoding)
    if encoding == "cp1250":  # what the encoding has stays correct (cp1250 has the dash)
        assert text == "FS 1/2026  wysłano -> BaseLinker 7/11/2026 — żółć\n"
    else:
        assert text == "FS 1/2026  wys?ano -> BaseLinker 7/11/2026 - ????\n"


@pytest.mark.parametrize("argv", [["--help"], ["send", "--help"], ["secret", "--help"], ["history", "--help"]])
def test_help_is_polish(argv, capsys):
    with pytest.raises(SystemExit):
        cli.main(argv)
    out = capsys.readouterr().out
    assert "użycie:" in out and "pokaż tę pomoc" in out
    for english in ("usage:", "show this help", "options:", "positional arguments", "show program's"):
        assert english not in out


def test_argparse_is_left_english_for_everyone_else():
    import argparse

    cli.build_parser()
    assert argparse._("usage: ") == "usage: "  # type: ignore[attr-defined]


def test_a_result_line_never_repeats_the_document_type():
    from types import SimpleNamespace

    from agent.export.events import DocumentRef
    from agent.export.protocol import Outcome

    line = format_result_line(SimpleNamespace(ref=DocumentRef("FS", 1, "FS 1/11/2026", 7),
                                                  outcome=Outcome("sent", bl_number="1/11/2026")))
    assert line.startswith("FS 1/11/2026 ") and "FS FS" not in line
    bare = format_result_line(SimpleNamespace(ref=DocumentRef("PA", 2, "12/2026", 8), outcome=Outcome("failed", "x")))
    assert bare.startswith("PA 12/2026 ")


def test_a_lost_connection_is_not_said_twice():
    from agent.export.run import _abort_message
    from agent.raks.errors import RaksConnectionError

    msg = _abort_message(RaksConnectionError("Utracono połączenie z serwerem localhost:3050 (RaksSQL) — serwer zatrzymany"))
    assert msg.lower().count("utracono połączenie") == 1
    other = _abort_message(RaksConnectionError("gds 335544721"))
    assert other.startswith("utracono połączenie z bazą RaksSQL")


def test_sandbox_forwards_the_variant_and_the_duplicates_rule(monkeypatch, capsys):
    """`raksbl sandbox --variant …` runs the sandbox with that undocumented behaviour (it used to be
    only `python -m agent.sandbox`); an unknown variant is named with the known ones."""
    import agent.sandbox as sandbox
    from agent.sandbox import UNDOCUMENTED_VARIANTS

    seen = []
    monkeypatch.setattr(sandbox, "main", lambda argv: seen.append(argv) or 0)
    variant = sorted(UNDOCUMENTED_VARIANTS)[-1]
    assert cli.main(["sandbox", "--port", "9000", "--variant", variant, "--duplicates", "refuse"]) == 0
    assert seen == [["--port", "9000", "--variant", variant, "--duplicates", "refuse"]]
    assert cli.main(["sandbox", "--variant", "nie-ma"]) == 2
    assert "Nieznany wariant 'nie-ma'" in capsys.readouterr().err and len(seen) == 1
