"""The PyInstaller bundle (build/raksbl.spec) really works: nothing the app needs was left out.

The bundle is built into ``dist/raksbl/`` exactly as ``make dist`` does, or reused when it is
newer than every file it is made of. Then the BUILT executables run, in fresh processes that
cannot see the source tree's Python:

* ``raksbl-cli --version``;
* ``raksbl-cli send --dry-run`` against the demo company (embedded Firebird database built here,
  BaseLinker sandbox served from this process) — this loads fdb + the system libfbclient,
  requests, tomlkit, zoneinfo, the export engine and the journal;
* ``raksbl-cli doctor`` (the BaseLinker client's reference calls and the RaksSQL statistics);
* the windowed ``raksbl`` docking its icon into a real tray under Xvfb (pystray's xorg backend,
  Pillow, Tk and the tray images from ``assets/``).

The bundle ships a Firebird 5 client (``_internal/firebird``, from the firebird-embedded wheel)
as the last resort of the client search; ``raksbl-cli doctor`` pointed at it reaches the
Firebird 3 server over TCP. The demo (an embedded database) still uses the system's
``libfbclient.so.2``, which comes first in the search on Linux.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist" / "raksbl"
EXE_SUFFIX = ".exe" if sys.platform == "win32" else ""
CLI = DIST / f"raksbl-cli{EXE_SUFFIX}"
GUI = DIST / f"raksbl{EXE_SUFFIX}"
LOCK = ROOT / "build" / "work" / "bundle-test.lock"
BUILD_TIMEOUT = 900  # seconds; a build takes well under a minute on a CI runner


def _inputs() -> list[Path]:
    """Every file whose change must rebuild the bundle."""
    files = [ROOT / "pyproject.toml", ROOT / "build" / "raksbl.spec", ROOT / "build" / "entry.py",
             ROOT / "build" / "raksbl.exe.manifest", ROOT / "build" / "constraints.txt"]
    for folder in ("agent", "ui", "assets"):
        files += [p for p in (ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    # installing or upgrading a package changes site-packages' own mtime
    files += [Path(p) for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    return files


def _bundle_is_fresh() -> bool:
    if not (CLI.exists() and GUI.exists()):
        return False
    built = min(CLI.stat().st_mtime, GUI.stat().st_mtime)
    return all(p.stat().st_mtime <= built for p in _inputs() if p.exists())


@contextlib.contextmanager
def _bundle_lock():
    """Concurrent pytest sessions share dist/raksbl: one builds at a time, and nobody rebuilds it
    under a session that is still running it (exclusive to build, shared to use)."""
    try:
        import fcntl
    except ImportError:  # Windows: no concurrent sessions to guard against here
        yield lambda: None
        return
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "a+") as fd:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield lambda: fcntl.flock(fd, fcntl.LOCK_SH)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def bundle():
    with _bundle_lock() as share:
        _build_unless_fresh()
        share()
        yield DIST


def _build_unless_fresh() -> None:
    if _bundle_is_fresh():
        return
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.fail("PyInstaller is not installed: pip install -e '.[build]' (scripts/bootstrap.sh build)",
                    pytrace=False)
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
           "--distpath", str(ROOT / "dist"), "--workpath", str(ROOT / "build" / "work"),
           str(ROOT / "build" / "raksbl.spec")]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    took = time.monotonic() - started
    assert proc.returncode == 0, f"pyinstaller failed after {took:.0f} s:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    print(f"bundle built in {took:.1f} s")


def _clean_env(tmp_path: Path) -> dict[str, str]:
    """An environment in which the bundle cannot borrow the developer's Python or settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "RAKSBL_", "VIRTUAL_ENV"))}
    env["HOME"] = str(tmp_path / "home")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "home" / ".config")
    env["XDG_DATA_HOME"] = str(tmp_path / "home" / ".local" / "share")
    env["RAKSBL_DATA_DIR"] = str(tmp_path / "data")
    env.pop("DISPLAY", None)
    return env


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo company database + a running BaseLinker sandbox + the environment for the bundle."""
    from agent.sandbox import SandboxServer
    from agent.demo import DEMO_PASSWORD, DEMO_TOKEN, build_demo
    from agent.settings import update_settings

    tmp = tmp_path_factory.mktemp("bundle-demo")
    settings_path, state, _notes = build_demo(tmp / "demo")
    with SandboxServer(state).start() as server:
        update_settings(settings_path, {"baselinker.api_url": server.url})
        env = _clean_env(tmp)
        env.update(RAKSBL_CONFIG=str(settings_path), RAKSBL_BASELINKER_TOKEN=DEMO_TOKEN,
                   RAKSBL_RAKS_PASSWORD=DEMO_PASSWORD)
        yield settings_path, state, env


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    # cwd outside the repository: the bundle must not pick up agent/ from the working directory
    return subprocess.run([str(CLI), *args], env=env, cwd=cwd, capture_output=True, text=True,
                          encoding="utf-8", timeout=120)


def test_both_executables_exist(bundle):
    assert CLI.is_file() and os.access(CLI, os.X_OK)
    assert GUI.is_file() and os.access(GUI, os.X_OK)
    internal = bundle / "_internal"
    assert (internal / "assets" / "tray-idle.png").is_file()
    assert (internal / "assets" / "raksbl.ico").is_file()
    assert list(internal.glob("certifi/cacert.pem")), "certifi's CA bundle is missing"
    assert list(internal.glob("ttkbootstrap/assets/*")), "ttkbootstrap's assets are missing"
    assert list(internal.glob("keyring-*.dist-info/entry_points.txt")), "keyring's backend list is missing"
    assert not list(internal.glob("*fbclient*")), "the build machine's Firebird client was bundled"
    client = internal / "firebird"
    name = "fbclient.dll" if sys.platform == "win32" else "libfbclient.so.2"
    assert (client / name).is_file() and (client / "firebird.msg").is_file()
    assert list(client.glob("plugins/*[Cc]ha[Cc]ha*")), "the ChaCha wire-encryption plugin is missing"
    assert not list(client.rglob("*[Ee]ngine13*")), "the embedded engine must not be shipped"
    conf = (client / "firebird.conf").read_text()
    assert "AuthClient = Srp256, Srp, Legacy_Auth" in conf and "WireCrypt = Enabled" in conf


def test_version(bundle, tmp_path):
    from agent import __version__

    proc = run_cli("--version", env=_clean_env(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"raksbl {__version__}"


def test_send_dry_run_against_the_demo_database(bundle, demo, tmp_path):
    settings_path, state, env = demo
    before = state.snapshot()
    proc = run_cli("send", "--dry-run", env=env, cwd=tmp_path)
    out = proc.stdout
    assert "Podgląd (--dry-run)" in out, proc.stderr
    # the ready invoices and receipts are listed, the problem documents are reported
    assert out.count("do wysłania") >= 12, out
    assert "FS 1/" in out and "PA 1/" in out, out
    assert "BŁĄD: brak PDF" in out, out
    assert "Podsumowanie — do wysłania: 14" in out, out  # 7 + 1 adopted FS, 5 PA, 1 KS
    assert "KOR 1/" in out, out  # the correction follows its invoice in the same run
    assert proc.returncode == 1, f"exit {proc.returncode}\n{out}\n{proc.stderr}"  # some documents have problems
    assert "Traceback" not in proc.stderr, proc.stderr
    after = state.snapshot()
    assert after.get("invoices", []) == before.get("invoices", [])  # a dry run writes nothing


def test_doctor_against_the_demo(bundle, demo, tmp_path):
    _settings, _state, env = demo
    proc = run_cli("doctor", env=env, cwd=tmp_path)
    assert "połączenie: OK, serwer" in proc.stdout, proc.stdout + proc.stderr
    assert "Faktury" in proc.stdout and "czeka na wysłanie:" in proc.stdout, proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_bundled_client_reaches_the_firebird3_server(bundle, demo, firebird_server, tmp_path):
    from agent.settings import update_settings

    settings_path, _state, env = demo
    db = firebird_server.new_database()
    try:
        db.add_document(number="FS 1/12/2026 Łódź")
        own = tmp_path / "raksbl.toml"
        own.write_bytes(settings_path.read_bytes())
        client = bundle / "_internal" / "firebird"
        update_settings(own, {"raks.database": db.dsn, "raks.user": db.user, "raks.client_library": str(client)})
        proc = run_cli("doctor", env=dict(env, RAKSBL_CONFIG=str(own), RAKSBL_RAKS_PASSWORD=db.password), cwd=tmp_path)
        out = proc.stdout
        assert re.search(r"połączenie: OK, serwer \S+ Firebird 3\.0", out), out + proc.stderr
        assert re.search(rf"biblioteka klienta Firebird: {re.escape(str(client))}\S+ — Firebird 5\.0\.\d+ "
                         r"\(dołączona do raksbl\)", out), out
        assert "czeka na wysłanie: 1 (bez PDF: 0)" in out, out
        assert proc.returncode == 0, out + proc.stderr
        # the settings dialog's test with a changed client runs `raksbl-cli --raks-probe`
        import json

        request = {"settings": {"database": db.dsn, "user": db.user, "client_library": str(client)},
                   "password": db.password}
        probe = subprocess.run([str(CLI), "--raks-probe"], input=json.dumps(request).encode(), env=env,
                               cwd=tmp_path, capture_output=True, timeout=120)
        answer = json.loads(probe.stdout.decode("utf-8").splitlines()[-1])
        assert answer["ok"] is True, answer
        assert "Firebird 5.0." in answer["client"] and "dołączona do raksbl" in answer["client"]
        assert [2, "Do wysłania"] in answer["statuses"]
    finally:
        db.drop()


@pytest.mark.ui
def test_windowed_exe_docks_into_a_tray(bundle, demo, tmp_path):
    if not sys.platform.startswith("linux"):
        pytest.skip("the tray is checked under Xvfb on Linux")
    from tests.support.xserver import XSession, missing_tools, wait_for

    missing = [t for t in missing_tools() if t not in ("dunst", "import", "xdotool")]
    if missing:
        pytest.skip(f"missing tools for the X server: {', '.join(missing)}")
    settings_path, _state, env = demo
    with XSession(tmp_path / "x", notifications=False) as xs:
        env = dict(env, DISPLAY=xs.display, PYSTRAY_BACKEND="xorg", RAKSBL_DATA_DIR=str(tmp_path / "tray-data"))
        tray = subprocess.Popen([str(GUI), "--config", str(settings_path)], env=env, cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            try:
                wait_for(lambda: xs.tray_icons() or tray.poll() is not None, 60, what="the bundled tray icon")
            finally:
                if tray.poll() is not None:
                    out, err = tray.communicate()
                    pytest.fail(f"the bundled tray agent exited with {tray.returncode}:\n{out}\n{err}")
            assert xs.tray_icons()
            # SIGTERM asks for the normal "Zakończ" path. Whether that path always finishes is
            # the tray's own test (tests/ui); here a stuck stop must not hide a packaging
            # failure, so it is killed after a while and only a traceback fails the test.
            tray.send_signal(signal.SIGTERM)
            try:
                out, err = tray.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                tray.kill()
                out, err = tray.communicate()
            assert "Traceback" not in err, err
        finally:
            if tray.poll() is None:
                tray.kill()
                tray.communicate()


@pytest.mark.ui
def test_settings_window_opens_from_the_bundle(bundle, demo, tmp_path):
    """The ttkbootstrap dialog (themes, element images, Tk data) works from the built program."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the window is checked under Xvfb on Linux")
    from tests.support.xserver import XSession, missing_tools, wait_for

    missing = [t for t in missing_tools() if t in ("Xvfb", "xdotool")]
    if missing:
        pytest.skip(f"missing tools for the X server: {', '.join(missing)}")
    settings_path, _state, env = demo
    with XSession(tmp_path / "x", tray=False, notifications=False) as xs:
        env = dict(env, DISPLAY=xs.display)
        dialog = subprocess.Popen([str(CLI), "settings", "--config", str(settings_path)], env=env, cwd=tmp_path,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def window_shown():
            if dialog.poll() is not None:
                return True
            found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "Ustawienia"], env=xs.env,
                                   capture_output=True, text=True)
            return found.stdout.strip()

        try:
            wait_for(window_shown, 60, what="the settings window of the bundle")
            if dialog.poll() is not None:
                out, err = dialog.communicate()
                pytest.fail(f"raksbl-cli settings exited with {dialog.returncode}:\n{out}\n{err}")
            time.sleep(1)  # let the dialog's first look-ups run: an import error would surface now
            assert dialog.poll() is None
        finally:
            if dialog.poll() is None:
                dialog.kill()  # only the window's start matters here
            out, err = dialog.communicate(timeout=30)
        assert "Traceback" not in err, err
