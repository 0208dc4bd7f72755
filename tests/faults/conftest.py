"""Fault suite: real Firebird server + BaseLinker sandbox over HTTP + the agent as a real process.

Reuses the ``export_env`` fixture of the integration tests (one definition, one behaviour).
"""

from tests.integration.conftest import export_env  # noqa: F401  (re-exported fixture)
