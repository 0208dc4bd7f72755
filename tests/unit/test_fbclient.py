"""agent.fbclient: where the Firebird client library is looked for, on fake directory trees.

The Windows search runs on any OS here: ``platform="win32"`` and an ``env`` whose
``SystemDrive`` / ``ProgramFiles`` point into ``tmp_path``.
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path

import pytest

from agent import fbclient
from agent.fbclient import (
    client_library_missing_message,
    find_client_library,
    library_bits,
    require_client_library,
    search_client_library,
)
from agent.raks.errors import RaksConnectionError


def pe_file(path: Path, bits: int = 64) -> Path:
    """A minimal file with a PE header saying ``bits`` (enough for library_bits)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    head = bytearray(0x100)
    head[:2] = b"MZ"
    struct.pack_into("<I", head, 0x3C, 0x80)
    head[0x80:0x84] = b"PE\0\0"
    struct.pack_into("<H", head, 0x84, 0x8664 if bits == 64 else 0x014C)
    path.write_bytes(bytes(head))
    return path


@pytest.fixture
def win(tmp_path):
    """A fake Windows machine: C: drive, Program Files, Program Files (x86), nothing installed."""
    drive = tmp_path / "C"
    env = {
        "SystemDrive": str(drive),
        "ProgramFiles": str(drive / "Program Files"),
        "ProgramW6432": str(drive / "Program Files"),
        "ProgramFiles(x86)": str(drive / "Program Files (x86)"),
    }
    for folder in env.values():
        Path(folder).mkdir(parents=True, exist_ok=True)

    def search(configured: str = "", **kw):
        kw.setdefault("platform", "win32")
        kw.setdefault("env", env)
        kw.setdefault("program_dirs", [])
        kw.setdefault("registry_dirs", lambda: [])
        kw.setdefault("find_library", lambda name: None)
        kw.setdefault("bits", 64)
        kw.setdefault("bundled_dirs", [])
        return search_client_library(configured, **kw)

    search.drive = drive
    search.pf = drive / "Program Files"
    search.pf86 = drive / "Program Files (x86)"
    return search


def test_nothing_installed_finds_nothing_and_says_where_it_looked(win):
    result = win()
    assert result.found is None
    assert any(p.endswith(os.path.join("RAKS", "Bin", "fbclient.dll")) for p in result.searched)
    assert any("Firebird_3_0" in p for p in result.searched)
    message = client_library_missing_message(result)
    assert "Nie znaleziono biblioteki klienta Firebird" in message
    assert "raks.client_library" in message and "Bin" in message
    assert "Sprawdzone miejsca:" in message


def test_raks_bin_folder_is_found(win):
    dll = pe_file(win.drive / "RAKS" / "Bin" / "fbclient.dll")
    assert win().found == str(dll)


def test_raks_under_program_files_x86_is_found(win):
    dll = pe_file(win.pf86 / "RAKS" / "RaksSQL" / "Bin" / "fbclient.dll")
    assert win().found == str(dll)


def test_raks_is_preferred_over_a_firebird_install(win):
    pe_file(win.pf / "Firebird" / "Firebird_3_0" / "fbclient.dll")
    raks = pe_file(win.pf / "RaksSQL" / "Bin" / "fbclient.dll")
    assert win().found == str(raks)


def test_bin_folder_next_to_the_database_comes_first(win):
    pe_file(win.drive / "RAKS" / "Bin" / "fbclient.dll")
    result = win(database="localhost:D:\\Firma\\RAKS\\Data\\F00001.fdb")
    assert result.searched[0] == os.path.join("D:\\Firma\\RAKS\\Bin", "fbclient.dll")


def test_database_bin_dir():
    assert fbclient._database_bin_dir("C:\\RAKS\\Data\\F00001.fdb") == "C:\\RAKS\\Bin"
    assert fbclient._database_bin_dir("192.168.1.10/3051:C:/RAKS/Data/F00001.fdb") == "C:\\RAKS\\Bin"
    assert fbclient._database_bin_dir("C:\\F00001.fdb") is None
    assert fbclient._database_bin_dir("/var/lib/f.fdb") is None
    assert fbclient._database_bin_dir("") is None


