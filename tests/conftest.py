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

# The engine matrix (tests/integration/test_firebird_matrix.py) reruns chosen tests in child
# sessions with the Firebird 5 client (RAKSBL_TEST_FB_CLIENT) and, for fb5-embedded, Firebird 5
# embedded databases instead of the server (tests/support/firebird5.py).

from tests.support import firebird5  # noqa: E402
from tests.support.firebird import CompanyDb, FirebirdServer, FirebirdUnavailable  # noqa: E402

firebird5.load_client_from_env()


def pytest_collection_modifyitems(config, items):
    """``firebird5`` tests need the Firebird 5 engine: they run in the matrix's child session."""
    if firebird5.current_engine() == firebird5.FB5_EMBEDDED:
        return
    keep = [item for item in items if item.get_closest_marker("firebird5") is None]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep


@pytest.fixture(scope="session")
def firebird_server() -> FirebirdServer:
    try:
        if firebird5.current_engine() == firebird5.FB5_EMBEDDED:
            server = firebird5.EmbeddedFirebird5.ensure()
        else:
            server = FirebirdServer.ensure()
    except (FirebirdUnavailable, firebird5.Firebird5Unavailable) as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.cleanup()


@pytest.fixture
def company_db(firebird_server: FirebirdServer) -> CompanyDb:
    db = firebird_server.new_database()
    yield db
    db.drop()

