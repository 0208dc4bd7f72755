"""Errors of the RaksSQL side (re-exported by :mod:`agent.raks.repository`).

They live in their own module so that :mod:`agent.raks.profile` and
:mod:`agent.raks.connection` can raise them without importing the repository.
"""

from __future__ import annotations

from agent.errors import ConfigError, RaksblError, RunAborted


class RaksConnectionError(RunAborted):
    """Cannot connect to the RaksSQL database, or the connection was lost midway."""


class DatabaseReadOnly(RunAborted):
    """The RaksSQL database is read-only: the agent cannot lock documents nor set their status."""


class RowLocked(RaksblError):
    """The document row is locked by someone else (RaksSQL user, another agent): retry next run."""


class ProfileError(ConfigError):
    """An SQL statement of the profile is invalid or failed; ``key`` is ``raks.queries.<name>``."""

    def __init__(self, message: str, key: str | None = None, statement: str | None = None):
        super().__init__(message, key)
        self.statement = statement
