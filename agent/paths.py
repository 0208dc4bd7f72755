"""Where raksbl keeps its files.

* settings: ``<user config dir>/raksbl/raksbl.toml`` — ``--config PATH`` or ``RAKSBL_CONFIG``
  override it;
* state (journal, logs, lock file): ``<user data dir>/raksbl`` — ``RAKSBL_DATA_DIR`` overrides it.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "raksbl"
SETTINGS_FILE = "raksbl.toml"


def config_path(explicit: str | os.PathLike | None = None) -> Path:
    """The settings file to use: ``explicit`` (``--config``), then ``RAKSBL_CONFIG``, then the platform default."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("RAKSBL_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / SETTINGS_FILE


def data_dir() -> Path:
    """The directory holding the journal and logs (created on demand)."""
    env = os.environ.get("RAKSBL_DATA_DIR")
    path = Path(env).expanduser() if env else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    _make_dir(path)
    return path


def _make_dir(path: Path) -> None:
    """mkdir -p; no access or another OS error is a StorageError saying what to do."""
    from agent.errors import StorageError

    try:
        path.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        raise StorageError(
            f"Brak dostępu do folderu danych raksbl {path} (dziennik i logi). Nadaj sobie prawo zapisu do "
            "tego folderu albo wskaż inny zmienną środowiskową RAKSBL_DATA_DIR."
        ) from None
    except OSError as exc:
        raise StorageError(
            f"Nie można utworzyć folderu danych raksbl {path}: {exc.strerror or exc}. "
            "Wskaż inny zmienną środowiskową RAKSBL_DATA_DIR."
        ) from None


def journal_path() -> Path:
    return data_dir() / "journal.sqlite3"


def log_dir() -> Path:
    path = data_dir() / "logs"
    _make_dir(path)
    return path
