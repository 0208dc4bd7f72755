"""A Hypothesis state machine over the export protocol, under every undocumented-behaviour variant.

Real parts where the protocol meets BaseLinker: the sandbox over real HTTP on 127.0.0.1, the
real client, the real SQLite journal (deleted at random, as users do). RaksSQL is an in-memory
stand-in with the claim/status contract of the repository (the Firebird side has its own
tests); the journal's clock is a fake one the machine advances past the late-create quarantine.

Faults are injected at random: gateway errors (500/520/524 HTML pages), resets before
execution, answers lost after execution, requests that time out and never run, creates that
BaseLinker carries out long after the client gave up (``held``, released later), refusals.

Invariants, after every step:
* never two BaseLinker documents for one RaksSQL document (nor one created where a document
  already existed);
* a file of another system is never overwritten;
* a document RaksSQL marks as sent has exactly one BaseLinker document carrying its number and
  its PDF;
and at the end, with the faults gone: nothing silently dropped (every document is sent, or its
journal entry says visibly why not).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from agent.baselinker.client import BaseLinkerClient
from agent.baselinker.errors import BaseLinkerError
from agent.baselinker.ratelimit import RateLimiter
from agent.sandbox import Fault, SandboxServer, SandboxState
from agent.sandbox import UNDOCUMENTED_VARIANTS
from agent.errors import RunAborted
from agent.export.journal import Journal
from agent.export.protocol import LATE_CREATE_QUARANTINE, DocumentExporter
from agent.settings import load_settings, write_default_settings
from tests.support.export_env import INVOICE_SERIES, RECEIPT_SERIES, TOKEN
from tests.support.protocol_fakes import SENT, FakeRaks

CLIENT_TIMEOUT = 0.3
FAULT_METHODS = ["addInvoice", "addReceipt", "getInvoices", "getReceipt", "getOrders",
                 "addOrderInvoiceFile", "addOrderReceiptFile"]
FOREIGN_PDF = b"%PDF-1.4 printed by a fiscal printer"


def make_machine(server: SandboxServer, state: SandboxState, variant: dict):
    class ProtocolMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            state.reset()
            state.configure(duplicate_documents="allow", no_receipt="error", list_date_field="date_add",
                            list_lag_seconds=0.0, list_order="asc")
            state.configure(**variant)
            state.add_series(INVOICE_SERIES, "INVOICE", "Faktury", "%N/%M/%Y")
            state.add_series(RECEIPT_SERIES, "RECEIPT", "Paragony", "PAR/%N/%Y")
            self.tmp = Path(tempfile.mkdtemp(prefix="raksbl-sm-"))
            path = self.tmp / "raksbl.toml"
            write_default_settings(path, **{
                "baselinker.api_url": server.url, "baselinker.invoice_series_id": INVOICE_SERIES,
                "baselinker.receipt_series_id": RECEIPT_SERIES, "raks.database": "localhost:/x.fdb",
            })
            self.settings = load_settings(path)
            self.offset = 0.0
            self.journal = self._open_journal()
            self.raks = FakeRaks()
            self.seeded: dict[int, list[tuple[str, int, bytes | None, str]]] = {}  # order → (kind, id, file, ext)
            self.held: list[Fault] = []
            self.runs = 0

        def _open_journal(self) -> Journal:
            return Journal(self.tmp / "data" / "journal.sqlite3", clock=lambda: _now() + self.offset)

        def teardown(self):
            try:
                self._settle()
            finally:
                for fault in self.held:
                    fault.release()
                state.clear_faults()
                self.journal.close()
                shutil.rmtree(self.tmp, ignore_errors=True)

        # -- the world -------------------------------------------------------------------
        def _docs_on(self, doc_type: str, order_id: int) -> list[dict]:
            if doc_type == "FS":
                return [i for i in state.invoices_for_order(order_id) if i["type"] == "normal"]
            return state.receipts_for_order(order_id)

        @initialize(doc_type=st.sampled_from(["FS", "PA"]))
        def first_document(self, doc_type):
            self.add_document(doc_type, "none")

        @rule(doc_type=st.sampled_from(["FS", "PA"]), seed=st.sampled_from(["none", "none", "free", "foreign"]))
        def add_document(self, doc_type, seed):
            order_id = state.add_order(products=[{"name": "Towar", "price_brutto": 123.0, "quantity": 1}])
            doc = self.raks.add(doc_type, len(self.raks.docs) + 1, order_id)
            if seed != "none":
                ext, data = ("INNY/1", FOREIGN_PDF) if seed == "foreign" else ("", None)
                if doc_type == "FS":
                    seeded = state.add_invoice(order_id, INVOICE_SERIES, external_invoice_number=ext, file=data)
                else:
                    seeded = state.add_receipt(order_id, RECEIPT_SERIES, external_receipt_number=ext, file=data)
                self.seeded[order_id] = [(doc.doc_type, seeded, data, ext)]

        @rule(method=st.sampled_from(FAULT_METHODS), after=st.integers(0, 3),
              kind=st.sampled_from(["http_500", "http_520", "http_524", "reset_before", "drop_after_commit",
                                    "timeout_lost", "held", "api_error"]))
        def inject_fault(self, method, after, kind):
            if kind.startswith("http_"):
                fault = Fault(method=method, kind="http_500", http_status=int(kind[5:]), after=after)
            elif kind == "timeout_lost":
                fault = Fault(method=method, kind=kind, seconds=CLIENT_TIMEOUT + 0.2, after=after)
            elif kind == "api_error":
                fault = Fault(method=method, kind=kind, after=after, error_code="ERROR_INTERNAL",
                              error_message="Temporary failure")
            else:
                fault = Fault(method=method, kind=kind, after=after)
            if kind == "held":
                self.held.append(fault)
            state.add_fault(fault)

        @rule(method=st.sampled_from(["addInvoice", "addReceipt"]))
        def create_will_run_late(self, method):
            """The dangerous case, made likelier: the next create runs long after the timeout."""
            fault = Fault(method=method, kind="held")
            self.held.append(fault)
            state.add_fault(fault)

        @precondition(lambda self: any(f.hits and not f._released.is_set() for f in self.held))
        @rule()
        def late_request_runs(self):
            """BaseLinker carries out the held requests (long after the client gave up)."""
            for fault in self.held:
                if fault.hits and not fault._released.is_set():
                    fault.release()
                    assert fault.wait_executed(30)

        @precondition(lambda self: not any(f.hits and not f._released.is_set() for f in self.held))
        @rule(seconds=st.sampled_from([60.0, LATE_CREATE_QUARANTINE + 1]))
        def time_passes(self, seconds):
            # Only once no request is still held: a create running later than the quarantine
            # is the one case the agent deliberately does not wait for.
            self.offset += seconds

        @rule()
        def journal_deleted(self):
            self.journal.close()
            for name in ("journal.sqlite3", "journal.sqlite3-wal", "journal.sqlite3-shm"):
                (self.tmp / "data" / name).unlink(missing_ok=True)
            self.journal = self._open_journal()

        @rule()
        def export_run(self):
            self._run()

        def _run(self) -> None:
            self.runs += 1
            client = BaseLinkerClient(TOKEN, server.url, RateLimiter(100_000), timeout=CLIENT_TIMEOUT,
                                      sleep=lambda s: None)
            exporter = DocumentExporter(self.settings, self.raks, client, self.journal, run_id=f"r{self.runs}")
            docs = self.raks.pending()
            try:
                exporter.prefetch(docs)
                for doc in docs:
                    exporter.export(doc)
            except (RunAborted, BaseLinkerError):
                pass  # the run stops; the next one goes on

        def _settle(self) -> None:
            """With the faults gone: release what is held, let time pass, run until quiet."""
            for fault in self.held:
                if fault.hits and not fault._released.is_set():
                    fault.release()
                    assert fault.wait_executed(30)
            state.clear_faults()
            self.offset += LATE_CREATE_QUARANTINE + 1
            for _ in range(3):
                self._run()
            self.check_exactly_once()
            for key, doc in self.raks.docs.items():
                if self.raks.status[key] == SENT:
                    continue
                entry = self.journal.get(self.settings.raks.database, doc.doc_type, doc.raks_id)
                assert entry is not None and entry.state in ("failed", "in_doubt") and entry.error, (
                    f"{doc.number} neither sent nor visibly failed: {entry}")
                if doc.order_id in self.seeded and self.seeded[doc.order_id][0][3]:
                    assert entry.state == "failed"

        # -- invariants ------------------------------------------------------------------
        @invariant()
        def check_exactly_once(self):
            for key, doc in self.raks.docs.items():
                on_order = self._docs_on(doc.doc_type, doc.order_id)
                seeded = self.seeded.get(doc.order_id, [])
                made_by_agent = len(on_order) - len(seeded)
                assert made_by_agent <= (0 if seeded else 1), (
                    f"{doc.number}: {len(on_order)} BaseLinker documents on order {doc.order_id} ({seeded=})")
                for doc_type, seeded_id, data, ext in seeded:
                    if ext:  # another system's document: never touched
                        now = next(d for d in on_order if d[("invoice_id" if doc_type == "FS" else "receipt_id")]
                                   == seeded_id)
                        ext_key = "external_invoice_number" if doc_type == "FS" else "external_receipt_number"
                        assert now[ext_key] == ext
                        stored = state.invoice_file(seeded_id) if doc_type == "FS" else state.receipt_file(seeded_id)
                        assert stored == data
                if self.raks.status[key] == SENT:
                    ext_key = "external_invoice_number" if doc.doc_type == "FS" else "external_receipt_number"
                    ours = [d for d in on_order if d[ext_key] == doc.number]
                    assert len(ours) == 1, f"{doc.number} marked sent, {len(ours)} BaseLinker documents carry it"
                    id_key = "invoice_id" if doc.doc_type == "FS" else "receipt_id"
                    stored = (state.invoice_file if doc.doc_type == "FS" else state.receipt_file)(ours[0][id_key])
                    assert stored == self.raks.pdf[key]

    return ProtocolMachine


def _now() -> float:
    import time

    return time.time()


@pytest.fixture(scope="module")
def sandbox():
    state = SandboxState(token=TOKEN, requests_per_minute=100_000)
    with SandboxServer(state).start() as server:
        yield server, state


@pytest.mark.parametrize("variant", sorted(UNDOCUMENTED_VARIANTS))
def test_protocol_state_machine(sandbox, variant):
    server, state = sandbox
    machine = make_machine(server, state, UNDOCUMENTED_VARIANTS[variant])
    run_state_machine_as_test(machine, settings=settings(
        max_examples=25, stateful_step_count=15, deadline=None, derandomize=True,
        suppress_health_check=list(HealthCheck),
        # No shrinking: each step runs real HTTP exchanges with client timeouts, so shrinking a
        # failure can take many minutes; the printed failing sequence is short enough to read.
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
    ))
