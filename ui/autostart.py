"""Start raksbl when the user logs in: Windows per-user Run key, Linux XDG autostart file.

:func:`is_enabled` always reads the real OS state (the menu's checkmark asks it every time the
menu is shown), so a user removing the entry by hand is reflected at once. On Windows the real
state is the ``Run`` value *and* Task Manager's "Startup apps" switch, which Windows keeps apart
in ``Explorer\\StartupApproved\\Run`` (a REG_BINARY whose first byte is even when enabled, odd
when the user disabled the entry). Switching autostart on from the menu clears a Task Manager
"disabled" mark (the user just asked for it); switching it off removes both values.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)

APP_ID = "raksbl"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
APPROVED_KEY = r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"


def launch_command(config_path: str | os.PathLike | None = None) -> list[str]:
    """How to start the tray agent at login: the frozen exe, or (py)thonw -m agent tray."""
    if getattr(sys, "frozen", False):
        cmd = [sys.executable]
    else:
        python = Path(sys.executable)
        if sys.platform == "win32":  # no console window at login
            pythonw = python.with_name("pythonw.exe")
            if pythonw.exists():
                python = pythonw
        cmd = [str(python), "-m", "agent"]
    if config_path:
        cmd += ["--config", str(Path(config_path).absolute())]
    cmd.append("tray")
    return cmd


# ------------------------------------------------------------------ Linux / XDG


def desktop_file_path() -> Path:
    """``$XDG_CONFIG_HOME/autostart/raksbl.desktop`` (``~/.config`` when unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "autostart" / f"{APP_ID}.desktop"


def _quote_exec_arg(arg: str) -> str:
    # Desktop Entry spec: quote args with reserved characters; escape " ` $ \ inside quotes.
    if arg and not any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`'):
        return arg.replace("%", "%%")
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
    return '"' + escaped.replace("%", "%%") + '"'


def desktop_entry(command: list[str]) -> str:
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=raksbl\n"
        "Comment=Wysyłanie dokumentów z RaksSQL do BaseLinker\n"
        f"Exec={' '.join(_quote_exec_arg(a) for a in command)}\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def _xdg_enabled() -> bool:
    path = desktop_file_path()
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return False
    lines = {line.split("=", 1)[0].strip(): line.split("=", 1)[1].strip()
             for line in text.splitlines() if "=" in line}
    if lines.get("Hidden", "").lower() == "true":
        return False
    if lines.get("X-GNOME-Autostart-enabled", "true").lower() == "false":
        return False
    return True


def _xdg_set(enabled: bool, command: list[str]) -> None:
    path = desktop_file_path()
    if enabled:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(desktop_entry(command), encoding="utf-8")
        os.replace(tmp, path)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


# ------------------------------------------------------------------ Windows


def _win_query(key_path: str, name: str) -> object | None:
    import winreg

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key_path) as key:
            value, _ = winreg.QueryValueEx(key, name)
            return value
    except FileNotFoundError:
        return None


def _win_disabled_in_task_manager() -> bool:
    value = _win_query(APPROVED_KEY, APP_ID)
    return isinstance(value, (bytes, bytearray)) and len(value) > 0 and bool(value[0] & 1)


def _win_enabled() -> bool:
    return bool(_win_query(RUN_KEY, APP_ID)) and not _win_disabled_in_task_manager()


def _win_delete(key_path: str, name: str) -> None:
    import winreg

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key_path, 0, winreg.KEY_SET_VALUE) as key:
            winreg.DeleteValue(key, name)
    except FileNotFoundError:
        pass


def _win_set(enabled: bool, command: list[str]) -> None:
    import subprocess
    import winreg

    if enabled:
        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            winreg.SetValueEx(key, APP_ID, 0, winreg.REG_SZ, subprocess.list2cmdline(command))
        if _win_disabled_in_task_manager():
            _win_delete(APPROVED_KEY, APP_ID)  # no mark = enabled (what Windows assumes for new entries)
    else:
        _win_delete(RUN_KEY, APP_ID)
        _win_delete(APPROVED_KEY, APP_ID)


# ------------------------------------------------------------------ API


def is_enabled() -> bool:
    """Whether raksbl starts at login now (read from the OS every call)."""
    if sys.platform == "win32":
        return _win_enabled()
    return _xdg_enabled()


def set_enabled(enabled: bool, command: list[str] | None = None) -> None:
    """Add or remove the login entry (``command`` defaults to :func:`launch_command`)."""
    command = command or launch_command()
    if sys.platform == "win32":
        _win_set(enabled, command)
    else:
        _xdg_set(enabled, command)
    log.info("start at login %s", "enabled" if enabled else "disabled")
