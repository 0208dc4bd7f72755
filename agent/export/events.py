"""Events the core publishes while it works, each with a listener.

* :class:`RunStarted` — the tray remembers the trigger; ``raksbl send`` prints the run's notes;
* :class:`DocumentFinished` — ``raksbl send`` prints the document's line as soon as it is done;
* :class:`NumbersRead` — BaseLinker's own numbers of the documents the run created, read in one
  list call per 100 after the run (``raksbl send`` prints them);
* :class:`RunFinished` — one company's run is over (its summary names the company);
* :class:`CompaniesFinished` — the whole run over every company: the tray's notification and
  tooltip, the ``raksbl run`` log.

Every event of a company's run names the company (``""`` in a single-company file).

Nothing flows back through this module: listeners only observe. A listener that raises is
logged and ignored, so a broken UI callback can never stop an export.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Callable

from agent.export.results import CompaniesSummary, DocumentRef, DocumentResult, RunSummary

__all__ = ["CompaniesFinished", "DocumentFinished", "DocumentRef", "EventBus", "NumbersRead", "RunFinished",
           "RunStarted"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    trigger: str  # "manual" | "auto" | "cli"
    dry_run: bool
    pending: int
    notes: tuple[str, ...] = ()  # what the run resolved itself (e.g. the invoice series chosen)
    company: str = ""


@dataclass(frozen=True)
class DocumentFinished:
    """One document is done with in this run, whatever its outcome."""

    result: DocumentResult
    dry_run: bool = False
    company: str = ""


@dataclass(frozen=True)
class NumbersRead:
    """BaseLinker's numbers of sent documents that were not known when they finished."""

    results: tuple[DocumentResult, ...]
    company: str = ""


@dataclass(frozen=True)
class RunFinished:
    summary: RunSummary  # one company's (summary.company)


@dataclass(frozen=True)
class CompaniesFinished:
    summary: CompaniesSummary  # every company's run of this trigger


Event = RunStarted | DocumentFinished | NumbersRead | RunFinished | CompaniesFinished


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
