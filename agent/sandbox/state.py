"""SandboxState: one emulated BaseLinker account, its gate and its API methods.

Transport-free: :meth:`SandboxState.execute` takes the decoded ``method``, the raw
``parameters`` JSON string and the token, and returns the response envelope as a dict; the HTTP
layer (:mod:`.server`) only moves bytes and plays the transport faults. The parts:
:class:`~.account.Account` (the data), :class:`~.gate.Gate` (token, rate window, faults, call
log) and :data:`~.methods.METHODS` (the API methods). All of them work under one re-entrant
lock (``state.lock``), so seeding, inspection and API calls from many threads see consistent
data. The behaviours BaseLinker does not document are listed in the package docstring.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import Counter
from typing import Any, Callable

from .account import DUPLICATE_POLICIES, LIST_DATE_FIELDS, LIST_ORDERS, NO_RECEIPT_ANSWERS, Account
from .gate import WINDOW_SECONDS, Gate


class SandboxState(Gate, Account):
    """One emulated BaseLinker account (one token): its data, rate limit, faults and call log."""

    def __init__(
        self,
        token: str = "sandbox-token",
        requests_per_minute: int = 100,
        block_seconds: float = 120,
        duplicate_documents: str = "allow",
        clock: Callable[[], float] = time.time,
    ):
        self.lock = threading.RLock()
        self.token = token
        self.clock = clock
        self.requests_per_minute = 0
        self.block_seconds = 0.0
        self.window_seconds = WINDOW_SECONDS
        self.duplicate_documents = "allow"
        self.no_receipt = "error"
        self.list_date_field = "date_add"
        self.list_lag_seconds = 0.0
        self.list_order = "asc"
        self.configure(
            requests_per_minute=requests_per_minute,
            block_seconds=block_seconds,
            duplicate_documents=duplicate_documents,
        )
        self.reset()

    def configure(
        self,
        *,
        requests_per_minute: int | None = None,
        block_seconds: float | None = None,
        duplicate_documents: str | None = None,
        no_receipt: str | None = None,
        list_date_field: str | None = None,
        list_lag_seconds: float | None = None,
        list_order: str | None = None,
        window_seconds: float | None = None,
    ) -> None:
        """Change the account's behaviour. ``window_seconds`` shortens the rate window (60 s at
        BaseLinker) so that a test can cross a budget of ``requests_per_minute`` quickly."""
        with self.lock:
            if window_seconds is not None:
                if isinstance(window_seconds, bool) or not isinstance(window_seconds, (int, float)) or window_seconds <= 0:
                    raise ValueError("window_seconds must be a number > 0")
                self.window_seconds = float(window_seconds)
            for name, value, allowed in (("no_receipt", no_receipt, NO_RECEIPT_ANSWERS),
                                         ("list_date_field", list_date_field, LIST_DATE_FIELDS),
                                         ("list_order", list_order, LIST_ORDERS)):
                if value is not None:
                    if value not in allowed:
                        raise ValueError(f"{name} must be one of {allowed}")
                    setattr(self, name, value)
            if list_lag_seconds is not None:
                if isinstance(list_lag_seconds, bool) or not isinstance(list_lag_seconds, (int, float)) \
                        or list_lag_seconds < 0:
                    raise ValueError("list_lag_seconds must be a number >= 0")
                self.list_lag_seconds = float(list_lag_seconds)
            if requests_per_minute is not None:
                if isinstance(requests_per_minute, bool) or not isinstance(requests_per_minute, int) or requests_per_minute < 1:
                    raise ValueError("requests_per_minute must be an integer >= 1")
                self.requests_per_minute = requests_per_minute
            if block_seconds is not None:
                if isinstance(block_seconds, bool) or not isinstance(block_seconds, (int, float)) or block_seconds < 0:
                    raise ValueError("block_seconds must be a number >= 0")
                self.block_seconds = float(block_seconds)
            if duplicate_documents is not None:
                if duplicate_documents not in DUPLICATE_POLICIES:
                    raise ValueError(f"duplicate_documents must be one of {DUPLICATE_POLICIES}")
                self.duplicate_documents = duplicate_documents

    def reset(self) -> None:
        """Forget all data, faults, calls and the rate-limit state (settings stay)."""
        with self.lock:
            self.reset_data()
            self.reset_gate()

    def snapshot(self) -> dict[str, Any]:
        """Everything, JSON-able (files as ``{"size", "sha256"}``)."""
        with self.lock:
            by_method: dict[str, Counter] = {}
            calls = self.calls
            for call in calls:
                by_method.setdefault(call.method, Counter())[call.status] += 1
            return {
                "settings": {
                    "requests_per_minute": self.requests_per_minute,
                    "block_seconds": self.block_seconds,
                    "window_seconds": self.window_seconds,
                    "duplicate_documents": self.duplicate_documents,
                    "no_receipt": self.no_receipt,
                    "list_date_field": self.list_date_field,
                    "list_lag_seconds": self.list_lag_seconds,
                    "list_order": self.list_order,
                },
                "series": [dict(self.series[k]) for k in sorted(self.series)],
                "statuses": [dict(self.statuses[k]) for k in sorted(self.statuses)],
                "extra_fields": [copy.deepcopy(self.extra_fields[k]) for k in sorted(self.extra_fields)],
                "orders": [copy.deepcopy(self.orders[k]) for k in sorted(self.orders)],
                "invoices": [self._invoice_view(k) for k in sorted(self.invoices)],
                "receipts": [self._receipt_view(k) for k in sorted(self.receipts)],
                "blocked_until": self.blocked_until,
                "faults": [f.to_dict() for f in self.faults],
                "call_counts": {
                    "total": len(calls),
                    "writes": sum(1 for c in calls if c.is_write and c.succeeded),
                    "by_method": {m: dict(c) for m, c in sorted(by_method.items())},
                },
            }
