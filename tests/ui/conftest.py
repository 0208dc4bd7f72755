"""Fixtures for tests under a real X server (Xvfb + trayer + dunst on a private D-Bus)."""

from __future__ import annotations

import gc
import sys
import tempfile
import tkinter
from pathlib import Path

import pytest

from tests.support import xdisplay
from tests.support.xserver import XSession, missing_tools


@pytest.fixture
def private_tmp():
    """A temp dir outside /tmp/pytest-of-<user>: concurrent pytest sessions of the same user prune
    each other's old basetemp dirs, which must not happen under a running agent."""
    with tempfile.TemporaryDirectory(prefix="raksbl-ui-") as d:
        yield Path(d)


@pytest.fixture
def xsession(private_tmp):
    """A private desktop: Xvfb on a free display, D-Bus session, trayer, dunst -print."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the X server tests run on Linux")
    missing = missing_tools()
    if missing:
        pytest.skip(f"missing tools for the X server tests: {', '.join(missing)}")
    with XSession(private_tmp / "x") as session:
        yield session


@pytest.fixture
def tray_export_env(company_db, private_tmp):
    """Real Firebird company database + BaseLinker sandbox over HTTP + a settings file.

    The same environment as tests/integration's ``export_env`` (kept local: that fixture lives
    in tests/integration/conftest.py, which tests/ui cannot see).
    """
    from agent.sandbox import SandboxServer
    from tests.support.export_env import ExportEnv, make_state

    state = make_state()
    with SandboxServer(state).start() as server:
        (private_tmp / "agent").mkdir()
        env = ExportEnv(company_db, state, server, private_tmp / "agent")
        try:
            yield env
        finally:
            env.close()


@pytest.fixture
def display(monkeypatch):
    """DISPLAY of the Xvfb shared by the in-process Tk tests (see tests/support/xdisplay.py)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the X server tests run on Linux")
    if xdisplay.missing():
        pytest.skip(f"missing tools: {', '.join(xdisplay.missing())}")
    name = xdisplay.shared_display()
    monkeypatch.setenv("DISPLAY", name)
    return name


@pytest.fixture
def root(display):
    """A withdrawn Tk root on that display, for the settings dialog and history window."""
    # Tk objects (Variables) left by an earlier test must be collected on this thread: collected
    # by a worker thread (a look-up), each Variable.__del__ calls into a Tk that is not in its
    # main loop and stalls it ("main thread is not in main loop"), so look-ups timed out.
    gc.collect()
    tk_root = tkinter.Tk()
    tk_root.withdraw()
    yield tk_root
    try:
        tk_root.destroy()
    except tkinter.TclError:
        pass
    # Collect the test's Tk objects (cycles through widgets and variables) here, on the main
    # thread. Left for later, a collection triggered in some worker thread (a look-up importing
    # modules) would finalise them there: tkinter then calls Tcl from the wrong thread ("main
    # thread is not in main loop", or Tcl_AsyncDelete aborting the whole test process).
    del tk_root
    gc.collect()
