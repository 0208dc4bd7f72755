"""Two agents (two processes, each with its own journal) on the same RaksSQL database and the same
BaseLinker account at the same time. Neither knows what the other did: only the RaksSQL row
locks, the conditional status update and BaseLinker's own state stand between them and a
duplicate. Every call is slowed down so that their runs really overlap."""

from __future__ import annotations

import random
import subprocess
import time

from agent.sandbox import Fault
from tests.faults.invariants import STATUS_SENT, Tracked, assert_invariants
from tests.support.export_env import CUSTOM_FIELD

AGENT_TIMEOUT = 180


def _number(env, raks_id: int) -> str:
    cur = env.conn.cursor()
    cur.execute("SELECT NUMER FROM GM_FS WHERE ID = ?", (raks_id,))
    number = cur.fetchone()[0]
    cur.close()
    env.conn.commit()
    return number


def _spawn(env, data_dir):
    return env.spawn("send", extra_env={"RAKSBL_DATA_DIR": str(data_dir)})


def _finish(proc) -> tuple[int, str, str, float]:
    try:
        out, err = proc.communicate(timeout=AGENT_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"agent did not finish within {AGENT_TIMEOUT} s\n{out}\n{err}") from None
    assert "Traceback" not in err, err
    assert proc.returncode in (0, 1), out + err
    return proc.returncode, out, err, time.monotonic()


def test_two_agents_at_once_send_every_document_exactly_once(export_env):
    env = export_env
    env.configure(baselinker__number_field=f"custom:{CUSTOM_FIELD}")
    dirs = [env.tmp / "agent-a", env.tmp / "agent-b"]
    for d in dirs:
        d.mkdir()
    journals = [d / "journal.sqlite3" for d in dirs]
    rng = random.Random(4242)
    docs: list[Tracked] = []
    sent_by = [0, 0]
    for round_no in range(3):
        for _ in range(14):
            doc_type = rng.choice(["FS", "FS", "PA"])
            raks_id, order_id = env.add_doc(doc_type, total=f"{rng.randrange(100, 99999) / 100:.2f}")
            docs.append(Tracked(doc_type, raks_id, order_id, _number(env, raks_id)))
        # Every call takes 30-60 ms: both runs take seconds and interleave call by call.
        env.state.set_faults([Fault(method="*", kind="latency", seconds=rng.choice([0.03, 0.06]), times=0)])
        procs = [_spawn(env, dirs[0])]
        time.sleep(rng.uniform(0.0, 0.3))
        procs.append(_spawn(env, dirs[1]))
        results = [_finish(p) for p in procs]
        env.state.clear_faults()
        for i, (_, out, _, _) in enumerate(results):
            sent_by[i] += sum(1 for line in out.splitlines() if " wysłano" in line)
        assert_invariants(env, docs, final=False, journals=journals, context=f"round {round_no}")

    # Whatever one agent deferred (locked by the other), a later run of either sends.
    for attempt in range(3):
        for d in dirs:
            result = env.cli("send", extra_env={"RAKSBL_DATA_DIR": str(d)})
            assert result.returncode in (0, 1), result.stdout + result.stderr
    assert_invariants(env, docs, final=True, journals=journals, context="after the settle runs")
    assert all(env.status(d.doc_type, d.raks_id) == STATUS_SENT for d in docs)
    # Both agents really worked (the test would prove nothing if one always found nothing to do).
    assert sent_by[0] > 0 and sent_by[1] > 0, sent_by
    creates = [c for c in env.state.write_calls() if c.method in ("addInvoice", "addReceipt")]
    assert len(creates) == len(docs)  # not one create more than documents


def test_two_agents_with_lost_answers_make_no_duplicate(export_env):
    """The same, with lost create answers on both sides: the lookup after a lost answer must not
    adopt (or miss) a document the *other* agent is creating for the same order at that moment."""
    env = export_env
    dirs = [env.tmp / "agent-a", env.tmp / "agent-b"]
    for d in dirs:
        d.mkdir()
    journals = [d / "journal.sqlite3" for d in dirs]
    docs: list[Tracked] = []
    for i in range(20):
        doc_type = "FS" if i % 3 else "PA"
        raks_id, order_id = env.add_doc(doc_type)
        docs.append(Tracked(doc_type, raks_id, order_id, _number(env, raks_id)))
    env.state.set_faults([
        Fault(method="addInvoice", kind="drop_after_commit", after=1, times=3),
        Fault(method="addReceipt", kind="drop_after_commit", after=0, times=2),
        Fault(method="*", kind="latency", seconds=0.04, times=0),
    ])
    procs = [_spawn(env, d) for d in dirs]
    for p in procs:
        _finish(p)
    env.state.clear_faults()
    assert_invariants(env, docs, final=False, journals=journals, context="after the overlapping runs")
    for d in dirs:
        result = env.cli("send", extra_env={"RAKSBL_DATA_DIR": str(d)})
        assert result.returncode in (0, 1), result.stdout + result.stderr
    assert_invariants(env, docs, final=True, journals=journals, context="after the settle runs")
    assert all(env.status(d.doc_type, d.raks_id) == STATUS_SENT for d in docs)
