"""Windows autostart against an in-memory ``winreg`` (issue 15.6): the menu's checkmark reads
the real state - the Run value *and* Task Manager's StartupApproved switch."""

from __future__ import annotations

import sys
import types

import pytest

from ui import autostart

RUN = autostart.RUN_KEY
APPROVED = autostart.APPROVED_KEY
ENABLED = bytes([2]) + bytes(11)
DISABLED = bytes([3]) + bytes(3) + b"\x10\x20\x30\x40\x50\x60\x70\x80"  # + the FILETIME of the change


class FakeKey:
    def __init__(self, reg, path):
        self.reg, self.path = reg, path

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def fake_winreg(store: dict[str, dict[str, tuple[object, int]]]) -> types.ModuleType:
    m = types.ModuleType("winreg")
    m.HKEY_CURRENT_USER = "HKCU"
    m.KEY_SET_VALUE = 2
    m.REG_SZ, m.REG_BINARY = 1, 3

    def open_key(root, path, reserved=0, access=0):
        assert root == "HKCU"
        if path not in store:
            raise FileNotFoundError(path)
        return FakeKey(store, path)

    def create_key(root, path):
        store.setdefault(path, {})
        return FakeKey(store, path)

    def query(key, name):
        try:
            value, kind = store[key.path][name]
        except KeyError:
            raise FileNotFoundError(name) from None
        return value, kind

    def set_value(key, name, reserved, kind, value):
        store[key.path][name] = (value, kind)

    def delete_value(key, name):
        try:
            del store[key.path][name]
        except KeyError:
            raise FileNotFoundError(name) from None

    m.OpenKey, m.CreateKey, m.QueryValueEx, m.SetValueEx, m.DeleteValue = open_key, create_key, query, set_value, \
        delete_value
    return m


@pytest.fixture
def registry(monkeypatch):
    store: dict[str, dict[str, tuple[object, int]]] = {}
    monkeypatch.setitem(sys.modules, "winreg", fake_winreg(store))
    monkeypatch.setattr(sys, "platform", "win32")
    return store


CMD = [r"C:\Users\Ala\AppData\Local\Programs\raksbl\raksbl.exe", "tray"]


def test_on_and_off_write_the_run_value(registry):
    assert autostart.is_enabled() is False
    autostart.set_enabled(True, CMD)
    assert registry[RUN]["raksbl"][0] == r"C:\Users\Ala\AppData\Local\Programs\raksbl\raksbl.exe tray"
    assert autostart.is_enabled() is True
    autostart.set_enabled(False, CMD)
    assert "raksbl" not in registry[RUN] and autostart.is_enabled() is False


def test_disabled_in_task_manager_unticks_the_checkmark(registry):
    autostart.set_enabled(True, CMD)
    registry[APPROVED] = {"raksbl": (DISABLED, 3)}  # Task Manager > Startup apps > Disable
    assert autostart.is_enabled() is False
    registry[APPROVED]["raksbl"] = (ENABLED, 3)  # enabled again there
    assert autostart.is_enabled() is True


def test_ticking_it_again_clears_the_task_manager_mark(registry):
    autostart.set_enabled(True, CMD)
    registry[APPROVED] = {"raksbl": (DISABLED, 3), "OneDrive": (DISABLED, 3)}
    autostart.set_enabled(True, CMD)
    assert autostart.is_enabled() is True
    assert "raksbl" not in registry[APPROVED] and "OneDrive" in registry[APPROVED]  # others untouched


def test_unticking_removes_both_values(registry):
    autostart.set_enabled(True, CMD)
    registry[APPROVED] = {"raksbl": (ENABLED, 3)}
    autostart.set_enabled(False, CMD)
    assert "raksbl" not in registry[RUN] and "raksbl" not in registry[APPROVED]
    autostart.set_enabled(False, CMD)  # twice: nothing to remove is fine


def test_an_empty_run_value_is_not_enabled(registry):
    registry[RUN] = {"raksbl": ("", 1)}
    assert autostart.is_enabled() is False


def test_the_installer_agrees_with_the_menu():
    """build/raksbl.iss cannot run here; what can be read is checked: the same keys, no
    [Registry] entry that could only re-create the value, the choice taken from the real state."""
    from pathlib import Path

    iss = (Path(autostart.__file__).resolve().parents[1] / "build" / "raksbl.iss").read_text(encoding="utf-8-sig")
    assert "UsePreviousTasks=no" in iss
    assert 'ValueName: "raksbl"' not in iss  # no [Registry] autostart entry
    assert f"RunKey = '{RUN}'" in iss and f"ApprovedKey = '{APPROVED}'" in iss
    assert "if CurStep = ssPostInstall then\n    ApplyAutostart;" in iss
    assert "WizardSelectTasks('!autostart')" in iss