def test_newest_firebird_install_wins(win):
    pe_file(win.pf / "Firebird" / "Firebird_2_5" / "bin" / "fbclient.dll")
    pe_file(win.pf / "Firebird" / "Firebird_3_0" / "fbclient.dll")
    newest = pe_file(win.pf / "Firebird" / "Firebird_4_0" / "fbclient.dll")
    assert win().found == str(newest)


def test_firebird_2_5_keeps_the_client_in_bin(win):
    dll = pe_file(win.pf / "Firebird" / "Firebird_2_5" / "bin" / "fbclient.dll")
    assert win().found == str(dll)


def test_registered_firebird_instance_is_used(win, tmp_path):
    dll = pe_file(tmp_path / "D" / "FB" / "fbclient.dll")
    assert win(registry_dirs=lambda: [str(tmp_path / "D" / "FB")]).found == str(dll)


def test_raks_client_beats_the_program_folder_and_the_bundled_one(win, tmp_path):
    raks = pe_file(win.drive / "RAKS" / "Bin" / "fbclient.dll")
    pe_file(tmp_path / "app" / "fbclient.dll")
    pe_file(tmp_path / "app" / "_internal" / "firebird" / "fbclient.dll")
    result = win(program_dirs=[str(tmp_path / "app")], bundled_dirs=[str(tmp_path / "app" / "_internal" / "firebird")])
    assert result.found == str(raks)


def test_installed_firebird_beats_the_bundled_client(win, tmp_path):
    installed = pe_file(win.pf / "Firebird" / "Firebird_4_0" / "fbclient.dll")
    pe_file(tmp_path / "bundle" / "firebird" / "fbclient.dll")
    assert win(bundled_dirs=[str(tmp_path / "bundle" / "firebird")]).found == str(installed)


def test_bundled_client_is_the_last_resort(win, tmp_path):
    beside = pe_file(tmp_path / "app" / "fbclient.dll")
    bundled = pe_file(tmp_path / "app" / "_internal" / "firebird" / "fbclient.dll")
    bundle_dirs = [str(bundled.parent)]
    # an administrator's copy next to raksbl.exe comes before the bundled client …
    assert win(program_dirs=[str(beside.parent)], bundled_dirs=bundle_dirs).found == str(beside)
    # … and with nothing else anywhere, the bundled client is used
    result = win(program_dirs=[], bundled_dirs=bundle_dirs)
    assert result.found == str(bundled)
    assert result.searched[-1] == str(bundled)


def test_32_bit_raks_client_falls_through_to_the_bundled_64_bit_one(win, tmp_path):
    wrong = pe_file(win.drive / "RAKS" / "Bin" / "fbclient.dll", bits=32)
    bundled = pe_file(tmp_path / "bundle" / "firebird" / "fbclient.dll", bits=64)
    result = win(bundled_dirs=[str(bundled.parent)])
    assert result.found == str(bundled)
    assert result.wrong_bitness == [(str(wrong), 32)]


def test_linux_system_client_beats_the_bundled_one(tmp_path):
    system = tmp_path / "lib" / "libfbclient.so.2"
    bundled = tmp_path / "bundle" / "libfbclient.so.2"
    for lib in (system, bundled):
        lib.parent.mkdir()
        lib.write_bytes(b"\x7fELF")
    kw = dict(platform="linux", program_dirs=[], find_library=lambda name: None, bundled_dirs=[str(bundled.parent)])
    assert search_client_library(env={"LD_LIBRARY_PATH": str(system.parent)}, **kw).found == str(system)
    fbclient_dirs = fbclient.POSIX_DIRS
    try:
        fbclient.POSIX_DIRS = ()
        assert search_client_library(env={}, **kw).found == str(bundled)
    finally:
        fbclient.POSIX_DIRS = fbclient_dirs


def test_32_bit_client_is_skipped_and_named(win):
    wrong = pe_file(win.drive / "RAKS" / "Bin" / "fbclient.dll", bits=32)
    right = pe_file(win.pf / "Firebird" / "Firebird_3_0" / "fbclient.dll", bits=64)
    result = win()
    assert result.found == str(right)
    assert result.wrong_bitness == [(str(wrong), 32)]


def test_only_a_32_bit_client_explains_bitness(win):
    pe_file(win.drive / "RAKS" / "Bin" / "fbclient.dll", bits=32)
    result = win()
    assert result.found is None
    message = client_library_missing_message(result)
    assert "32-bitowy" in message and "64-bitowy" in message


