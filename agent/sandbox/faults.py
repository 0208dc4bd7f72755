"""Injected faults: how the sandbox misbehaves on purpose.

A :class:`Fault` hits API requests (``POST /connector.php``) whose method matches. Faults are
evaluated in the order they were set, on every API request, when the request arrives: each
matching fault counts the call (``seen``); the first one that is *armed* (its ``after`` calls
have passed and it has hits left) fires and counts a ``hit``. At most one fault fires per
request. ``Fault`` objects are live: the state updates ``seen``/``hits`` on the very objects
passed to ``set_faults``/``add_fault``, so a test can assert ``fault.hits == 1``.

Kinds (what the client sees / whether the request is executed):

``http_500``
    HTTP ``http_status`` (default 500) with an HTML body, like a gateway error. Not executed.
``latency``
    Waits ``seconds``, then processes the request normally.
``drop_after_commit``
    Executes the request (state changes are committed), then closes the connection without
    sending a response: the "lost response" case (``RemoteDisconnected``/connection reset).
``reset_before``
    Closes the connection (with a TCP reset) without executing the request.
``timeout``
    Waits ``seconds`` (long enough for the client to time out), then executes the request and
    tries to answer; the state changes although the client gave up.
``block``
    Answers ``ERROR_BLOCKED_TOKEN`` and really blocks the token for ``seconds`` (or the state's
    ``block_seconds`` when ``seconds`` is 0). Not executed.
``account_block``
    Answers ``ERROR_USER_ACCOUNT_BLOCKED`` (the whole account blocked, seen to last more than
    a day), naming a time ``seconds`` ahead (or none when 0). Not executed, nothing counted.
``api_error``
    Answers an ERROR envelope with ``error_code`` / ``error_message`` (an answer BaseLinker
    might give that the sandbox does not otherwise produce). Not executed.
``held``
    Holds the request until the test calls :meth:`Fault.release` (or the server stops), then
    executes it and tries to answer: a create BaseLinker carries out long after the client
    gave up, without the test sleeping. :meth:`Fault.wait_executed` waits for the execution.
``timeout_lost``
    Waits ``seconds`` and closes the connection without executing: a timed-out request that
    never ran.

Faults that prevent execution (``http_500``, ``reset_before``, ``block``) fire before the token
and rate-limit checks and do not count towards the rate-limit window.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = ("http_500", "latency", "drop_after_commit", "reset_before", "timeout", "block",
               "account_block", "api_error", "held", "timeout_lost")
#: kinds whose request is never executed (answered at once)
NOT_EXECUTED_KINDS = frozenset({"http_500", "reset_before", "block", "account_block", "api_error"})


@dataclass(eq=False)
class Fault:
    """One injected fault. ``times=0`` means "forever"; ``after`` matching calls pass first."""

    method: str
    kind: str
    times: int = 1
    after: int = 0
    seconds: float = 0.0
    http_status: int = 500
    error_code: str = "ERROR_UNKNOWN"
    error_message: str = "Unknown error"
    seen: int = field(default=0, repr=False)
    hits: int = field(default=0, repr=False)
    _released: threading.Event = field(default_factory=threading.Event, repr=False)
    _executed: threading.Event = field(default_factory=threading.Event, repr=False)

    def release(self) -> None:
        """Let a ``api_error``
    Answers an ERROR envelope with ``error_code`` / ``error_message`` (an answer BaseLinker
    might give that the sandbox does not otherwise produce). Not executed.
``held`` request go on (it executes now)."""
        self._released.set()

    def wait_executed(self, timeout: float = 30.0) -> bool:
        """Wait until a ``api_error``
    Answers an ERROR envelope with ``error_code`` / ``error_message`` (an answer BaseLinker
    might give that the sandbox does not otherwise produce). Not executed.
``held`` request has executed; False if it did not within ``timeout``."""
        return self._executed.wait(timeout)

    def __post_init__(self) -> None:
        if not isinstance(self.method, str) or not self.method:
            raise ValueError("Fault.method must be a method name or '*'")
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        for name in ("times", "after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"Fault.{name} must be an integer >= 0")
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float)) or self.seconds < 0:
            raise ValueError("Fault.seconds must be a number >= 0")
        self.seconds = float(self.seconds)
        if isinstance(self.http_status, bool) or not isinstance(self.http_status, int) or not 500 <= self.http_status <= 599:
            raise ValueError("Fault.http_status must be 500..599")

    def matches(self, method: str) -> bool:
        return self.method == "*" or self.method == method

    @property
    def exhausted(self) -> bool:
        return self.times != 0 and self.hits >= self.times

    def observe(self, method: str, already_fired: bool) -> bool:
        """Count a matching call; return True when this fault fires on it.

        Not thread-safe on its own: the state calls it under its lock.
        """
        if not self.matches(method):
            return False
        self.seen += 1
        if already_fired or self.seen <= self.after or self.exhausted:
            return False
        self.hits += 1
        return True

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "kind": self.kind,
            "times": self.times,
            "after": self.after,
            "seconds": self.seconds,
            "http_status": self.http_status,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "seen": self.seen,
            "hits": self.hits,
        }

    @classmethod
    def from_dict(cls, data: Any) -> "Fault":
        """Build a fault from JSON (``POST /_faults``); ``method`` defaults to ``"*"``."""
        if not isinstance(data, dict):
            raise ValueError("a fault must be a JSON object")
        allowed = {"method", "kind", "times", "after", "seconds", "http_status", "error_code", "error_message"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        if "kind" not in data:
            raise ValueError("a fault needs a 'kind'")
        kwargs = dict(data)
        kwargs.setdefault("method", "*")
        return cls(**kwargs)
