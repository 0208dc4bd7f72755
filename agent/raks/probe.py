"""Test a RaksSQL connection in a child process, with a client library this process cannot load.

fdb loads the Firebird client library once per process. When the settings dialog's "Testuj
połączenie" is pressed after ``raks.client_library`` changed, the running agent still holds the
old client; the test then runs in a fresh process (``raksbl-cli --raks-probe``, or
``python -m agent --raks-probe`` from source) that loads the new one. The settings travel as
JSON on stdin, the password too (never on the command line or in the environment); the answer
is one JSON line on stdout.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
from typing import Any

from agent.errors import ConfigError, RaksblError
from agent.raks.errors import ProfileError, RaksConnectionError

PROBE_ARG = "--raks-probe"
TIMEOUT_SECONDS = 120.0


def _settings_to_json(settings: Any) -> dict[str, Any]:
    data = dataclasses.asdict(settings) if dataclasses.is_dataclass(settings) else dict(vars(settings))
    for key, value in list(data.items()):
        if isinstance(value, dt.date):
            data[key] = value.isoformat()
        elif isinstance(value, tuple):
            data[key] = list(value)
    return data


def _settings_from_json(data: dict[str, Any]):
    from agent.settings import RaksSettings

    known = {f.name for f in dataclasses.fields(RaksSettings)}
    values = {k: v for k, v in data.items() if k in known}
    for key in ("statuses_to_send", "document_types"):
        if key in values:
            values[key] = tuple(values[key])
    if values.get("not_before"):
        values["not_before"] = dt.date.fromisoformat(values["not_before"])
    return RaksSettings(**values)


def probe_command() -> list[str]:
    """How to start the probe: the console executable next to a frozen program, else this Python."""
    if getattr(sys, "frozen", False):
        folder = os.path.dirname(os.path.abspath(sys.executable))
        cli = os.path.join(folder, "raksbl-cli.exe" if sys.platform == "win32" else "raksbl-cli")
        return [cli if os.path.isfile(cli) else sys.executable, PROBE_ARG]
    return [sys.executable, "-m", "agent", PROBE_ARG]


def probe_in_child(raks_settings: Any, password: str, *, timeout: float = TIMEOUT_SECONDS):
    """``(server_version, statuses, counts, client description)`` read by a fresh process.

    Raises what an in-process connection would: RaksConnectionError, ProfileError (with its key),
    ConfigError.
    """
    request = json.dumps({"settings": _settings_to_json(raks_settings), "password": password})
    env = dict(os.environ)
    env.pop("RAKSBL_CRASH_AT", None)
    flags = getattr(subprocess, "CREATE_NO_WINDOW", 0) if sys.platform == "win32" else 0
    try:
        proc = subprocess.run(probe_command(), input=request.encode("utf-8"), capture_output=True,
                              timeout=timeout, env=env, creationflags=flags)
    except subprocess.TimeoutExpired:
        raise RaksConnectionError(
            f"Sprawdzanie połączenia z nową biblioteką klienta Firebird nie skończyło się w "
            f"{int(timeout)} s — sprawdź adres serwera i zaporę.") from None
    except OSError as exc:
        raise RaksConnectionError(f"Nie można uruchomić sprawdzania połączenia w osobnym procesie: {exc}") from None
    out = proc.stdout.decode("utf-8", "replace")
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if not lines:
        detail = (proc.stderr.decode("utf-8", "replace") or out).strip().splitlines()[-1:] or ["brak odpowiedzi"]
        raise RaksConnectionError(f"Sprawdzanie połączenia w osobnym procesie nie powiodło się: {detail[0]}")
    answer = json.loads(lines[-1])
    if not answer.get("ok"):
        kind, message, key = answer.get("kind"), answer.get("error", ""), answer.get("key")
        if kind == "profile":
            raise ProfileError(message, key, answer.get("statement"))
        if kind == "config":
            raise ConfigError(message, key)
        raise RaksConnectionError(message)
    counts = {(s, t): n for s, t, n in answer["counts"]}
    return answer["server_version"], tuple((i, n) for i, n in answer["statuses"]), counts, answer["client"]


def child_main(stdin=None, stdout=None) -> int:
    """The child's side: read the request, connect, answer with one JSON line (UTF-8 both ways,
    whatever the console code page)."""
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    try:
        request = json.loads(stdin.read().decode("utf-8"))
        settings = _settings_from_json(request["settings"])
        from agent import fbclient
        from agent.raks.repository import RaksRepository

        with RaksRepository(settings, request.get("password", "")) as repo:
            version, statuses, counts = repo.server_version(), repo.statuses(), repo.status_counts()
        info = fbclient.loaded_client()
        answer = {"ok": True, "server_version": version, "statuses": [list(s) for s in statuses],
                  "counts": [[s, t, n] for (s, t), n in counts.items()],
                  "client": info.describe() if info else ""}
    except ProfileError as exc:
        answer = {"ok": False, "kind": "profile", "error": str(exc), "key": exc.key, "statement": exc.statement}
    except ConfigError as exc:
        answer = {"ok": False, "kind": "config", "error": str(exc), "key": exc.key}
    except RaksblError as exc:
        answer = {"ok": False, "kind": "connection", "error": str(exc)}
    except Exception as exc:  # a bug or a broken request: still one answer, no traceback for the user
        answer = {"ok": False, "kind": "connection", "error": f"{type(exc).__name__}: {exc}"}
    stdout.write((json.dumps(answer, ensure_ascii=False) + "\n").encode("utf-8"))
    stdout.flush()
    return 0
