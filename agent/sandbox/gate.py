"""The sandbox's gate: what stands between a request and the account.

In this order: the token (``ERROR_EMPTY_TOKEN`` / ``ERROR_AUTH_TOKEN``), the block and the
sliding 60 s rate window (``ERROR_BLOCKED_TOKEN``), the method name (``ERROR_UNKNOWN_METHOD``)
and the ``parameters`` JSON (``ERROR_BAD_PARAMETERS``); then the method runs (:mod:`.methods`).
The gate also keeps the injected faults (:mod:`.faults`; the HTTP layer plays the transport
ones) and the call log (:class:`CallRecord`) tests assert on.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable

from .account import warsaw_time
from .errors import (
    ERROR_AUTH_TOKEN, ERROR_BAD_PARAMETERS, ERROR_BLOCKED_TOKEN, ERROR_EMPTY_TOKEN, ERROR_UNKNOWN_METHOD, ApiError,
)
from .faults import Fault
from .methods import METHODS

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0


def block_message(until: float) -> str:
    """The real API's wording; the time is Europe/Warsaw local time, whole seconds."""
    return f"Query limit exceeded, token blocked until {warsaw_time(until):%Y-%m-%d %H:%M:%S}"


@dataclass(frozen=True)
class CallRecord:
    """One API request as the sandbox saw it.

    ``status`` is what the client got: ``SUCCESS``/``ERROR`` (an envelope), ``DROPPED`` (the
    connection was closed without an answer) or ``HTTP500`` (a 5xx page). ``executed`` is True
    when the method itself ran (past token, rate limit and parameter decoding); ``succeeded``
    when it ran and returned SUCCESS, i.e. its changes are committed, even if the answer was
    then dropped. ``fault`` names the injected fault kind, if any.
    """

    method: str
    time: float
    status: str
    error_code: str | None
    executed: bool
    succeeded: bool
    fault: str | None = None

    @property
    def is_write(self) -> bool:
        return self.method.startswith(("add", "set"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Gate:
    """Token, rate window, faults and call log of one account (see the module docstring)."""

    lock: threading.RLock
    clock: Callable[[], float]
    token: str
    requests_per_minute: int
    block_seconds: float
    window_seconds: float  # the rate window: WINDOW_SECONDS, shorter only in tests

    def reset_gate(self) -> None:
        """Forget faults, calls and the rate-limit state."""
        with self.lock:
            self._faults: list[Fault] = []
            self._calls: list[CallRecord] = []
            self._window: deque[float] = deque()
            self._blocked_until: float | None = None

    def set_faults(self, faults: Iterable[Fault]) -> None:
        faults = list(faults)
        if not all(isinstance(f, Fault) for f in faults):
            raise TypeError("set_faults() takes Fault objects")
        with self.lock:
            self._faults = faults

    def add_fault(self, fault: Fault) -> None:
        if not isinstance(fault, Fault):
            raise TypeError("add_fault() takes a Fault")
        with self.lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self.lock:
            self._faults = []

    @property
    def faults(self) -> list[Fault]:
        with self.lock:
            return list(self._faults)

    def take_fault(self, method: str) -> Fault | None:
        """Count an arriving API request against the faults; return the one that fires, if any."""
        with self.lock:
            fired: Fault | None = None
            for fault in self._faults:
                if fault.observe(method, already_fired=fired is not None):
                    fired = fault
            return fired

    def record_fault_without_execution(self, method: str, fault: Fault) -> dict[str, Any] | None:
        """Record a request that a fault stopped before execution.

        For ``block`` this also blocks the token and returns the envelope to send; for
        ``http_500`` / ``reset_before`` it returns None (the transport answers).
        """
        with self.lock:
            now = self.clock()
            if fault.kind == "api_error":
                envelope = ApiError(fault.error_code, fault.error_message).envelope()
                self._record(method, now, envelope, executed=False, fault=fault.kind)
                return envelope
            if fault.kind == "account_block":
                until = f" until {block_message(now + fault.seconds).split('until ')[-1]}" if fault.seconds else ""
                envelope = ApiError("ERROR_USER_ACCOUNT_BLOCKED", f"User account blocked{until}").envelope()
                self._record(method, now, envelope, executed=False, fault=fault.kind)
                return envelope
            if fault.kind == "block":
                seconds = fault.seconds or self.block_seconds
                self._block(now, seconds)
                envelope = self._blocked_envelope()
                self._record(method, now, envelope, executed=False, fault=fault.kind)
                return envelope
            status = "HTTP500" if fault.kind == "http_500" else "DROPPED"
            self._calls.append(CallRecord(method, now, status, None, False, False, fault.kind))
            return None

    def record_unanswered(self, method: str, fault: Fault | None) -> None:
        """Record a request dropped unexecuted for another reason (e.g. the server stopping)."""
        with self.lock:
            self._calls.append(CallRecord(method, self.clock(), "DROPPED", None, False, False,
                                          fault.kind if fault else None))

    def execute(self, method: str, parameters: str | None, token: str | None, *,
                fault: Fault | None = None, form_error: str | None = None) -> dict[str, Any]:
        """Run one API request; return the response envelope. Records the call.

        ``parameters`` is the raw JSON string of the form field (None when absent);
        ``form_error`` reports a body the transport could not decode as a form.
        """
        params: Any = None
        params_error: str | None = form_error
        if params_error is None:
            try:
                params = json.loads(parameters) if parameters not in (None, "") else {}
            except ValueError:
                params_error = "Parameter 'parameters' is not valid JSON"
            else:
                if params == []:
                    params = {}  # PHP's json_encode of an empty array
                if not isinstance(params, dict):
                    params_error = "Parameter 'parameters' must be a JSON object"

        with self.lock:
            now = self.clock()
            fault_kind = fault.kind if fault else None
            envelope: dict[str, Any]
            executed = False
            if not token:
                envelope = ApiError(ERROR_EMPTY_TOKEN, "No token provided (header X-BLToken)").envelope()
            elif not hmac.compare_digest(token.encode("utf-8", "surrogateescape"),
                                         self.token.encode("utf-8", "surrogateescape")):
                envelope = ApiError(ERROR_AUTH_TOKEN, "Invalid user token").envelope()
            elif not self._admit(now):
                envelope = self._blocked_envelope()
            elif method not in METHODS:
                envelope = ApiError(ERROR_UNKNOWN_METHOD, f"Unknown method: {method or '(empty)'}").envelope()
            elif params_error is not None:
                envelope = ApiError(ERROR_BAD_PARAMETERS, params_error).envelope()
            else:
                executed = True
                # Every method validates all its input before changing anything, so an
                # ApiError never leaves a half-applied change behind.
                try:
                    envelope = {"status": "SUCCESS", **METHODS[method](self, params)}
                except ApiError as error:
                    envelope = error.envelope()
                except Exception:  # a sandbox bug: say so loudly instead of dropping the line
                    log.exception("sandbox: %s failed", method)
                    envelope = ApiError("ERROR_SANDBOX_INTERNAL", f"Sandbox internal error in {method}").envelope()
            self._record(method, now, envelope, executed=executed, fault=fault_kind)
            return envelope

    def _record(self, method: str, now: float, envelope: dict, *, executed: bool, fault: str | None) -> None:
        ok = envelope["status"] == "SUCCESS"
        status = "DROPPED" if fault == "drop_after_commit" else envelope["status"]
        self._calls.append(CallRecord(
            method, now, status, None if ok else envelope.get("error_code"), executed, executed and ok, fault,
        ))

    def _admit(self, now: float) -> bool:
        """Sliding 60 s window (``window_seconds``) over admitted requests; the (rpm+1)-th blocks the token."""
        if self._blocked_until is not None:
            if now < self._blocked_until:
                return False
            self._blocked_until = None
        while self._window and self._window[0] <= now - self.window_seconds:
            self._window.popleft()
        if len(self._window) >= self.requests_per_minute:
            self._block(now, self.block_seconds)
            return False
        self._window.append(now)
        return True

    def _block(self, now: float, seconds: float) -> None:
        # Whole seconds, so the time printed in the message is exactly the end of the block.
        self._blocked_until = float(math.ceil(now + seconds))
        self._window.clear()  # after the block the client starts with a fresh window
        log.debug("token blocked until %s", block_message(self._blocked_until))

    def _blocked_envelope(self) -> dict[str, Any]:
        assert self._blocked_until is not None
        return ApiError(ERROR_BLOCKED_TOKEN, block_message(self._blocked_until)).envelope()

    @property
    def blocked_until(self) -> float | None:
        with self.lock:
            if self._blocked_until is not None and self.clock() >= self._blocked_until:
                return None
            return self._blocked_until

    def unblock(self) -> None:
        with self.lock:
            self._blocked_until = None
            self._window.clear()

    @property
    def calls(self) -> list[CallRecord]:
        with self.lock:
            return list(self._calls)

    def write_calls(self) -> list[CallRecord]:
        """Write calls (add*/set*) that ran and succeeded, whether or not the answer arrived."""
        with self.lock:
            return [c for c in self._calls if c.is_write and c.succeeded]
