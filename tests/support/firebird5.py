"""Firebird 5 for the tests: the embedded engine and client of the ``firebird-embedded`` wheel.

The wheel (installed by ``scripts/bootstrap.sh test`` through the ``test`` extra) puts a whole
Firebird 5 runtime in ``firebird/embedded/runtime/``: ``libfbclient.so.2`` (``fbclient.dll``),
``plugins/libEngine13.so``, ``intl/``, ``tzdata/``, ``firebird.conf``.

fdb loads one client library per process, so Firebird 5 runs in **child pytest sessions**
(``tests/integration/test_firebird_matrix.py``) started with :func:`child_env`:

* ``RAKSBL_TEST_FB_CLIENT=<runtime>/libfbclient.so.2`` — ``tests/conftest.py`` loads it with
  ``fdb.load_api`` before anything connects;
* ``RAKSBL_TEST_ENGINE=fb5-embedded`` — the ``firebird_server`` fixture becomes
  :class:`EmbeddedFirebird5`: ``company_db`` databases are bare paths opened by the embedded
  engine (no server, one process per database file);
  ``RAKSBL_TEST_ENGINE=fb3-server`` with the Firebird 5 client — the usual Firebird 3 server over
  TCP, reached by the newer client (what a shipped client does at a customer's);
* ``LD_LIBRARY_PATH=<runtime>`` — the engine plugin needs the wheel's ``libtomcrypt.so.1`` and the
  dynamic loader reads this variable only at process start; ``FIREBIRD=<runtime>`` — its root
  (``firebird.conf``, ``plugins/``, ``intl/``); ``FIREBIRD_LOCK`` — a private lock folder, never
  shared with the Firebird 3 server's.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

ENGINE_ENV = "RAKSBL_TEST_ENGINE"
CLIENT_ENV = "RAKSBL_TEST_FB_CLIENT"
FB3_SERVER = "fb3-server"
FB5_EMBEDDED = "fb5-embedded"

INSTALL_HINT = (
    "Firebird 5 for the tests comes from the firebird-embedded wheel (the 'test' extra):\n"
    "  .venv/bin/pip install -e '.[test]'   (scripts/bootstrap.sh test does it)"
)


class Firebird5Unavailable(RuntimeError):
    pass


def runtime_dir() -> Path:
    spec = importlib.util.find_spec("firebird.embedded")
    if spec is None or not spec.submodule_search_locations:
        raise Firebird5Unavailable(f"The firebird-embedded wheel is not installed.\n{INSTALL_HINT}")
    root = Path(list(spec.submodule_search_locations)[0]) / "runtime"
    if not (root / "plugins").is_dir():
        raise Firebird5Unavailable(f"{root} holds no Firebird runtime.\n{INSTALL_HINT}")
    return root


def client_library() -> Path:
    name = "fbclient.dll" if sys.platform == "win32" else "libfbclient.so.2"
    return runtime_dir() / name


def current_engine() -> str:
    return os.environ.get(ENGINE_ENV) or FB3_SERVER


def child_env(engine: str, lock_dir: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of a child process whose fdb uses the Firebird 5 client (see module docstring)."""
    env = dict(os.environ if base is None else base)
    root = runtime_dir()
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (str(root), env.get("LD_LIBRARY_PATH", "")) if p)
    env["FIREBIRD"] = str(root)
    env["FIREBIRD_LOCK"] = str(lock_dir)
    env[CLIENT_ENV] = str(client_library())
    env[ENGINE_ENV] = engine
    return env


def load_client_from_env() -> None:
    """Called by tests/conftest.py at import: load the client named by RAKSBL_TEST_FB_CLIENT."""
    path = os.environ.get(CLIENT_ENV)
    if not path:
        return
    import fdb

    fdb.load_api(path)


class EmbeddedFirebird5:
    """Stands in for ``FirebirdServer`` (same attributes the fixtures use): databases are bare
    paths in a private folder, opened by the Firebird 5 embedded engine in this process."""

    user = "SYSDBA"
    password = "masterkey"      # the embedded engine checks no password; any value works
    host = None
    port = None

    def __init__(self, db_dir: Path):
        self.db_dir = db_dir
        self._counter = 0

    @classmethod
    def ensure(cls) -> "EmbeddedFirebird5":
        import fdb

        from agent.raks.connection import engine_major  # noqa: F401 - the agent must import

        api = getattr(fdb.fbcore, "api", None)
        if api is None or os.environ.get(CLIENT_ENV) is None:
            raise Firebird5Unavailable(f"{ENGINE_ENV}={FB5_EMBEDDED} needs {CLIENT_ENV} (see tests/support/firebird5.py)")
        return cls(Path(tempfile.mkdtemp(prefix="raksbl-fb5-")))

    def restart(self, **_kw) -> None:
        raise RuntimeError("an embedded engine has no server to restart: keep server-restart tests out of the matrix")

    def cleanup(self) -> None:
        shutil.rmtree(self.db_dir, ignore_errors=True)

    def dsn_for(self, path: str | os.PathLike) -> str:
        return str(path)

    def new_database_path(self, name: str | None = None) -> Path:
        self._counter += 1
        return self.db_dir / (name or f"F{self._counter:05d}.fdb")

    def new_database(self, name: str | None = None, **kwargs):
        from agent.raks.schema import create_company_database
        from tests.support.firebird import CompanyDb

        path = self.new_database_path(name)
        create_company_database(self.dsn_for(path), self.user, self.password, **kwargs)
        return CompanyDb(self, path)
