"""Typed exceptions shared by the core.

The split follows what the user has to do about an error:

* :class:`ConfigError` – the settings or a secret are wrong; nothing can run until fixed.
* :class:`RunAborted` – the run as a whole cannot go on (bad token, database unreachable).
* anything else derived from :class:`RaksblError` – concerns one document; the run goes on.

``str(error)`` is always a message a shop owner understands (Polish), never a traceback and
never a secret.
"""

from __future__ import annotations


class RaksblError(Exception):
    """Base of every error the agent reports to a user."""

    @property
    def user_message(self) -> str:
        return str(self)


class ConfigError(RaksblError):
    """A setting or secret is missing or invalid; ``key`` names it (e.g. ``raks.status_after_send``)."""

    def __init__(self, message: str, key: str | None = None, company: str = ""):
        super().__init__(message)
        self.key = key
        #: The [[company]] the setting belongs to ("" = the file's single company or a shared one).
        self.company = company

    @property
    def detail(self) -> str:
        """The message without its "Firma sklep-a: " opening, for a line that names the company."""
        text, opening = str(self), f"Firma {self.company}: "
        return text[len(opening):] if self.company and text.startswith(opening) else text


class RunAborted(RaksblError):
    """The whole run must stop: authentication failed, a connection is gone."""


class StorageError(RunAborted):
    """The agent's own files cannot be used (data folder without access, disk full, ...)."""


class Cancelled(RaksblError):
    """A wait was interrupted because the agent is stopping."""

    def __init__(self, message: str = "Przerwano na żądanie użytkownika."):
        super().__init__(message)
