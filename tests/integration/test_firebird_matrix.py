"""The engine matrix: the ``firebird_matrix`` tests again, in child pytest sessions, with

* **Firebird 5 embedded** (``fb5-embedded``): the ``firebird-embedded`` wheel's engine and
  client; ``company_db`` databases are bare paths; the ``firebird5`` tests (Firebird 4+ types
  through profile statements, ``inspect-db`` type names) run here too;
* **the Firebird 5 client against the Firebird 3 server over TCP** (``fb3-server``): a newer
  client reaching an older server, which is what the client shipped in the bundle does at a
  customer's (and the legacy binds must not be sent to a server older than 4).

fdb loads one client library per process, hence the child sessions (tests/support/firebird5.py).
The child's pytest output is shown when it fails.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import firebird5

ROOT = Path(__file__).resolve().parents[2]


def _run_child(engine: str, marker: str, tmp_path: Path) -> str:
    lock_dir = tmp_path / "fb-lock"
    lock_dir.mkdir()
    env = firebird5.child_env(engine, lock_dir)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", marker,
           "-o", "addopts=-ra", "tests/integration"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd)} ({engine}) failed:\n{output[-20000:]}"
    return output


def _count(output: str, word: str) -> int:
    m = re.search(rf"(\d+) {word}", output)
    return int(m.group(1)) if m else 0


def _matrix_size() -> int:
    """How many firebird_matrix tests this session collects (the children must run them all)."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           "-m", "firebird_matrix", "tests/integration"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    return sum(1 for line in proc.stdout.splitlines() if "::" in line)


@pytest.fixture(scope="module")
def matrix_size() -> int:
    n = _matrix_size()
    assert n >= 20, "the repository and export tests should be marked firebird_matrix"
    return n


def test_firebird5_embedded(tmp_path, matrix_size):
    output = _run_child(firebird5.FB5_EMBEDDED, "firebird_matrix or firebird5", tmp_path)
    assert _count(output, "passed") >= matrix_size + 8, output[-3000:]   # + the firebird5 type tests
    assert _count(output, "skipped") == 0, output[-3000:]


def test_firebird5_client_against_the_firebird3_server(tmp_path, matrix_size):
    output = _run_child(firebird5.FB3_SERVER, "firebird_matrix", tmp_path)
    assert _count(output, "passed") == matrix_size, output[-3000:]
    assert _count(output, "skipped") == 0, output[-3000:]
