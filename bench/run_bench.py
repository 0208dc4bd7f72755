"""Export benchmark: calls per document, use of the request budget, CPU, wall time, memory.

    .venv/bin/python -m bench.run_bench [--docs 300] [--rpm 600] [--number-field on|off|both]
                                        [--pdf-kb 40] [--pdf-mb 20] [--json FILE]
    .venv/bin/python -m bench.run_bench --two-companies [--docs 150] [--rpm 600]

What it does (everything self-contained in a temporary directory, no Firebird server needed):

1. builds an *embedded* Firebird company database (``agent.raks.schema``) with ``--docs``
   invoices (status "to send", each with a PDF of about ``--pdf-kb`` KiB) and a BaseLinker
   sandbox (over real HTTP, in this process) holding the matching orders; the sandbox's rate
   limit is set to ``--rpm`` and so is the agent's ``requests_per_minute`` (scaled together so
   300 documents take a couple of minutes instead of ten);
2. runs ONE real export in a child process, exactly as a user would: ``python -m agent send``
   (settings file, secrets from the environment), and measures the child with ``os.wait4``:
   CPU time (user + system) and peak RSS (``ru_maxrss``, the kernel's high-water mark);
3. reads the sandbox's call log and prints: API calls per document (and per method),
   achieved requests/min ÷ budget, the largest count in any 60 s window ÷ budget, block
   errors, CPU ms per document, wall time per document, peak RSS; then checks the result
   (every document status 3, exactly one invoice with our number and the PDF on each order).
   Done with number write-back on (``number_field = custom:135``) and off.
4. the large-PDF case: one invoice whose PDF is ``--pdf-mb`` MiB of incompressible data; the
   peak RSS of that export minus the peak RSS of the identical export with a tiny PDF (same
   code path, same libraries loaded: the difference is what the PDF itself costs), ÷ the PDF
   size. Target < 6.

``--two-companies`` runs instead the case of two companies (two databases, ``--docs`` invoices
each) on ONE token: sklep-a sets ``requests_per_minute`` to the sandbox's budget, sklep-b to
1000 (the most allowed); one budget must hold for both (max in any 60 s window ÷ budget ≤ 1, no block).

Exit status 0 when every target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

TOKEN = "bench-token-0123456789"
TOKEN_B = "bench-token-b-9876543210"  # the second account of the two-tokens case
PASSWORD = "masterkey"
INVOICE_SERIES = 15
CUSTOM_FIELD = 135
ORDER_STATUS_NEW = 3000
AGENT_TIMEOUT = 3600

TARGET_CALLS_ON = 4.15  # issue 9: + one confirming lookup per created document
TARGET_CALLS_OFF = 3.15
TARGET_UTILISATION = 0.95
TARGET_PDF_RATIO = 6.0
HIGHER_RPM = 1000  # the two-companies case: sklep-b's requests_per_minute, above the budget


# -- building the data -------------------------------------------------------------------------

def padded_pdf(text: str, size: int, rng: random.Random) -> bytes:
    """A valid small PDF followed by a comment block of random bytes up to ``size`` bytes.

    Random bytes are incompressible and give a base64 text with the usual share of '+' and '/'
    (which the form encoding must turn into %2B / %2F): the worst case for the encoder.
    """
    from agent.raks.schema import make_pdf

    pdf = make_pdf(text)
    if size <= len(pdf):
        return pdf
    filler = rng.randbytes(size - len(pdf) - 2)
    return pdf + b"%" + filler + b"\n"


@dataclass
class Workspace:
    root: Path
    db_path: Path
    settings_path: Path
    data_dir: Path
    lock_dir: Path
    state: object = None
    server: object = None
    docs: list = field(default_factory=list)  # (raks_id, order_id, number)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            RAKSBL_CONFIG=str(self.settings_path),
            RAKSBL_DATA_DIR=str(self.data_dir),
            RAKSBL_BASELINKER_TOKEN=TOKEN,
            RAKSBL_RAKS_PASSWORD=PASSWORD,
            FIREBIRD_LOCK=str(self.lock_dir),
            PYTHONPATH=str(REPO_ROOT),
        )
        env.pop("RAKSBL_CRASH_AT", None)
        return env

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def build(name: str, *, docs: int, rpm: int, number_field: str, pdf_sizes: list[int], seed: int = 1) -> Workspace:
    from agent.sandbox import SandboxServer, SandboxState
    from agent.settings import write_default_settings

    root = Path(tempfile.mkdtemp(prefix=f"raksbl-bench-{name}-"))
    ws = Workspace(root, root / "F00001.fdb", root / "raksbl.toml", root / "data", root / "fb-lock")
    ws.data_dir.mkdir()
    ws.lock_dir.mkdir()
    rng = random.Random(seed)

    state = SandboxState(token=TOKEN, requests_per_minute=rpm, block_seconds=120)
    state.add_series(INVOICE_SERIES, "INVOICE", "Faktury", "%N/%M/%Y")
    state.add_order_status(ORDER_STATUS_NEW, "Nowe")
    state.add_extra_field(CUSTOM_FIELD, "Numer z RaksSQL")
    ws.state = state
    ws.docs = fill_database(ws.db_path, state, docs=docs, pdf_sizes=pdf_sizes, rng=rng)

    ws.server = SandboxServer(state).start()
    write_default_settings(
        ws.settings_path,
        **{
            "baselinker.api_url": ws.server.url,
            "baselinker.requests_per_minute": rpm,
            "baselinker.invoice_series_id": INVOICE_SERIES,
            "baselinker.number_field": number_field,
            "raks.database": str(ws.db_path),
            "raks.user": "SYSDBA",
            "raks.document_types": ["FS"],
        },
    )
    return ws


def fill_database(db_path: Path, state, *, docs: int, pdf_sizes: list[int], rng: random.Random) -> list:
    """An embedded company database with ``docs`` invoices to send, their orders in ``state``."""
    from agent.raks import schema

    made = []
    schema.create_company_database(str(db_path), "SYSDBA", PASSWORD)
    conn = schema.connect(str(db_path), "SYSDBA", PASSWORD)
    try:
        for i in range(docs):
            total = Decimal(rng.randrange(1000, 500000)) / 100
            nip = str(rng.randrange(10**9, 10**10)) if i % 2 else ""
            order_id = state.add_order(
                invoice_company="Firma Testowa" if nip else "", invoice_fullname="" if nip else "Jan Kowalski",
                invoice_nip=nip, currency="PLN", order_status_id=ORDER_STATUS_NEW,
                products=[{"name": "Towar", "sku": "T1", "price_brutto": float(total), "quantity": 1, "tax_rate": 23}],
            )
            number = f"FS {i + 1}/11/2026/MAG"
            size = pdf_sizes[i % len(pdf_sizes)]
            pdf = padded_pdf(f"Faktura VAT {number}\n{total} PLN", size, rng)
            raks_id = schema.add_document(conn, doc_type="FS", number=number, total_gross=total, buyer_nip=nip,
                                          sygnatura=f"BL {order_id}", pdf=pdf)
            made.append((raks_id, order_id, number))
    finally:
        conn.close()
    return made


# -- running the agent ---------------------------------------------------------------------------

@dataclass
class AgentRun:
    returncode: int
    stdout: str
    stderr: str
    wall: float
    cpu: float  # user + system seconds of the child
    maxrss: int  # bytes (kernel high-water mark)
    started: float
    finished: float


def run_agent(args: list[str], env: dict[str, str], timeout: float = AGENT_TIMEOUT) -> AgentRun:
    """Run ``python -m agent <args>`` through :mod:`bench._measure` (CPU time and peak RSS of
    that process alone, from ``wait4``; see there why a launcher is needed)."""
    with tempfile.TemporaryDirectory(prefix="raksbl-bench-run-") as tmp:
        report = Path(tmp) / "rusage.json"
        proc = subprocess.run(
            [sys.executable, "-m", "bench._measure", str(report), sys.executable, "-m", "agent", *args],
            env=env, cwd=REPO_ROOT, capture_output=True, timeout=timeout,
        )
        if not report.exists():
            raise RuntimeError(f"the measuring launcher failed: {proc.stderr.decode('utf-8', 'replace')[-2000:]}")
        data = json.loads(report.read_text())
    return AgentRun(
        returncode=data["returncode"],
        stdout=proc.stdout.decode("utf-8", "replace"),
        stderr=proc.stderr.decode("utf-8", "replace"),
        wall=data["finished"] - data["started"],
        cpu=data["cpu"],
        maxrss=data["maxrss"],
        started=data["started"],
        finished=data["finished"],
    )


# -- analysis ------------------------------------------------------------------------------------

def window_stats(times: list[float], budget: int, window: float = 60.0) -> dict:
    """Request-rate figures from the sandbox's arrival times.

    * ``max_window``: the most requests in any ``window`` seconds, as the sandbox counts them
      (must stay ≤ budget, else the token gets blocked);
    * ``utilisation``: the mean, over every 60 s window lying wholly inside the run (window
      starts sampled every 0.25 s), of requests in it ÷ budget: how much of the budget a
      sustained backlog really uses;
    * ``first_to_last``: (n - 1) / (last - first) per minute ÷ budget. For a run of only one
      or two minutes this exceeds 1: the first minute starts with a full budget (a burst);
      it converges to ``utilisation`` for long runs.
    """
    times = sorted(times)
    n = len(times)
    out = {"calls": n, "max_window": 0, "utilisation": None, "first_to_last": None, "span": 0.0}
    if not n:
        return out
    j = 0
    best = 0
    for i, t in enumerate(times):  # the count in (t - window, t]
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    out["max_window"] = best
    span = times[-1] - times[0]
    out["span"] = span
    if n > 1 and span > 0:
        out["first_to_last"] = (n - 1) / span * 60.0 / budget
    if span > window:
        import bisect

        samples = []
        start = times[0]
        while start + window <= times[-1]:
            count = bisect.bisect_left(times, start + window) - bisect.bisect_left(times, start)
            samples.append(count / budget)
            start += 0.25
        out["utilisation"] = sum(samples) / len(samples)
    return out


def verify(ws: Workspace, db_path: Path | None = None, docs: list | None = None, state=None) -> list[str]:
    """Every document status 3; each order exactly one invoice carrying our number and a file
    (in ``state``: the sandbox account of that database's company, ``ws.state`` by default)."""
    from agent.raks import schema

    problems = []
    conn = schema.connect(str(db_path or ws.db_path), "SYSDBA", PASSWORD)
    try:
        for raks_id, order_id, number in (ws.docs if docs is None else docs):
            status = schema.document_status(conn, "FS", raks_id)
            invoices = [i for i in (state or ws.state).invoices_for_order(order_id) if i.get("type", "normal") == "normal"]
            if status != 3:
                problems.append(f"{number}: status {status}")
            if len(invoices) != 1:
                problems.append(f"{number}: {len(invoices)} invoices on order {order_id}")
            elif invoices[0].get("external_invoice_number") != number or not invoices[0].get("file"):
                problems.append(f"{number}: invoice without our number/file")
    finally:
        conn.close()
    return problems


def backlog(docs: int, rpm: int, number_field: str, pdf_kb: int) -> dict:
    label = "on" if number_field != "none" else "off"
    print(f"\n== backlog: {docs} invoices, budget {rpm}/min, number write-back {label} ({number_field})", flush=True)
    t0 = time.time()
    ws = build(f"nf-{label}", docs=docs, rpm=rpm, number_field=number_field, pdf_sizes=[pdf_kb * 1024])
    try:
        print(f"   built in {time.time() - t0:.1f} s; running: python -m agent send", flush=True)
        run = run_agent(["send"], ws.env())
        calls = ws.state.calls
        by_method = Counter(c.method for c in calls)
        blocks = sum(1 for c in calls if c.error_code in ("ERROR_BLOCKED_TOKEN", "ERROR_USER_ACCOUNT_BLOCKED"))
        errors = Counter(c.error_code for c in calls if c.status != "SUCCESS")
        stats = window_stats([c.time for c in calls], rpm)
        problems = verify(ws)
        result = {
            "docs": docs,
            "rpm": rpm,
            "number_field": number_field,
            "pdf_kb": pdf_kb,
            "returncode": run.returncode,
            "calls": len(calls),
            "calls_per_doc": len(calls) / docs,
            "by_method": dict(sorted(by_method.items())),
            "block_errors": blocks,
            "other_errors": {str(k): v for k, v in errors.items() if k not in ("ERROR_BLOCKED_TOKEN",)},
            **{k: stats[k] for k in ("max_window", "utilisation", "first_to_last", "span")},
            "max_window_ratio": stats["max_window"] / rpm,
            "cpu_s": run.cpu,
            "cpu_ms_per_doc": run.cpu * 1000 / docs,
            "wall_s": run.wall,
            "wall_ms_per_doc": run.wall * 1000 / docs,
            "peak_rss_mb": run.maxrss / 2**20,
            "problems": problems[:10],
            "problem_count": len(problems),
        }
        if run.returncode != 0 or problems:
            print(run.stdout[-3000:], run.stderr[-3000:], sep="\n")
        target = TARGET_CALLS_ON if label == "on" else TARGET_CALLS_OFF
        util = result["utilisation"]
        print(f"   exit code {run.returncode}; correctness: {'OK' if not problems else f'{len(problems)} PROBLEMS'}")
        print(f"   API calls: {len(calls)} = {result['calls_per_doc']:.3f} per document (target ≤ {target})")
        print(f"   by method: {', '.join(f'{m} {n}' for m, n in result['by_method'].items())}")
        print(f"   block errors: {blocks}" + (f"; other errors: {result['other_errors']}" if result["other_errors"] else ""))
        print(f"   budget use: mean over 60 s windows {util * 100 if util is not None else float('nan'):.1f} % "
              f"(target ≥ {TARGET_UTILISATION * 100:.0f} %); max in any 60 s window {stats['max_window']}/{rpm} "
              f"= {result['max_window_ratio']:.3f} (must be ≤ 1); first→last call "
              f"{(stats['first_to_last'] or 0) * 100:.1f} % over {stats['span']:.1f} s")
        print(f"   CPU {run.cpu:.2f} s = {result['cpu_ms_per_doc']:.1f} ms per document; wall {run.wall:.1f} s = "
              f"{result['wall_ms_per_doc']:.0f} ms per document; peak RSS {result['peak_rss_mb']:.1f} MiB", flush=True)
        result["ok"] = (
            run.returncode == 0 and not problems and blocks == 0 and result["calls_per_doc"] <= target
            and result["max_window_ratio"] <= 1.0 and (util is None or util >= TARGET_UTILISATION)
        )
        return result
    finally:
        ws.close()


def two_companies_one_token(docs: int, rpm: int, pdf_kb: int) -> dict:
    """Two companies (two databases, ``docs`` invoices each) on ONE BaseLinker token: the
    sandbox's budget is ``rpm``; sklep-a sets ``requests_per_minute = rpm`` (the ceiling),
    sklep-b the most the settings allow (``HIGHER_RPM``). The run must use the lowest for both, as one budget: never above it
    in any 60 s window, no block."""
    from agent.sandbox import SandboxServer

    print(f"\n== two companies on one token: {docs} invoices each, budget {rpm}/min "
          f"(sklep-a {rpm}/min, sklep-b {HIGHER_RPM}/min), number write-back off", flush=True)
    t0 = time.time()
    ws = build("companies", docs=0, rpm=rpm, number_field="none", pdf_sizes=[pdf_kb * 1024])
    try:
        rng = random.Random(3)
        companies = []
        for name, company_rpm in (("sklep-a", rpm), ("sklep-b", HIGHER_RPM)):
            db_path = ws.root / f"{name}.fdb"
            companies.append((name, company_rpm, db_path,
                              fill_database(db_path, ws.state, docs=docs, pdf_sizes=[pdf_kb * 1024], rng=rng)))
        assert isinstance(ws.server, SandboxServer)
        lines = ["[sync]", "auto = false", ""]
        for name, company_rpm, db_path, _ in companies:
            lines += ["[[company]]", f'name = "{name}"', "[company.baselinker]", f'api_url = "{ws.server.url}"',
                      f"requests_per_minute = {company_rpm}", f"invoice_series_id = {INVOICE_SERIES}",
                      "[company.raks]", f"database = '{db_path}'", 'user = "SYSDBA"', 'document_types = ["FS"]', ""]
        ws.settings_path.write_text("\n".join(lines), encoding="utf-8")
        total_docs = docs * len(companies)
        print(f"   built in {time.time() - t0:.1f} s; running: python -m agent send", flush=True)
        run = run_agent(["send"], ws.env())  # RAKSBL_BASELINKER_TOKEN: the shared token of both
        calls = ws.state.calls
        blocks = sum(1 for c in calls if c.error_code in ("ERROR_BLOCKED_TOKEN", "ERROR_USER_ACCOUNT_BLOCKED"))
        stats = window_stats([c.time for c in calls], rpm)
        problems = [p for _, _, db_path, made in companies for p in verify(ws, db_path, made)]
        result = {
            "docs_per_company": docs, "companies": len(companies), "rpm": rpm, "returncode": run.returncode,
            "calls": len(calls), "calls_per_doc": len(calls) / total_docs, "block_errors": blocks,
            **{k: stats[k] for k in ("max_window", "utilisation", "first_to_last", "span")},
            "max_window_ratio": stats["max_window"] / rpm, "wall_s": run.wall,
            "problems": problems[:10], "problem_count": len(problems),
        }
        if run.returncode != 0 or problems:
            print(run.stdout[-3000:], run.stderr[-3000:], sep="\n")
        util = result["utilisation"]
        print(f"   exit code {run.returncode}; correctness: {'OK' if not problems else f'{len(problems)} PROBLEMS'}")
        print(f"   API calls: {len(calls)} = {result['calls_per_doc']:.3f} per document; block errors: {blocks}")
        print(f"   budget use: mean over 60 s windows {util * 100 if util is not None else float('nan'):.1f} %; "
              f"max in any 60 s window {stats['max_window']}/{rpm} = {result['max_window_ratio']:.3f} (must be ≤ 1); "
              f"wall {run.wall:.1f} s", flush=True)
        result["ok"] = run.returncode == 0 and not problems and blocks == 0 and result["max_window_ratio"] <= 1.0
        return result
    finally:
        ws.close()


def two_companies_two_tokens(docs: int, rpm: int, pdf_kb: int) -> dict:
    """Two companies (two databases, ``docs`` invoices each), each with ITS OWN BaseLinker
    account and token, both at the ceiling (``rpm``): one ``raksbl send`` runs them side by side,
    so each account's budget is used fully at the same time (wall ≈ one company's, not two),
    and neither account ever sees more than its budget in a 60 s window."""
    from agent.sandbox import SandboxServer, SandboxState

    print(f"\n== two companies on two tokens: {docs} invoices each, budget {rpm}/min per account, "
          "number write-back off", flush=True)
    t0 = time.time()
    ws = build("companies2", docs=0, rpm=rpm, number_field="none", pdf_sizes=[pdf_kb * 1024])
    state_b = SandboxState(token=TOKEN_B, requests_per_minute=rpm, block_seconds=120)
    state_b.add_series(INVOICE_SERIES, "INVOICE", "Faktury", "%N/%M/%Y")
    state_b.add_order_status(ORDER_STATUS_NEW, "Nowe")
    server_b = SandboxServer(state_b).start()
    try:
        rng = random.Random(5)
        companies = []
        for name, state, server in (("sklep-a", ws.state, ws.server), ("sklep-b", state_b, server_b)):
            db_path = ws.root / f"{name}.fdb"
            made = fill_database(db_path, state, docs=docs, pdf_sizes=[pdf_kb * 1024], rng=rng)
            companies.append((name, state, server, db_path, made))
        lines = ["[sync]", "auto = false", ""]
        for name, _, server, db_path, _ in companies:
            lines += ["[[company]]", f'name = "{name}"', "[company.baselinker]", f'api_url = "{server.url}"',
                      f"requests_per_minute = {rpm}", f"invoice_series_id = {INVOICE_SERIES}",
                      "[company.raks]", f"database = '{db_path}'", 'user = "SYSDBA"', 'document_types = ["FS"]', ""]
        ws.settings_path.write_text("\n".join(lines), encoding="utf-8")
        print(f"   built in {time.time() - t0:.1f} s; running: python -m agent send", flush=True)
        env = ws.env()
        env["RAKSBL_BASELINKER_TOKEN_SKLEP_B"] = TOKEN_B  # sklep-a uses the unsuffixed (shared) one
        run = run_agent(["send"], env)
        result = {"docs_per_company": docs, "companies": 2, "rpm": rpm, "returncode": run.returncode,
                  "wall_s": run.wall, "accounts": {}}
        problems = []
        for name, state, _, db_path, made in companies:
            calls = state.calls
            stats = window_stats([c.time for c in calls], rpm)
            blocks = sum(1 for c in calls if c.error_code in ("ERROR_BLOCKED_TOKEN", "ERROR_USER_ACCOUNT_BLOCKED",
                                                              "ERROR_AUTH_TOKEN"))
            problems += verify(ws, db_path, made, state)
            result["accounts"][name] = {
                "calls": len(calls), "calls_per_doc": len(calls) / docs, "block_or_auth_errors": blocks,
                "max_window": stats["max_window"], "max_window_ratio": stats["max_window"] / rpm,
                "first_call": min(c.time for c in calls), "last_call": max(c.time for c in calls),
            }
        a, b = result["accounts"]["sklep-a"], result["accounts"]["sklep-b"]
        # side by side: the two accounts' busy periods overlap (sequential runs would not)
        overlap = min(a["last_call"], b["last_call"]) - max(a["first_call"], b["first_call"])
        span = max(a["last_call"], b["last_call"]) - min(a["first_call"], b["first_call"])
        result.update(problem_count=len(problems), problems=problems[:10], overlap_s=overlap, span_s=span)
        if run.returncode != 0 or problems:
            print(run.stdout[-3000:], run.stderr[-3000:], sep="\n")
        print(f"   exit code {run.returncode}; correctness: {'OK' if not problems else f'{len(problems)} PROBLEMS'}")
        for name in ("sklep-a", "sklep-b"):
            acc = result["accounts"][name]
            print(f"   {name}: API calls {acc['calls']} = {acc['calls_per_doc']:.3f} per document; max in any 60 s "
                  f"window {acc['max_window']}/{rpm} = {acc['max_window_ratio']:.3f}; block/auth errors "
                  f"{acc['block_or_auth_errors']}")
        print(f"   both accounts busy at once for {overlap:.1f} s of {span:.1f} s; wall {run.wall:.1f} s", flush=True)
        result["ok"] = (run.returncode == 0 and not problems and overlap > 0.8 * span
                        and all(acc["max_window_ratio"] <= 1.0 and acc["block_or_auth_errors"] == 0
                                for acc in result["accounts"].values()))
        return result
    finally:
        server_b.stop()
        ws.close()


def big_pdf(pdf_mb: float, rpm: int) -> dict:
    size = int(pdf_mb * 2**20)
    print(f"\n== one invoice with a {pdf_mb:g} MiB PDF (peak RSS of the agent process)", flush=True)
    out: dict = {"pdf_bytes": size}
    for name, pdf_size in (("small", 4096), ("big", size)):
        ws = build(f"pdf-{name}", docs=1, rpm=rpm, number_field="none", pdf_sizes=[pdf_size], seed=7)
        try:
            if name == "small":
                idle = run_agent(["--version"], ws.env())
                out["idle_rss_mb"] = idle.maxrss / 2**20
            run = run_agent(["send"], ws.env())
            problems = verify(ws)
            if run.returncode != 0 or problems:
                print(run.stdout[-3000:], run.stderr[-3000:], problems, sep="\n")
            if name == "big":
                stored = ws.state.invoice_file(ws.state.invoices_for_order(ws.docs[0][1])[0]["invoice_id"])
                out["uploaded_intact"] = stored is not None and len(stored) == size
            out[f"{name}_rss_mb"] = run.maxrss / 2**20
            out[f"{name}_ok"] = run.returncode == 0 and not problems
            out[f"{name}_cpu_s"] = run.cpu
            out[f"{name}_wall_s"] = run.wall
        finally:
            ws.close()
    extra = (out["big_rss_mb"] - out["small_rss_mb"]) * 2**20
    out["ratio"] = extra / size
    out["ratio_vs_idle"] = (out["big_rss_mb"] - out["idle_rss_mb"]) * 2**20 / size
    print(f"   peak RSS: `--version` {out['idle_rss_mb']:.1f} MiB; export with a 4 KiB PDF {out['small_rss_mb']:.1f} MiB; "
          f"export with the {pdf_mb:g} MiB PDF {out['big_rss_mb']:.1f} MiB")
    print(f"   above the same export with a tiny PDF: {extra / 2**20:.1f} MiB = {out['ratio']:.2f} × the PDF "
          f"(target < {TARGET_PDF_RATIO:g}); above `--version`: {out['ratio_vs_idle']:.2f} ×; "
          f"CPU {out['big_cpu_s']:.2f} s, wall {out['big_wall_s']:.1f} s; uploaded intact: {out['uploaded_intact']}",
          flush=True)
    out["ok"] = out["big_ok"] and out["small_ok"] and out["uploaded_intact"] and out["ratio"] < TARGET_PDF_RATIO
    return out


def machine() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in text.splitlines():
            if line.startswith("Model name:"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        import psutil

        info["ram_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    try:
        import fdb  # noqa: F401

        from agent.raks import schema

        root = Path(tempfile.mkdtemp(prefix="raksbl-bench-ver-"))
        try:
            path = root / "v.fdb"
            schema.create_company_database(str(path), "SYSDBA", PASSWORD)
            conn = schema.connect(str(path), "SYSDBA", PASSWORD)
            info["firebird"] = conn.db_info(fdb.isc_info_firebird_version)  # type: ignore[attr-defined]
            conn.close()
        finally:
            shutil.rmtree(root, ignore_errors=True)
    except Exception as exc:  # noqa: BLE001 - informational only
        info["firebird"] = f"? ({exc})"
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=300, help="invoices in the backlog (default 300)")
    parser.add_argument("--rpm", type=int, default=600,
                        help="requests per minute of both the sandbox and the agent (default 600; real API: 100)")
    parser.add_argument("--number-field", choices=("on", "off", "both"), default="both",
                        help="number write-back into a custom order field (default: both runs)")
    parser.add_argument("--pdf-kb", type=int, default=40, help="size of each backlog PDF in KiB (default 40)")
    parser.add_argument("--pdf-mb", type=float, default=20, help="size of the large-PDF case in MiB; 0 skips it")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--two-tokens", action="store_true",
                        help="run only the case of two companies on two tokens, side by side (--docs invoices each)")
    parser.add_argument("--two-companies", action="store_true",
                        help="run only the case of two companies on one token (--docs invoices each)")
    args = parser.parse_args(argv)

    # The embedded engine's lock files: a private directory per run (set before fdb loads).
    lock_root = Path(tempfile.mkdtemp(prefix="raksbl-bench-lock-"))
    os.environ["FIREBIRD_LOCK"] = str(lock_root)
    logging_quiet()

    results: dict = {"machine": machine(), "args": vars(args)}
    print("machine:", json.dumps(results["machine"], ensure_ascii=False))
    modes = {"on": ["custom:%d" % CUSTOM_FIELD], "off": ["none"], "both": ["custom:%d" % CUSTOM_FIELD, "none"]}
    ok = True
    for chosen, case in ((args.two_companies, two_companies_one_token), (args.two_tokens, two_companies_two_tokens)):
        if chosen:  # a companies case runs instead of the single-company backlog and the big PDF
            r = case(args.docs, args.rpm, args.pdf_kb)
            results[case.__name__] = r
            ok &= r["ok"]
            modes[args.number_field] = []
            args.pdf_mb = 0
    results["backlog"] = []
    for number_field in modes[args.number_field]:
        r = backlog(args.docs, args.rpm, number_field, args.pdf_kb)
        results["backlog"].append(r)
        ok &= r["ok"]
    if args.pdf_mb:
        r = big_pdf(args.pdf_mb, args.rpm)
        results["big_pdf"] = r
        ok &= r["ok"]
    shutil.rmtree(lock_root, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print("\nall targets met" if ok else "\nSOME TARGETS NOT MET", flush=True)
    return 0 if ok else 1


def logging_quiet() -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
