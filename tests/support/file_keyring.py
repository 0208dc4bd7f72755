"""A file-based keyring backend for tests: secrets land in a JSON file the test can read.

Use the ``file_keyring`` helper: ``path = install_file_keyring(tmp_path)`` sets it as the
process keyring (restore with ``keyring.set_keyring(previous)``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keyring
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class JsonFileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self, path: Path | None = None):
        super().__init__()
        # Without a path (a subprocess selecting it with PYTHON_KEYRING_BACKEND), the file is
        # named by RAKSBL_TEST_KEYRING_FILE.
        # (keyring itself instantiates every backend class without arguments to rank them).
        path = path if path is not None else os.environ.get("RAKSBL_TEST_KEYRING_FILE", "unset-test-keyring.json")
        self.path = Path(path)

    def _read(self) -> dict:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def _write(self, data: dict) -> None:
        self.path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")

    def get_password(self, service: str, username: str) -> str | None:
        return self._read().get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._read()
        data.setdefault(service, {})[username] = password
        self._write(data)

    def delete_password(self, service: str, username: str) -> None:
        data = self._read()
        if username not in data.get(service, {}):
            raise PasswordDeleteError(username)
        del data[service][username]
        self._write(data)

    def stored(self) -> dict:
        """Everything stored, ``{service: {name: secret}}``."""
        return self._read()


def install_file_keyring(directory: Path) -> tuple[JsonFileKeyring, object]:
    """Make a JSON-file keyring in ``directory`` the process keyring; returns (it, the previous one)."""
    previous = keyring.get_keyring()
    backend = JsonFileKeyring(Path(directory) / "keyring.json")
    keyring.set_keyring(backend)
    return backend, previous
