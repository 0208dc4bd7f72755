"""Randomised soak: many runs of the real agent process under a seeded schedule of faults.

Each run gets at most one fault, drawn from: connection reset before execution, client
timeout while the server goes on and executes the request late, 5xx HTML page, commit then
dropped answer, block error, SIGKILL of the agent at a random moment, Firebird server restart at
a random moment (or no fault). Between runs documents are added and re-statused the way a
RaksSQL user does it (new ones, "to send" → "new" and back, a sent one set to "to send" again).
After every run the invariants that must always hold are checked; after the last one a settle
run without faults must leave every eligible document sent exactly once or visibly failed.

    RAKSBL_SOAK_RUNS=200 .venv/bin/python -m pytest tests/faults/test_soak.py -q -s   # the long soak
    RAKSBL_SOAK_SEED=<seed> ... # replay a schedule (the seed is printed on failure, and with -s)

Default: 25 runs (CI), a new random seed each time.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time

import fdb

from agent.sandbox import Fault
from agent.raks import schema
from tests.faults.invariants import STATUS_NEW, STATUS_SENT, STATUS_TO_SEND, Tracked, assert_invariants
from tests.support.export_env import CUSTOM_FIELD, ORDER_STATUS_SENT

RUNS = int(os.environ.get("RAKSBL_SOAK_RUNS", "25"))
CLIENT_TIMEOUT = 2  # baselinker.timeout_seconds for the soak: timeouts cost little
AGENT_TIMEOUT = 120  # one agent run must end within this (seconds)
# The late-create quarantine for the soak's agents: the sandbox's "timeout" faults execute a
# create at most CLIENT_TIMEOUT + 3 s after it was sent, so this is beyond any delay here.
QUARANTINE = 2 * CLIENT_TIMEOUT + 4

METHODS_FS = ["addInvoice", "addOrderInvoiceFile", "getInvoices"]
METHODS_PA = ["addReceipt", "addOrderReceiptFile", "getReceipt", "getReceipts"]
METHODS_KS = ["addInvoiceCorrection"]  # corrections share getInvoices/addOrderInvoiceFile with FS
METHODS_ANY = ["getOrders", "setOrderFields", "setOrderStatus", "*"]

FAULTS = [  # (kind, weight)
    ("none", 2),
    ("reset_before", 2),
    ("timeout", 2),
    ("http_500", 2),
    ("drop_after_commit", 3),
    ("block", 1),
    ("sigkill", 3),
    ("fb_restart", 1),
]


class Soak:
    def __init__(self, env, firebird_server, rng: random.Random, log: list[str]):
        self.env = env
        self.fb = firebird_server
        self.rng = rng
        self.log = log
        self.docs: list[Tracked] = []

    # -- the RaksSQL user ------------------------------------------------------------------
    def add(self, doc_type: str | None = None, *, status: int = STATUS_TO_SEND, broken: str | None = None) -> None:
        doc_type = doc_type or self.rng.choice(["FS", "FS", "PA"])
        kwargs = {}
        if broken == "no_order":
            kwargs["order_id"] = False
        elif broken == "missing_order":
            kwargs["order_id"] = 99_000_000 + len(self.docs)
        total = f"{self.rng.randrange(100, 99999) / 100:.2f}"
        raks_id, order_id = self.env.add_doc(doc_type, total=total, status_id=status, **kwargs)
        number = self._number_of(doc_type, raks_id)
        self.docs.append(Tracked(doc_type, raks_id, order_id, number, ever_eligible=status == STATUS_TO_SEND,
                                 expect_failure=broken is not None))

    def add_correction(self, *, status: int = STATUS_TO_SEND) -> None:
        """A KS of a random invoice (sent or not yet: one not in BaseLinker must wait for it)."""
        invoices = [d for d in self.docs if d.doc_type == "FS" and not d.expect_failure]
        if not invoices:
            return
        invoice = self.rng.choice(invoices)
        number = f"KOR {len(self.docs) + 1}/12/2026"
        raks_id = self.env.add_correction(invoice.raks_id, number, status_id=status)
        self.docs.append(Tracked("KS", raks_id, invoice.order_id, number, ever_eligible=status == STATUS_TO_SEND))
        invoice.notes.append(f"corrected by {number}")

    def _number_of(self, doc_type: str, raks_id: int) -> str:
        cur = self.env.conn.cursor()
        cur.execute("SELECT NUMER FROM GM_FS WHERE ID = ?", (raks_id,))
        number = cur.fetchone()[0]
        cur.close()
        self.env.conn.commit()
        return number

    def set_status(self, doc: Tracked, status: int) -> None:
        schema.set_document_status(self.env.conn, doc.doc_type, doc.raks_id, status)
        if status == STATUS_TO_SEND:
            doc.ever_eligible = True
        doc.notes.append(f"status→{status}")

    def mutate(self) -> None:
        rng = self.rng
        for _ in range(rng.choice([0, 1, 1, 2])):
            self.add(status=STATUS_TO_SEND if rng.random() < 0.85 else STATUS_NEW)
        if rng.random() < 0.3:  # a return: a correction of some invoice (several per invoice happen)
            self.add_correction(status=STATUS_TO_SEND if rng.random() < 0.9 else STATUS_NEW)
        statuses = {d.key: self.env.status(d.doc_type, d.raks_id) for d in self.docs if not d.expect_failure}
        by_status: dict[int | None, list[Tracked]] = {}
        for doc in self.docs:
            if not doc.expect_failure:
                by_status.setdefault(statuses[doc.key], []).append(doc)
        if by_status.get(STATUS_NEW) and rng.random() < 0.5:  # the user releases a document
            self.set_status(rng.choice(by_status[STATUS_NEW]), STATUS_TO_SEND)
        if by_status.get(STATUS_TO_SEND) and rng.random() < 0.2:  # ... or pulls one back
            self.set_status(rng.choice(by_status[STATUS_TO_SEND]), STATUS_NEW)
        if by_status.get(STATUS_SENT) and rng.random() < 0.15:  # ... or asks to send a sent one again
            self.set_status(rng.choice(by_status[STATUS_SENT]), STATUS_TO_SEND)

    # -- one run ---------------------------------------------------------------------------
    def run(self, index: int) -> None:
        rng = self.rng
        env = self.env
        kind = rng.choices([k for k, _ in FAULTS], [w for _, w in FAULTS])[0]
        method = rng.choice(METHODS_FS + METHODS_PA + METHODS_KS + METHODS_ANY)
        after = rng.randrange(0, 6)
        delay = rng.uniform(0.15, 2.0)
        desc = kind
        if kind in ("reset_before", "http_500", "drop_after_commit"):
            env.state.add_fault(Fault(method=method, kind=kind, after=after, times=1))
            desc += f" on {method} after {after}"
        elif kind == "timeout":
            if rng.random() < 0.5:  # the dangerous case: a create that runs on after we gave up
                method = rng.choice(["addInvoice", "addReceipt", "addInvoiceCorrection"])
            seconds = CLIENT_TIMEOUT + rng.uniform(0.3, 3.0)
            env.state.add_fault(Fault(method=method, kind="timeout", seconds=seconds, after=after, times=1))
            desc += f" ({seconds:.1f} s) on {method} after {after}"
        elif kind == "block":
            seconds = rng.choice([1, 2])
            env.state.add_fault(Fault(method="*", kind="block", seconds=seconds, after=after, times=1))
            desc += f" {seconds} s after {after}"
        elif kind in ("sigkill", "fb_restart"):
            # Slow every call a little so that the moment falls inside the work, not after it.
            env.state.add_fault(Fault(method="*", kind="latency", seconds=0.05, times=0))
            desc += f" at {delay:.2f} s"
        self.log.append(f"run {index}: {desc}")

        proc = env.spawn("send")
        restarter = None
        if kind == "sigkill":
            time.sleep(delay)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            else:
                self.log[-1] += " (finished before the kill)"
        elif kind == "fb_restart":
            restarter = threading.Thread(target=self._restart_after, args=(delay,), daemon=True)
            restarter.start()
        try:
            out, err = proc.communicate(timeout=AGENT_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"the agent did not finish within {AGENT_TIMEOUT} s\n{out}\n{err}") from None
        if restarter is not None:
            restarter.join(60)
        env.state.clear_faults()
        env.state.unblock()
        self.log[-1] += f" → exit {proc.returncode}"
        if proc.returncode not in (0, 1, 2, -signal.SIGKILL) or "Traceback" in err:
            raise AssertionError(f"run {index}: unexpected exit {proc.returncode}\n{out}\n{err}")

    def _restart_after(self, delay: float) -> None:
        time.sleep(delay)
        self.fb.restart()

    def settle(self) -> None:
        """Runs without faults until nothing is left that a run could still send."""
        for attempt in range(4):
            result = self.env.cli("send", timeout=AGENT_TIMEOUT)
            self.log.append(f"settle {attempt}: exit {result.returncode}")
            assert result.returncode in (0, 1), result.stdout + result.stderr
            if "Traceback" in result.stderr:
                raise AssertionError(result.stderr)
            if result.returncode == 0:
                return
            # exit 1 with nothing sent, nothing deferred, no abort: only failures a further run
            # would repeat (the documents built to fail) are left
            out = result.stdout
            if not any(" wysłano" in line for line in out.splitlines()) and "odłożono:" in out \
                    and "odłożono: 0" in out and "Przerwano" not in out:
                return
            if "odłożono: 0" not in out:  # e.g. a create that timed out: wait out its quarantine
                time.sleep(QUARANTINE + 0.5)


def _reconnecting(env, action) -> None:
    """Run ``action``; once more on a fresh connection if the server was restarted under us
    (by this soak, or by another test session sharing the Firebird server)."""
    try:
        action()
    except fdb.DatabaseError as exc:
        if "-902" not in str(exc) and "connection" not in str(exc).lower():
            raise
        env.close()
        time.sleep(1.0)
        action()


def test_soak_random_faults(export_env, firebird_server, monkeypatch):
    monkeypatch.setenv("RAKSBL_TEST_LATE_CREATE_QUARANTINE", str(QUARANTINE))  # inherited by the agents
    seed = int(os.environ.get("RAKSBL_SOAK_SEED") or random.SystemRandom().randrange(1, 10**9))
    print(f"\nsoak seed {seed} ({RUNS} runs) — replay: RAKSBL_SOAK_SEED={seed} RAKSBL_SOAK_RUNS={RUNS}")
    env = export_env
    env.state.configure(block_seconds=2)
    env.configure(
        raks__document_types=["FS", "PA", "KS"],
        baselinker__timeout_seconds=CLIENT_TIMEOUT,
        baselinker__number_field=f"custom:{CUSTOM_FIELD}",
        baselinker__order_status_on_success=ORDER_STATUS_SENT,
    )
    rng = random.Random(seed)
    log: list[str] = []
    soak = Soak(env, firebird_server, rng, log)
    try:
        for _ in range(4):
            soak.add("FS")
        for _ in range(3):
            soak.add("PA")
        soak.add("FS", status=STATUS_NEW)
        soak.add("FS", broken="no_order")
        soak.add("PA", broken="missing_order")
        soak.add_correction()
        soak.add_correction()
        for index in range(RUNS):
            soak.run(index)
            env.close()  # a restart broke our own connection; reconnect lazily
            _reconnecting(env, lambda: assert_invariants(env, soak.docs, final=False, context=f"after run {index}"))
            _reconnecting(env, soak.mutate)
        soak.settle()
        assert_invariants(env, soak.docs, final=True, context="after the settle runs")
        sent = [d for d in soak.docs if env.status(d.doc_type, d.raks_id) == STATUS_SENT]
        assert len(sent) >= 7, "the soak sent almost nothing: the schedule is not testing anything"
    except BaseException:
        print(f"\nSOAK FAILED — seed {seed}; replay: RAKSBL_SOAK_SEED={seed} RAKSBL_SOAK_RUNS={RUNS}")
        print("\n".join(log[-40:]))
        raise
