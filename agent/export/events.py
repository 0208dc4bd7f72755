"""Events the core publishes while it works; the CLI, tray, notifications and history listen.

Nothing flows back through this module: listeners only observe. A listener that raises is
logged and ignored, so a broken UI callback can never stop an export.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Callable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DocumentRef:
    doc_type: str  # "FS" | "PA"
    raks_id: int
    number: str
    order_id: int | None

    def label(self) -> str:
        order = self.order_id if self.order_id is not None else "?"
        return f"{self.doc_type} {self.number} (zamówienie {order})"


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    trigger: str  # "manual" | "auto" | "cli"
    dry_run: bool
    pending: int


@dataclass(frozen=True)
class DocumentSent:
    ref: DocumentRef
    bl_doc_id: int | None
    bl_number: str | None
    dry_run: bool = False


@dataclass(frozen=True)
class DocumentSkipped:
    ref: DocumentRef
    reason: str


@dataclass(frozen=True)
class DocumentFailed:
    ref: DocumentRef
    reason: str


@dataclass(frozen=True)
class DocumentInDoubt:
    ref: DocumentRef
    reason: str


@dataclass(frozen=True)
class DocumentDeferred:
    """Not attempted now, retried on the next run (row locked in RaksSQL, run stopped, ...)."""

    ref: DocumentRef
    reason: str


@dataclass(frozen=True)
class RunFinished:
    summary: "RunSummary"  # noqa: F821 - defined in agent.export.run


@dataclass(frozen=True)
class RunAbortedEvent:
    reason: str


Event = (
    RunStarted | DocumentSent | DocumentSkipped | DocumentFailed | DocumentInDoubt | DocumentDeferred
    | RunFinished | RunAbortedEvent
)


@dataclass
class EventBus:
    """A minimal synchronous publish/subscribe hub (thread-safe subscription list)."""

    _subscribers: list[Callable[[object], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def subscribe(self, callback: Callable[[object], None]) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, event: object) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:
                log.exception("event listener %r failed on %s", callback, type(event).__name__)
