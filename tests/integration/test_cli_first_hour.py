"""Issue 16.7 / 16.11: what a new user meets in the first hour gets a clear answer, never a
traceback: a damaged journal, a data folder or settings folder without access, no OS keyring,
an empty secret, Ctrl+C in the middle of a run."""

import signal
import time

from agent.sandbox.faults import Fault


def _no_traceback(result):
    assert "Traceback" not in result.stderr, result.stderr


def test_a_damaged_journal_is_kept_aside_and_nothing_is_sent_twice(export_env):
    env = export_env
    raks_id, order_id = env.add_doc("FS")
    killed = env.cli("send", extra_env={"RAKSBL_CRASH_AT": "after_attach:1"})
    assert killed.returncode == -signal.SIGKILL
    assert len(env.invoices(order_id)) == 1  # attached at BaseLinker, not finished locally
    journal = env.data_dir / "journal.sqlite3"
    for side in env.data_dir.glob("journal.sqlite3-*"):
        side.unlink()
    journal.write_bytes(b"this is not an SQLite database" * 100)  # e.g. a disk error, a bad copy

    result = env.cli("send")
    _no_traceback(result)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Dziennik raksbl był uszkodzony" in result.stderr and "sprawdza zamówienie w BaseLinker" in result.stderr
    kept = list(env.data_dir.glob("journal.sqlite3.uszkodzony-*"))
    assert len(kept) == 1 and kept[0].read_bytes().startswith(b"this is not an SQLite")
    assert len(env.invoices(order_id)) == 1 and env.status("FS", raks_id) == 3  # looked up, not re-created


def test_a_data_folder_that_cannot_be_created_is_explained(export_env, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    result = export_env.cli("history", extra_env={"RAKSBL_DATA_DIR": str(blocker / "data")})
    _no_traceback(result)
    assert result.returncode == 2
    assert "folderu danych" in result.stderr and "RAKSBL_DATA_DIR" in result.stderr


def test_init_where_the_file_cannot_be_written_is_explained(export_env, tmp_path):
    blocker = tmp_path / "plik"
    blocker.write_text("x")
    result = export_env.cli("--config", str(blocker / "raksbl.toml"), "init")
    _no_traceback(result)
    assert result.returncode == 2 and "Nie można zapisać pliku ustawień" in result.stderr


def test_secret_set_without_an_os_keyring_names_the_environment_variable(export_env):
    env = export_env
    result = subprocess_with_input(env, "secret", "set", "baselinker-token", text="nowy-token\n",
                                   extra_env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    _no_traceback(result)
    assert result.returncode == 2
    assert "magazyn haseł jest niedostępny" in result.stderr and "RAKSBL_BASELINKER_TOKEN" in result.stderr
    assert "Zapisano" not in result.stdout


def test_secret_set_with_empty_input_changes_nothing(export_env, tmp_path):
    env = export_env
    store = tmp_path / "keyring.json"
    store.write_text('{"raksbl": {"baselinker-token": "stary-token"}}', encoding="utf-8")
    backend = {"PYTHON_KEYRING_BACKEND": "tests.support.file_keyring.JsonFileKeyring",
               "RAKSBL_TEST_KEYRING_FILE": str(store)}
    result = subprocess_with_input(env, "secret", "set", "baselinker-token", text="\n", extra_env=backend)
    assert result.returncode == 2 and "nic nie zmieniono" in result.stderr
    assert "Zapisano" not in result.stdout
    assert "stary-token" in store.read_text(encoding="utf-8")


def subprocess_with_input(env, *args, text: str, extra_env: dict):
    import subprocess
    import sys

    from tests.support.export_env import REPO_ROOT

    proc_env = dict(env.env, **extra_env)
    return subprocess.run([sys.executable, "-m", "agent", *args], env=proc_env, cwd=REPO_ROOT, input=text,
                          capture_output=True, text=True, timeout=60)


def test_ctrl_c_says_interrupted_prints_the_report_and_exits_130(export_env):
    env = export_env
    docs = [env.add_doc("FS") for _ in range(3)]
    slow = Fault(method="addInvoice", kind="latency", seconds=3, times=1)
    env.state.add_fault(slow)
    proc = env.spawn("send")
    deadline = time.monotonic() + 60
    while slow.seen == 0:  # the first document is being created at BaseLinker
        assert proc.poll() is None and time.monotonic() < deadline, "the run never reached BaseLinker"
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err and "utracono połączenie" not in (out + err).lower()
    assert "Przerywam (Ctrl+C)" in err and "Podsumowanie" in out and "Przerwano: na żądanie" in out
    assert (out + err).lower().count("przerwano") == 1  # said once

    again = env.cli("send")  # the rest goes on the next run, each exactly once
    assert again.returncode == 0, again.stdout + again.stderr
    for raks_id, order_id in docs:
        assert len(env.invoices(order_id)) == 1 and env.status("FS", raks_id) == 3


def test_a_read_only_database_is_named_as_such_not_as_a_settings_error(export_env):
    import fdb

    env = export_env
    raks_id, order_id = env.add_doc("FS")
    env.close()
    if env.db._admin is not None:
        env.db._admin.close()
    svc = fdb.services.connect(host="localhost", user=env.db.user, password=env.db.password)
    try:
        svc.set_access_mode(str(env.db.path), fdb.services.ACCESS_READ_ONLY)
    finally:
        svc.close()
    result = env.cli("send")
    _no_traceback(result)
    assert result.returncode == 2, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "Błąd ustawień" not in output
    assert "tylko do odczytu" in output and "gfix" in output
    assert env.invoices(order_id) == []
