"""Shared pytest fixtures. Each group is self-contained; add new groups below with a header."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:  # make `tests.support` importable however pytest is started
    sys.path.insert(0, str(_ROOT))


# --- Firebird (tests/support/firebird.py) ------------------------------------------------------
# firebird_server: session-wide real Firebird server on 127.0.0.1:3050 (started if needed).
# company_db:      a fresh WIN1250 default-layout RaksSQL database on it, per test.

from tests.support.firebird import CompanyDb, FirebirdServer, FirebirdUnavailable  # noqa: E402


@pytest.fixture(scope="session")
def firebird_server() -> FirebirdServer:
    try:
        server = FirebirdServer.ensure()
    except FirebirdUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.cleanup()


@pytest.fixture
def company_db(firebird_server: FirebirdServer) -> CompanyDb:
    db = firebird_server.new_database()
    yield db
    db.drop()

