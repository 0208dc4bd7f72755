"""A complete export environment for integration tests: a real company database on the Firebird
server, a BaseLinker sandbox over real HTTP, a settings file and a data dir, plus helpers to
seed matching documents/orders and to run the agent in-process or as a real ``raksbl`` process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from agent.sandbox import SandboxServer, SandboxState
from agent.export.journal import Journal
from agent.raks import schema
from agent.settings import Settings, load_settings, update_settings, write_default_settings

TOKEN = "test-token-0123456789"
INVOICE_SERIES = 15
RECEIPT_SERIES = 61178
CORRECTION_SERIES = 40
CUSTOM_FIELD = 135
ORDER_STATUS_NEW = 3000
ORDER_STATUS_SENT = 3001
ORDER_STATUS_ERROR = 3002
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ExportEnv:
    db: object  # the company_db fixture object (dsn, user, password, connect())
    state: SandboxState
    server: SandboxServer
    tmp: Path
    settings_path: Path = field(init=False)
    data_dir: Path = field(init=False)
    _conn: object = None

    def __post_init__(self):
        self.settings_path = self.tmp / "raksbl.toml"
        self.data_dir = self.tmp / "data"
        self.data_dir.mkdir(exist_ok=True)
        write_default_settings(
            self.settings_path,
            **{
                "baselinker.api_url": self.server.url,
                "baselinker.requests_per_minute": 1000,
                "baselinker.invoice_series_id": INVOICE_SERIES,
                "baselinker.receipt_series_id": RECEIPT_SERIES,
                "baselinker.timeout_seconds": 5,
                "raks.database": self.db.dsn,
                "raks.user": self.db.user,
            },
        )

    # -- environment -----------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        """Environment for a real agent process."""
        env = dict(os.environ)
        env.update(
            RAKSBL_CONFIG=str(self.settings_path),
            RAKSBL_DATA_DIR=str(self.data_dir),
            RAKSBL_BASELINKER_TOKEN=TOKEN,
            RAKSBL_RAKS_PASSWORD=self.db.password,
            PYTHONPATH=str(REPO_ROOT),
        )
        env.pop("RAKSBL_CRASH_AT", None)
        return env

    def configure(self, **changes) -> Settings:
        return update_settings(self.settings_path, {k.replace("__", "."): v for k, v in changes.items()})

    def settings(self) -> Settings:
        return load_settings(self.settings_path)

    @property
    def conn(self):
        if self._conn is None:
            self._conn = self.db.connect()
        return self._conn

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- seeding ---------------------------------------------------------------------------
    def add_order(self, total: Decimal | str = "123.00", nip: str = "", **fields) -> int:
        base = {
            "invoice_company": "Firma Testowa",
            "invoice_nip": nip,
            "currency": "PLN",
            "order_status_id": ORDER_STATUS_NEW,
            "products": [{"name": "Towar", "sku": "T1", "price_brutto": float(Decimal(str(total))), "quantity": 1,
                          "tax_rate": 23}],
        }
        base.update(fields)
        return self.state.add_order(**base)

    def add_doc(self, doc_type: str = "FS", number: str | None = None, *, order_id: int | None | bool = True,
                total: str = "123.00", nip: str = "", sygnatura: str | None = None, **kwargs) -> tuple[int, int | None]:
        """A RaksSQL document and (by default) its BaseLinker order; returns (raks_id, order_id)."""
        if order_id is True:
            order_id = self.add_order(total, nip=nip)
        elif order_id is False:
            order_id = None
        if number is None:
            count = getattr(self, "_count", 0) + 1
            self._count = count
            number = f"{doc_type} {count}/11/2026/MAG"
        raks_id = schema.add_document(
            self.conn, doc_type=doc_type, number=number, total_gross=Decimal(total), buyer_nip=nip,
            sygnatura=sygnatura if sygnatura is not None else (f"BL {order_id}" if order_id else ""), **kwargs,
        )
        return raks_id, order_id

    def add_correction(self, invoice_raks_id: int, number: str, **kwargs) -> int:
        """A RaksSQL correction (GM_KS) of invoice ``invoice_raks_id``; its SYGNATURA is empty."""
        return schema.insert_correction(self.conn, invoice_id=invoice_raks_id, number=number, **kwargs)

    def corrections(self, order_id: int) -> list[dict]:
        return [i for i in self.state.invoices_for_order(order_id) if i.get("type") == "correcting"]

    def status(self, doc_type: str, raks_id: int) -> int | None:
        self.conn.commit()  # a fresh snapshot
        return schema.document_status(self.conn, doc_type, raks_id)

    # -- running ---------------------------------------------------------------------------
    def run(self, **kwargs):
        from agent.export.run import run_export

        with Journal(self.data_dir / "journal.sqlite3") as journal:
            return run_export(self.settings(), journal=journal, **kwargs)

    def cli(self, *args: str, extra_env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        env = self.env
        env.update(extra_env or {})
        return subprocess.run(
            [sys.executable, "-m", "agent", *args], env=env, cwd=REPO_ROOT, capture_output=True, text=True,
            timeout=timeout,
        )

    def send_killed_at_then_resumed(self, point: str) -> subprocess.CompletedProcess:
        """`send` killed (SIGKILL) at the 2nd pass of recovery point ``point`` — the first document
        completes, the second is torn there — then `send` again until a run succeeds (at most 3);
        returns that run."""
        killed = self.cli("send", extra_env={"RAKSBL_CRASH_AT": f"{point}:2"})
        assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
        for _ in range(3):
            result = self.cli("send")
            if result.returncode == 0:
                break
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def spawn(self, *args: str, extra_env: dict | None = None) -> subprocess.Popen:
        env = self.env
        env.update(extra_env or {})
        return subprocess.Popen(
            [sys.executable, "-m", "agent", *args], env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )

    # -- BaseLinker side -------------------------------------------------------------------
    def invoices(self, order_id: int) -> list[dict]:
        return [i for i in self.state.invoices_for_order(order_id) if i.get("type", "normal") == "normal"]

    def receipts(self, order_id: int) -> list[dict]:
        return self.state.receipts_for_order(order_id)

    def documents(self, doc_type: str, order_id: int) -> list[dict]:
        if doc_type == "KS":
            return self.corrections(order_id)
        return self.invoices(order_id) if doc_type == "FS" else self.receipts(order_id)


def make_state(token: str = TOKEN) -> SandboxState:
    """A BaseLinker account (series, order statuses, an extra field) answering ``token``."""
    state = SandboxState(token=token, requests_per_minute=1000)
    state.add_series(INVOICE_SERIES, "INVOICE", "Faktury", "%N/%M/%Y")
    state.add_series(RECEIPT_SERIES, "RECEIPT", "Paragony", "PAR/%N/%Y")
    state.add_series(CORRECTION_SERIES, "CORRECTION", "Korekty", "KOR/%N/%M/%Y")
    state.add_order_status(ORDER_STATUS_NEW, "Nowe")
    state.add_order_status(ORDER_STATUS_SENT, "Dokument wysłany")
    state.add_order_status(ORDER_STATUS_ERROR, "Błąd dokumentu")
    state.add_extra_field(CUSTOM_FIELD, "Numer z RaksSQL")
    return state
