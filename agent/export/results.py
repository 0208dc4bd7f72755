"""The result vocabulary of an export: one document's outcome, a run's summary.

The protocol decides an :class:`Outcome` per document, the run collects them as
:class:`DocumentResult` rows in a :class:`RunSummary`, and everyone who reports — the CLI, the
tray's notifications and tooltip, the logs — reads these same types (events.py carries them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Result(StrEnum):
    SENT = "sent"
    WOULD_SEND = "would_send"  # dry run: what a real run would do
    FAILED = "failed"          # the message says what the shop owner must fix
    IN_DOUBT = "in_doubt"      # a person must look before a retry
    DEFERRED = "deferred"      # not attempted now, retried on the next run
    SKIPPED = "skipped"

    @property
    def label(self) -> str:
        """How a report line names the result (``raksbl send``, the demo)."""
        return RESULT_PL[self.value]


RESULT_PL: dict[str, str] = {
    "sent": "wysłano",
    "would_send": "do wysłania",
    "failed": "BŁĄD",
    "in_doubt": "WYMAGA SPRAWDZENIA",
    "deferred": "odłożono",
    "skipped": "pominięto",
}


@dataclass(frozen=True)
class DocumentRef:
    doc_type: str  # "FS" | "PA" (agent.export.kinds)
    raks_id: int
    number: str
    order_id: int | None


@dataclass(frozen=True)
class Outcome:
    result: Result
    reason: str = ""
    bl_doc_id: int | None = None
    bl_number: str | None = None
    created: bool = False  # this run created the BaseLinker document

    def __post_init__(self) -> None:
        object.__setattr__(self, "result", Result(self.result))  # rejects an unknown result


@dataclass
class DocumentResult:
    ref: DocumentRef
    outcome: Outcome


@dataclass
class RunSummary:
    run_id: str
    trigger: str  # "manual" | "auto" | "cli"
    dry_run: bool
    started_at: float
    finished_at: float | None = None
    results: list[DocumentResult] = field(default_factory=list)
    aborted: str | None = None
    notes: list[str] = field(default_factory=list)  # what the run resolved itself (shown first)
    not_attempted: int = 0  # pending documents left for the next run (cap, stop, abort)
    api_calls: int = 0
    company: str = ""  # whose run this is ("" = the single company of a single-company file)
    # Why nothing could be attempted for this company (a setting, a secret, the database or the
    # token refused at the start); ``aborted`` says it in words. Only in a CompaniesSummary.
    setup_error: Exception | None = None

    def _with(self, *results: Result) -> list[DocumentResult]:
        return [r for r in self.results if r.outcome.result in results]

    @property
    def sent(self) -> list[DocumentResult]:
        return self._with(Result.SENT, Result.WOULD_SEND)

    @property
    def failed(self) -> list[DocumentResult]:
        return self._with(Result.FAILED)

    @property
    def in_doubt(self) -> list[DocumentResult]:
        return self._with(Result.IN_DOUBT)

    @property
    def deferred(self) -> list[DocumentResult]:
        return self._with(Result.DEFERRED)

    @property
    def skipped(self) -> list[DocumentResult]:
        return self._with(Result.SKIPPED)

    @property
    def ok(self) -> bool:
        """Every pending document was sent (or deliberately skipped) and nothing stopped the run."""
        return not (self.aborted or self.failed or self.in_doubt or self.deferred or self.not_attempted)

    @property
    def exit_code(self) -> int:
        """``raksbl send``'s code for this run: 0 all sent, 1 some not sent, 2 nothing attempted."""
        if self.setup_error is not None or (self.aborted and not self.results):
            return 2
        return 0 if self.ok else 1


@dataclass
class CompaniesSummary:
    """One run over every company (or the one ``--company`` named): each company's RunSummary.

    It reads like a RunSummary (sent, failed, ok, aborted …) summed over the companies, so the
    tray and the timer treat one company and several alike; ``runs`` has the details.
    """

    trigger: str
    dry_run: bool
    started_at: float
    runs: list[RunSummary] = field(default_factory=list)
    finished_at: float | None = None
    stopped: str | None = None  # the agent was stopped before every company had its turn

    @property
    def several(self) -> bool:
        return any(r.company for r in self.runs)

    @property
    def results(self) -> list[DocumentResult]:
        return [r for run in self.runs for r in run.results]

    def _all(self, name: str) -> list[DocumentResult]:
        return [r for run in self.runs for r in getattr(run, name)]

    sent = property(lambda self: self._all("sent"))
    failed = property(lambda self: self._all("failed"))
    in_doubt = property(lambda self: self._all("in_doubt"))
    deferred = property(lambda self: self._all("deferred"))
    skipped = property(lambda self: self._all("skipped"))

    @property
    def not_attempted(self) -> int:
        return sum(run.not_attempted for run in self.runs)

    @property
    def api_calls(self) -> int:
        return sum(run.api_calls for run in self.runs)

    @property
    def aborted(self) -> str | None:
        """What stopped a company's run (each named when there are several), or None."""
        reasons = [f"{run.company}: {run.aborted}" if run.company else run.aborted for run in self.runs if run.aborted]
        if self.stopped:
            reasons.append(self.stopped)
        return "; ".join(reasons) or None

    @property
    def ok(self) -> bool:
        return not self.stopped and all(run.ok for run in self.runs)

    @property
    def exit_code(self) -> int:
        """The worst company's code (a failing company never hides behind a good one)."""
        return max([run.exit_code for run in self.runs] + [1 if self.stopped else 0])
