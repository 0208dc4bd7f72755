"""Two companies under a real X server: the tray agent (pystray's xorg backend, docked in
``trayer``) with a settings file of two ``[[company]]`` entries - two Firebird databases, two
BaseLinker sandbox accounts over HTTP with a token each. "Wyślij dla firmy ▸ sklep-b" sends
sklep-b's invoice only; "Wyślij faktury" then sends the rest. ``dunst`` shows what happened,
naming the company.

pystray's xorg backend has no menu (a click runs the default item), so the menu is driven the
way pystray drives it: the child process calls the item of the agent's own menu with the icon.
"""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys

import pytest

from tests.support.export_env import REPO_ROOT, ExportEnv, make_state
from tests.support.xserver import wait_for
from ui.tray import MENU_SEND, MENU_SEND_COMPANY

pytestmark = [pytest.mark.ui, pytest.mark.slow]

TOKEN_A = "token-sklep-a-0123456789"
TOKEN_B = "token-sklep-b-9876543210"

CHILD = r'''
import logging, os, sys, threading
os.environ["PYSTRAY_BACKEND"] = "xorg"
from agent.logs import setup_logging
from ui.app import TrayApp
from ui.tray import MENU_SEND, MENU_SEND_COMPANY

setup_logging("INFO", 30)
app = TrayApp(sys.argv[1])

def drive():
    try:
        commands()
    except BaseException as exc:  # say so: the test is waiting for a line
        print("ERROR", repr(exc), flush=True)

def commands():
    for line in sys.stdin:
        command, _, name = line.strip().partition(" ")
        if command == "menu":
            assert app.tray.wait_visible(30), "icon not visible"
            submenu = next(i for i in app.tray.menu if i.text == MENU_SEND_COMPANY).submenu
            print("MENU", "|".join(i.text for i in app.tray.menu), "|".join(i.text for i in submenu), sep="\t", flush=True)
        elif command == "company":
            submenu = next(i for i in app.tray.menu if i.text == MENU_SEND_COMPANY).submenu
            next(i for i in submenu if i.text == name)(app.tray.icon)  # what pystray does on a click
        elif command == "all":
            next(i for i in app.tray.menu if i.text == MENU_SEND)(app.tray.icon)

threading.Thread(target=drive, daemon=True).start()
sys.exit(app.run())
'''


def _table(dc) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(dc).items() if v is not None}


@pytest.fixture
def two_companies(firebird_server, private_tmp):
    """Company sklep-a and sklep-b: a database and a sandbox account (its own token) each."""
    import tomlkit

    from agent.sandbox import SandboxServer

    envs, servers, dbs = {}, [], []
    try:
        for name, token in (("sklep-a", TOKEN_A), ("sklep-b", TOKEN_B)):
            db = firebird_server.new_database()
            dbs.append(db)
            state = make_state()
            state.token = token
            server = SandboxServer(state).start()
            servers.append(server)
            (private_tmp / name).mkdir()
            envs[name] = ExportEnv(db, state, server, private_tmp / name)
        config = private_tmp / "raksbl.toml"
        companies = []
        for name, env in envs.items():
            settings = env.settings()
            companies.append({"name": name, "baselinker": _table(settings.baselinker), "raks": _table(settings.raks)})
        config.write_text(tomlkit.dumps({"sync": {"auto": False}, "company": companies}), encoding="utf-8")
        yield envs, config
    finally:
        for env in envs.values():
            env.close()
        for server in servers:
            server.stop()
        for db in dbs:
            db.drop()


def test_submenu_sends_for_one_company_only(xsession, two_companies, private_tmp):
    envs, config = two_companies
    a, b = envs["sklep-a"], envs["sklep-b"]
    a_raks, a_order = a.add_doc("FS")
    b_raks, b_order = b.add_doc("FS")

    env = a.env
    for key in ("RAKSBL_BASELINKER_TOKEN", "RAKSBL_RAKS_PASSWORD"):
        env.pop(key, None)  # each company's own secrets only
    env.update(RAKSBL_CONFIG=str(config), RAKSBL_DATA_DIR=str(private_tmp / "data"),
               RAKSBL_BASELINKER_TOKEN_SKLEP_A=TOKEN_A, RAKSBL_BASELINKER_TOKEN_SKLEP_B=TOKEN_B,
               RAKSBL_RAKS_PASSWORD_SKLEP_A=a.db.password, RAKSBL_RAKS_PASSWORD_SKLEP_B=b.db.password,
               DISPLAY=xsession.display, DBUS_SESSION_BUS_ADDRESS=xsession.dbus_address,
               XDG_CONFIG_HOME=str(private_tmp / "xdg"))
    tray = subprocess.Popen([sys.executable, "-c", CHILD, str(config)], cwd=REPO_ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (xsession.tray_icons() or [None])[0], 30, what="the icon docked in trayer")
        tray.stdin.write("menu\n")
        tray.stdin.flush()
        line = tray.stdout.readline()
        assert line.startswith("MENU\t"), line
        _, items, submenu = line.rstrip("\n").split("\t")
        assert items.split("|")[:2] == [MENU_SEND, MENU_SEND_COMPANY], line
        assert submenu.split("|") == ["sklep-a", "sklep-b"]

        # --- "Wyślij dla firmy ▸ sklep-b": sklep-b's invoice only, told by name
        tray.stdin.write("company sklep-b\n")
        tray.stdin.flush()
        wait_for(lambda: b.documents("FS", b_order), 60, what="sklep-b's invoice in its sandbox account")
        wait_for(lambda: "sklep-b: wysłano 1 fakturę" in xsession.notifications(), 30,
                 what="the notification naming sklep-b")
        assert b.status("FS", b_raks) == b.settings().raks.status_after_send
        assert a.documents("FS", a_order) == [] and a.state.calls == []  # sklep-a was not touched at all
        assert a.status("FS", a_raks) != a.settings().raks.status_after_send

        # --- "Wyślij faktury": every company; only sklep-a had something left to send
        tray.stdin.write("all\n")
        tray.stdin.flush()
        wait_for(lambda: a.documents("FS", a_order), 60, what="sklep-a's invoice in its sandbox account")
        wait_for(lambda: "sklep-a: wysłano 1 fakturę" in xsession.notifications(), 30,
                 what="the notification naming sklep-a")
        assert len(b.documents("FS", b_order)) == 1  # never twice

        tray.send_signal(signal.SIGTERM)
        out, err = tray.communicate(timeout=60)
        assert tray.returncode == 0, err
    finally:
        if tray.poll() is None:
            tray.kill()
            tray.communicate()
    logs = "".join(p.read_text(encoding="utf-8") for p in (private_tmp / "data" / "logs").glob("raksbl-*.log"))
    assert "starting a run (manual) for company sklep-b" in logs
    assert TOKEN_A not in logs and TOKEN_B not in logs