def test_32_bit_python_accepts_a_32_bit_client(win):
    dll = pe_file(win.drive / "RAKS" / "Bin" / "fbclient.dll", bits=32)
    assert win(bits=32).found == str(dll)


def test_path_from_find_library_is_last_resort(win, tmp_path):
    dll = pe_file(tmp_path / "Windows" / "System32" / "fbclient.dll")
    assert win(find_library=lambda name: str(dll)).found == str(dll)


# ------------------------------------------------------------------ the setting


def test_configured_file_wins(win, tmp_path):
    pe_file(win.drive / "RAKS" / "Bin" / "fbclient.dll")
    mine = pe_file(tmp_path / "elsewhere" / "fbclient.dll")
    assert win(str(mine)).found == str(mine)


def test_configured_folder_is_searched(win):
    dll = pe_file(win.drive / "RAKS" / "Bin" / "fbclient.dll")
    assert win(str(dll.parent)).found == str(dll)


def test_missing_configured_path_is_not_replaced_by_another_client(win, tmp_path):
    pe_file(win.drive / "RAKS" / "Bin" / "fbclient.dll")
    configured = str(tmp_path / "nie-ma" / "fbclient.dll")
    result = win(configured)
    assert result.found is None
    message = client_library_missing_message(result)
    assert configured in message and "wskazanej w ustawieniach" in message


def test_bare_library_name_is_left_to_the_os_loader(win):
    assert win("fbclient.dll").found == "fbclient.dll"


def test_require_raises_the_polish_message(win, monkeypatch):
    monkeypatch.setattr(fbclient, "search_client_library", lambda configured="", **kw: win(configured))
    with pytest.raises(RaksConnectionError) as err:
        require_client_library()
    assert "Nie znaleziono biblioteki klienta Firebird" in str(err.value)


# ------------------------------------------------------------------ Linux / macOS


def test_linux_library_path_and_system_dirs(tmp_path):
    lib = tmp_path / "lib" / "libfbclient.so.2"
    lib.parent.mkdir()
    lib.write_bytes(b"\x7fELF")
    result = search_client_library(platform="linux", env={"LD_LIBRARY_PATH": str(lib.parent)},
                                   program_dirs=[], find_library=lambda name: None)
    assert result.found == str(lib)
    assert result.searched == [str(lib)]  # LD_LIBRARY_PATH comes before the system folders
    assert "/opt/firebird/lib/libfbclient.so" in fbclient.posix_candidates({}, "linux")
    assert fbclient.MACOS_FRAMEWORK in fbclient.posix_candidates({}, "darwin")


def test_linux_soname_from_find_library_is_resolved_to_a_path(tmp_path, monkeypatch):
    lib = tmp_path / "libfbclient.so.2"
    lib.write_bytes(b"\x7fELF")
    monkeypatch.setattr(fbclient, "POSIX_DIRS", ())
    monkeypatch.setattr(fbclient, "_ldconfig_path", lambda soname: str(lib) if soname == "libfbclient.so.2" else None)
    result = search_client_library(platform="linux", env={}, program_dirs=[],
                                   find_library=lambda name: "libfbclient.so.2")
    assert result.found == str(lib)


def test_linux_unresolvable_soname_is_reported_not_returned(monkeypatch):
    monkeypatch.setattr(fbclient, "POSIX_DIRS", ())
    monkeypatch.setattr(fbclient, "_ldconfig_path", lambda soname: None)
    result = search_client_library(platform="linux", env={}, program_dirs=[], bundled_dirs=[],
                                   find_library=lambda name: "libfbclient.so.2")
    assert result.found is None
    assert "libfbclient.so.2 (ctypes.util.find_library)" in result.searched


@pytest.mark.skipif(not os.path.exists("/lib/x86_64-linux-gnu/libfbclient.so.2")
                    and not os.path.exists("/usr/lib/x86_64-linux-gnu/libfbclient.so.2"),
                    reason="no system libfbclient")
def test_this_machine_finds_the_system_client():
    found = find_client_library()
    assert found and os.path.isfile(found) and "libfbclient" in found


def test_library_bits(tmp_path):
    assert library_bits(str(pe_file(tmp_path / "a.dll", 64))) == 64
    assert library_bits(str(pe_file(tmp_path / "b.dll", 32))) == 32
    (tmp_path / "c.dll").write_bytes(b"not a dll")
    assert library_bits(str(tmp_path / "c.dll")) is None
    assert library_bits(str(tmp_path / "missing.dll")) is None


