"""Several companies for integration tests: each its own RaksSQL database on the real Firebird
server and (usually) its own BaseLinker account — a sandbox over real HTTP with its own token —
written into one settings file as a ``[[company]]`` list, with one data dir (one journal).

Each company is an :class:`~tests.support.export_env.ExportEnv` (its seeding and BaseLinker
helpers: ``add_doc``, ``invoices``, ``status``); :class:`CompaniesEnv` adds the shared file,
the per-company secrets (``RAKSBL_BASELINKER_TOKEN_<NAME>``, the shared
``RAKSBL_RAKS_PASSWORD`` as the fallback) and runs the real ``raksbl`` process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from agent.export.journal import Journal
from agent.settings import Settings, company_env_suffix, load_settings
from tests.support.export_env import INVOICE_SERIES, RECEIPT_SERIES, REPO_ROOT, ExportEnv

TOKEN_B = "test-token-company-b-98765"


@dataclass
class Company:
    name: str
    env: ExportEnv  # its database, its sandbox (its BaseLinker account)
    token: str
    settings: dict = field(default_factory=dict)  # extra "baselinker.x" / "raks.x" keys


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "'" + str(value) + "'"  # literal string: Windows paths, regexes


def companies_toml(companies: list[Company]) -> str:
    """The settings file of ``companies`` (file order = run order)."""
    lines = ["[sync]", "auto = false", ""]
    for company in companies:
        env = company.env
        keys = {
            "baselinker.api_url": env.server.url,
            "baselinker.requests_per_minute": 1000,
            "baselinker.invoice_series_id": INVOICE_SERIES,
            "baselinker.receipt_series_id": RECEIPT_SERIES,
            "baselinker.timeout_seconds": 5,
            "raks.database": env.db.dsn,
            "raks.user": env.db.user,
            **company.settings,
        }
        lines += ["[[company]]", f'name = "{company.name}"']
        for table in ("baselinker", "raks"):
            lines.append(f"[company.{table}]")
            lines += [f"{k.split('.', 1)[1]} = {_toml_value(v)}" for k, v in keys.items() if k.startswith(table + ".")]
        lines.append("")
    return "\n".join(lines)


class CompaniesEnv:
    """Companies in one settings file and one data dir (see the module docstring)."""

    def __init__(self, tmp: Path, companies: list[Company]):
        self.companies = {c.name: c for c in companies}
        self.settings_path = tmp / "raksbl.toml"
        self.data_dir = tmp / "data"
        self.data_dir.mkdir(exist_ok=True)
        self.keyring_file = tmp / "keyring.json"
        self.write()

    def __getitem__(self, name: str) -> ExportEnv:
        return self.companies[name].env

    def write(self) -> None:
        self.settings_path.write_text(companies_toml(list(self.companies.values())), encoding="utf-8")

    def settings(self) -> Settings:
        return load_settings(self.settings_path)

    @property
    def secrets_env(self) -> dict[str, str]:
        """Each company's own token; one database password for all (the unsuffixed fallback)."""
        env = {f"RAKSBL_BASELINKER_TOKEN_{company_env_suffix(c.name)}": c.token for c in self.companies.values()}
        env["RAKSBL_RAKS_PASSWORD"] = next(iter(self.companies.values())).env.db.password
        return env

    @property
    def env(self) -> dict[str, str]:
        """Environment of a real agent process: only these secrets, a keyring in a test file."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAKSBL_BASELINKER_TOKEN", "RAKSBL_RAKS_PASSWORD",
                                                                          "RAKSBL_CRASH_AT"))}
        env.update(self.secrets_env)
        env.update(
            RAKSBL_CONFIG=str(self.settings_path),
            RAKSBL_DATA_DIR=str(self.data_dir),
            PYTHONPATH=str(REPO_ROOT),
            PYTHON_KEYRING_BACKEND="tests.support.file_keyring.JsonFileKeyring",
            RAKSBL_TEST_KEYRING_FILE=str(self.keyring_file),
        )
        return env

    def cli(self, *args: str, extra_env: dict | None = None, without: tuple[str, ...] = (), stdin: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
        """``raksbl ARGS`` as a process; ``without`` drops environment variables."""
        env = self.env
        env.update(extra_env or {})
        for name in without:
            env.pop(name, None)
        return subprocess.run([sys.executable, "-m", "agent", *args], env=env, cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=timeout, input=stdin)

    def journal(self) -> Journal:
        return Journal(self.data_dir / "journal.sqlite3")

    def close(self) -> None:
        for company in self.companies.values():
            company.env.close()
