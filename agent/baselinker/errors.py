"""Errors of the BaseLinker API, sorted by what the caller must do about them."""

from __future__ import annotations

from agent.errors import RaksblError, RunAborted


class BaseLinkerError(RaksblError):
    """An answer (or a missing answer) from BaseLinker that is not SUCCESS."""

    def __init__(self, message: str, *, code: str | None = None, method: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.method = method

    def __str__(self) -> str:  # what a user reads
        if self.code:
            return f"BaseLinker ({self.method}): {self.message} [{self.code}]"
        return f"BaseLinker ({self.method}): {self.message}"


class AuthError(BaseLinkerError, RunAborted):
    """The token is missing, wrong or the account is inactive: nothing will work until fixed."""


class BlockedError(BaseLinkerError):
    """The token (or account) is blocked for exceeding the request limit until ``until`` (epoch)."""

    def __init__(self, message: str, *, until: float, code: str | None = None, method: str = ""):
        super().__init__(message, code=code, method=method)
        self.until = until


class AccountBlockedError(BlockedError, RunAborted):
    """The whole BaseLinker account is blocked (``ERROR_USER_ACCOUNT_BLOCKED``).

    Seen to last more than a day: after one capped wait the run ends with this plain message
    instead of waiting block after block.
    """

    def __str__(self) -> str:
        return (f"konto BaseLinker jest zablokowane (BaseLinker: {self.message}) — takiej blokady nie da się "
                "przeczekać; sprawdź konto w panelu BaseLinker lub skontaktuj się z pomocą techniczną BaseLinker. "
                "Spróbuję ponownie przy następnym uruchomieniu")


class ApiRefusal(BaseLinkerError):
    """BaseLinker refused this request (bad order, series, field ...): concerns one document."""


class TransportError(BaseLinkerError):
    """No usable answer: connection error, timeout, reset, 5xx or a body that is not JSON.

    ``may_have_executed`` is False only when the request certainly never reached BaseLinker
    (e.g. connection refused); then even a create call may be sent again.
    ``may_still_run`` is True when we stopped waiting while BaseLinker may still be working on
    the request (our read timeout, a gateway timeout): its effect can appear later.
    """

    def __init__(self, message: str, *, may_have_executed: bool = True, may_still_run: bool = False,
                 method: str = ""):
        super().__init__(message, method=method)
        self.may_have_executed = may_have_executed
        self.may_still_run = may_still_run