# ------------------------------------------------------------------ the loaded client


@pytest.mark.parametrize("raw, text", [
    ("LI-V6.3.4.1812 Firebird 5.0", "5.0.4"),
    ("WI-V6.3.11.33703 Firebird 3.0", "3.0.11"),
    ("WI-V2.5.9.27139 Firebird 2.5", "2.5.9"),
    ("something else", "something else"),
])
def test_client_version_text(raw, text):
    assert fbclient.client_version_text(raw) == text


def test_this_process_reports_the_client_fdb_loaded():
    import fdb

    if fbclient.loaded_client() is None:
        fdb.load_api(find_client_library())
    info = fbclient.loaded_client()
    assert info is not None and os.path.isfile(info.path)
    assert re.fullmatch(r"\d+\.\d+\.\d+", info.version)
    assert info.path in info.describe() and f"Firebird {info.version}" in info.describe()


def _loaded(monkeypatch, path):
    monkeypatch.setattr(fbclient, "loaded_client", lambda: fbclient.ClientInfo(str(path), "3.0.11", False))


def test_switch_note_says_a_restart_is_needed_and_names_the_client_in_use(monkeypatch, tmp_path):
    old = tmp_path / "old" / "libfbclient.so.2"
    new = tmp_path / "new" / "libfbclient.so.2"
    for lib in (old, new):
        lib.parent.mkdir()
        lib.write_bytes(b"\x7fELF")
    _loaded(monkeypatch, old)
    assert fbclient.client_switch_note("") == ""
    assert fbclient.client_switch_note(str(old)) == ""
    assert fbclient.client_switch_note(str(old.parent)) == ""          # the folder holding it
    note = fbclient.client_switch_note(str(new))
    assert "po ponownym uruchomieniu raksbl" in note
    assert note.endswith(f"nadal używa „{old}”.")
    # a setting naming nothing is not a "restart" case: connecting reports it as a wrong setting
    assert fbclient.client_switch_note(str(tmp_path / "nie-ma" / "libfbclient.so.2")) == ""


def test_switch_note_is_empty_before_any_client_is_loaded(monkeypatch, tmp_path):
    monkeypatch.setattr(fbclient, "loaded_client", lambda: None)
    assert fbclient.client_switch_note(str(tmp_path / "x.so")) == ""


def test_prepare_client_points_firebird_at_the_bundled_client_only(monkeypatch, tmp_path):
    bundled = tmp_path / "bundle" / "firebird" / "libfbclient.so.2"
    other = tmp_path / "raks" / "libfbclient.so.2"
    for lib in (bundled, other):
        lib.parent.mkdir(parents=True)
        lib.write_bytes(b"\x7fELF")
    monkeypatch.setattr(fbclient, "bundled_client_dirs", lambda: [str(bundled.parent)])
    monkeypatch.setenv("FIREBIRD", "/elsewhere")
    fbclient.prepare_client(str(other))
    assert os.environ["FIREBIRD"] == "/elsewhere"
    fbclient.prepare_client(str(bundled))
    assert os.environ["FIREBIRD"] == str(bundled.parent)
    assert fbclient.is_bundled(str(bundled)) and not fbclient.is_bundled(str(other))


def test_prepare_client_on_windows_adds_the_dll_folder(monkeypatch, tmp_path):
    """Windows: fbclient.dll's msvcp140/zlib1/ICU lie beside it; the folder joins the DLL search."""
    bundled = pe_file(tmp_path / "_internal" / "firebird" / "fbclient.dll")
    added = []
    monkeypatch.setattr(fbclient, "bundled_client_dirs", lambda: [str(bundled.parent)])
    monkeypatch.setattr(fbclient.sys, "platform", "win32")
    monkeypatch.setattr(fbclient.os, "add_dll_directory", lambda folder: added.append(folder) or object(),
                        raising=False)
    monkeypatch.setenv("FIREBIRD", "C:/Program Files/Firebird/Firebird_2_5")
    fbclient.prepare_client(str(bundled))
    assert added == [str(bundled.parent)]
    assert os.environ["FIREBIRD"] == str(bundled.parent)   # its own firebird.conf, not 2.5's
