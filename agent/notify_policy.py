"""What to tell the user after a run: at most one notification per run, in Polish.

Rules (pure logic; the tray decides how to show the :class:`Notification`):

* one notification per run that did something: "Wysłano 5 dokumentów do BaseLinker";
  failures lead: "2 dokumenty nie zostały wysłane" plus the first few numbers and reasons;
* mode ``all`` (everything), ``errors`` (only failures, documents in doubt, aborted runs and run
  errors), ``none`` (nothing) - from ``[sync] notifications``;
* a timer run that repeats exactly the failures of the previous run and sent nothing is silent
  (no "the same 2 documents failed" every minute); a new failure, a different reason, or the
  problem going away and coming back is told again. A manual run always gets an answer, also
  "Brak dokumentów do wysłania" - the user clicked and is waiting for one.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.export.results import DocumentResult, RunSummary

MODES = ("all", "errors", "none")
APP_TITLE = "raksbl"
MAX_REASON = 120


@dataclass(frozen=True)
class Notification:
    title: str
    body: str
    error: bool = False


def plural(n: int, one: str, few: str, many: str) -> str:
    """Polish plural form for ``n``: 1 → one; 2-4, 22-24, ... (not 12-14) → few; else many."""
    if n == 1:
        return one
    if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        return few
    return many


def documents(n: int) -> str:
    """``"1 dokument"``, ``"3 dokumenty"``, ``"5 dokumentów"``."""
    return f"{n} {plural(n, 'dokument', 'dokumenty', 'dokumentów')}"


def sent_line(n: int) -> str:
    return f"Wysłano {documents(n)} do BaseLinker"


def failed_line(n: int) -> str:
    return f"{documents(n)} {plural(n, 'nie został wysłany', 'nie zostały wysłane', 'nie zostało wysłanych')}"


def in_doubt_line(n: int) -> str:
    return f"{documents(n)} {plural(n, 'wymaga', 'wymagają', 'wymaga')} sprawdzenia"


def _number(item: DocumentResult) -> str:
    return item.ref.number or "?"


def _reason(item: DocumentResult) -> str:
    reason = item.outcome.reason.strip()
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…"


def _listing(items: list[DocumentResult], limit: int) -> list[str]:
    lines = []
    for item in items[:limit]:
        reason = _reason(item)
        lines.append(f"{_number(item)}: {reason}" if reason else _number(item))
    if len(items) > limit:
        lines.append(f"… i jeszcze {len(items) - limit}")
    return lines


def problem_signature(summary: RunSummary) -> frozenset:
    """What identifies "the same problem again": the failed/in-doubt documents, reasons, abort."""
    sig: set[tuple[str, str, str]] = set()
    for kind, items in (("failed", summary.failed), ("in_doubt", summary.in_doubt)):
        for item in items:
            sig.add((kind, _number(item), _reason(item)))
    if summary.aborted:
        sig.add(("aborted", "", summary.aborted))
    return frozenset(sig)


class NotifyPolicy:
    """Decides the notification for each finished run; remembers the last problem set."""

    def __init__(self, mode: str = "all", max_listed: int = 3):
        self.mode = mode
        self.max_listed = max_listed
        self._last_problems: frozenset = frozenset()

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"notification mode must be one of {MODES}, not {value!r}")
        self._mode = value

    def _remember(self, problems: frozenset) -> bool:
        """Store ``problems``; True when they differ from the last ones (i.e. are news)."""
        new = problems != self._last_problems
        self._last_problems = problems
        return new

    def for_summary(self, summary: RunSummary, trigger: str = "auto") -> Notification | None:
        """The notification for a finished run's summary, or None."""
        if summary.dry_run:
            return None
        sent, failed, in_doubt, aborted = summary.sent, summary.failed, summary.in_doubt, summary.aborted
        problems = problem_signature(summary)
        news = self._remember(problems)
        if self.mode == "none":
            return None
        manual = trigger != "auto"

        if problems:
            if not sent and not news and not manual:
                return None  # the same failure as last time, nothing else happened
            if failed:
                title = failed_line(len(failed))
            elif in_doubt:
                title = in_doubt_line(len(in_doubt))
            else:
                title = "Wysyłanie przerwane"
            body: list[str] = []
            if sent:
                body.append(sent_line(len(sent)) + ".")
            body += _listing(failed, self.max_listed)
            if in_doubt:
                if failed:
                    body.append(in_doubt_line(len(in_doubt)) + ":")
                body += _listing(in_doubt, self.max_listed)
            if aborted:
                body.append(f"Przerwano: {aborted}" if (failed or in_doubt) else str(aborted))
            return Notification(title, "\n".join(body), error=True)

        if self.mode == "errors":
            return None
        if sent:
            numbers = [_number(item) for item in sent[: self.max_listed]]
            more = f" i jeszcze {len(sent) - self.max_listed}" if len(sent) > self.max_listed else ""
            return Notification(sent_line(len(sent)), ", ".join(numbers) + more)
        if manual:
            return Notification("Brak dokumentów do wysłania", "Nie ma nowych dokumentów do wysłania do BaseLinker.")
        return None

    def for_run_error(self, message: str, kind: str = "crash", trigger: str = "auto") -> Notification | None:
        """A run that could not be done at all (settings, connection, token, a bug)."""
        if kind == "cancelled":
            return None
        news = self._remember(frozenset({("error", kind, message)}))
        if self.mode == "none":
            return None
        if not news and trigger == "auto":
            return None
        title = "Błąd ustawień" if kind == "config" else "Nie udało się wysłać dokumentów"
        return Notification(title, message, error=True)

    def for_coalesced(self) -> Notification | None:
        """A manual "Wyślij faktury" while a run is in progress."""
        if self.mode == "none":
            return None
        return Notification("Trwa wysyłanie", "Poprzednie wysyłanie jeszcze trwa - poczekaj na jego zakończenie.")


def describe_summary(summary: RunSummary | None) -> str:
    """A short one-line result for a tooltip: "wysłano 5, błędy 2"."""
    if summary is None:
        return "brak"
    parts = [f"wysłano {len(summary.sent)}"]
    if summary.failed:
        parts.append(f"błędy {len(summary.failed)}")
    if summary.in_doubt:
        parts.append(f"do sprawdzenia {len(summary.in_doubt)}")
    if summary.aborted:
        parts.append("przerwano")
    return ", ".join(parts)

