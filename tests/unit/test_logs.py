"""Log files: daily files with retention, idempotent setup, secrets never written."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from agent import logs
from agent.logs import DailyFileHandler, SecretFilter, prune_logs, redact, register_secret, setup_logging

TOKEN = "3001224-3024497-QWERTYUIOPASDFGHJKLZXCVBNM1234567890QWERTY"


@pytest.fixture
def clean_root(tmp_path, monkeypatch):
    monkeypatch.setenv("RAKSBL_DATA_DIR", str(tmp_path / "data"))
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    for h in list(root.handlers):
        root.removeHandler(h)
    yield tmp_path / "data" / "logs"
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    for h in saved[0]:
        root.addHandler(h)
    root.setLevel(saved[1])


def test_setup_logging_writes_to_a_dated_file_and_is_idempotent(clean_root):
    path = setup_logging("INFO", 30)
    assert path.parent == clean_root and path.name == f"raksbl-{dt.date.today().isoformat()}.log"
    again = setup_logging("DEBUG", 10)
    assert again == path
    ours = [h for h in logging.getLogger().handlers if isinstance(h, DailyFileHandler)]
    assert len(ours) == 1 and ours[0].retention_days == 10
    assert logging.getLogger().level == logging.DEBUG
    logging.getLogger("raksbl.test").debug("zażółć gęślą jaźń")
    for h in ours:
        h.flush()
    assert path.read_text(encoding="utf-8").count("zażółć gęślą jaźń") == 1


def test_console_handler_added_once_and_removed(clean_root):
    setup_logging(console=True)
    setup_logging(console=True)
    consoles = [h for h in logging.getLogger().handlers if getattr(h, "_raksbl_handler", None) == "console"]
    assert len(consoles) == 1
    setup_logging(console=False)
    assert not [h for h in logging.getLogger().handlers if getattr(h, "_raksbl_handler", None) == "console"]


def test_token_never_reaches_the_file(clean_root, monkeypatch):
    monkeypatch.setenv("RAKSBL_RAKS_PASSWORD", "masterkey-XYZ")
    register_secret("plain-secret-value")
    path = setup_logging("DEBUG")
    log = logging.getLogger("agent.baselinker.client")
    log.info("calling with token %s", TOKEN)
    log.info("headers {'X-BLToken': '%s'}", "short-tok")
    log.warning("connect user=SYSDBA password=masterkey-XYZ failed")
    log.warning("registered: plain-secret-value")
    try:
        raise RuntimeError(f"bad token={TOKEN}")
    except RuntimeError:
        log.exception("failure")
    log.info("run %s sent FS 12/11/2026/MAG", "3f2a9c1e0b7d4e8f9a6b5c4d3e2f1a0b")
    for h in logging.getLogger().handlers:
        h.flush()
    text = path.read_text(encoding="utf-8")
    assert TOKEN not in text and "QWERTYUIOP" not in text
    assert "short-tok" not in text and "masterkey-XYZ" not in text and "plain-secret-value" not in text
    assert "RuntimeError: bad token=***" in text
    assert text.count("***") >= 5
    # ordinary content stays readable: run ids, document numbers
    assert "run 3f2a9c1e0b7d4e8f9a6b5c4d3e2f1a0b sent FS 12/11/2026/MAG" in text


def test_redact_patterns():
    assert redact(f"t={TOKEN}") == "t=***"
    assert redact('{"token": "abc"}') == '{"token": "***"}'
    assert redact("Authorization: Bearer abc.def") == "Authorization: Bearer ***"
    assert redact("hasło=tajne1 reszta") == "hasło=*** reszta"
    assert redact("Wysłano 5 dokumentów do zamówienia 12345678") == "Wysłano 5 dokumentów do zamówienia 12345678"


def test_filter_handles_records_with_args_and_bad_formats():
    f = SecretFilter()
    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "a %s b", (TOKEN,), None)
    assert f.filter(rec) and rec.getMessage() == "a *** b"
    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "a %d", ("not a number",), None)
    assert f.filter(rec) and "not a number" in rec.getMessage()


def test_daily_rotation_and_retention(tmp_path):
    current = {"d": dt.date(2026, 3, 1)}
    # 5 days kept on 1 March 2026: 25, 26, 27, 28 February and 1 March
    for d in ("2026-02-01", "2026-02-24", "2026-02-25"):
        (tmp_path / f"raksbl-{d}.log").write_text("old")
    (tmp_path / "raksbl-notes.log").write_text("keep me")  # not a dated log of ours
    handler = DailyFileHandler(tmp_path, retention_days=5, today=lambda: current["d"])
    handler.setFormatter(logging.Formatter("%(message)s"))
    assert not (tmp_path / "raksbl-2026-02-01.log").exists()
    assert not (tmp_path / "raksbl-2026-02-24.log").exists()
    assert (tmp_path / "raksbl-2026-02-25.log").exists()
    handler.emit(logging.LogRecord("x", logging.INFO, __file__, 1, "first day", None, None))
    current["d"] = dt.date(2026, 3, 2)
    handler.emit(logging.LogRecord("x", logging.INFO, __file__, 1, "second day", None, None))
    handler.close()
    assert (tmp_path / "raksbl-2026-03-01.log").read_text().strip() == "first day"
    assert (tmp_path / "raksbl-2026-03-02.log").read_text().strip() == "second day"
    assert handler.path.name == "raksbl-2026-03-02.log"
    assert not (tmp_path / "raksbl-2026-02-25.log").exists()  # moved out of the 5-day window
    assert (tmp_path / "raksbl-notes.log").read_text() == "keep me"


def test_prune_keeps_exactly_retention_days(tmp_path):
    today = dt.date(2026, 1, 10)
    for i in range(10):
        (tmp_path / f"raksbl-{(today - dt.timedelta(days=i)).isoformat()}.log").write_text("x")
    removed = prune_logs(tmp_path, 3, today)
    assert len(removed) == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "raksbl-2026-01-08.log", "raksbl-2026-01-09.log", "raksbl-2026-01-10.log"]


def test_current_log_file(clean_root):
    assert logs.current_log_file() is None
    path = setup_logging()
    assert logs.current_log_file() == path


def test_a_companys_run_names_the_company_in_every_log_line_of_its_thread(clean_root):
    """Two companies may have the same document numbers and their runs interleave in one file:
    each line of a company's run starts with its name, once (whatever the handlers), and only
    in the thread running it."""
    import threading

    from agent.logs import company_context, setup_logging

    path = setup_logging(console=True)
    log = logging.getLogger("agent.export.protocol")
    other_thread_logged = threading.Event()
    with company_context("sklep-b"):
        log.info("FS 1/2026: wysłano")
        t = threading.Thread(target=lambda: (log.info("timer tick"), other_thread_logged.set()))
        t.start()
        t.join()
    log.info("after the run")
    text = path.read_text(encoding="utf-8")
    assert "agent.export.protocol: sklep-b: FS 1/2026: wysłano" in text
    assert "sklep-b: sklep-b:" not in text  # two handlers (file + console), one prefix
    assert ": timer tick" in text and "sklep-b: timer tick" not in text
    assert ": after the run" in text and "sklep-b: after the run" not in text
