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
* several companies (``[[company]]``): still one notification per run
  (:meth:`NotifyPolicy.for_companies`), naming each company with something to say ("sklep-a:
  wysłano 3 faktury"); "the same problem again" is judged per company, so a repeated failure of
  one company never hides a new failure of another. A single-company file keeps today's texts.
* Windows shows at most :data:`TITLE_MAX` / :data:`BODY_MAX` characters of a balloon
  (NOTIFYICONDATA's szInfoTitle / szInfo): a several-companies message is built to fit them.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.export.results import CompaniesSummary, DocumentResult, RunSummary

MODES = ("all", "errors", "none")
APP_TITLE = "raksbl"
MAX_REASON = 120
# NOTIFYICONDATAW: szInfoTitle[64] and szInfo[256] with the terminator (Windows cuts the rest)
TITLE_MAX = 63
BODY_MAX = 255
MAX_REASON_SEVERAL = 60  # a reason in one company's line of a several-companies message


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


# "wysłano …" takes the accusative: 1 fakturę / 2 faktury / 5 faktur
_SENT_WORDS = {
    "FS": ("fakturę", "faktury", "faktur"),
    "PA": ("paragon", "paragony", "paragonów"),
    "KS": ("korektę", "korekty", "korekt"),
}


def sent_count(items: list[DocumentResult]) -> str:
    """What ``wysłano`` is followed by: "3 faktury", "1 korektę"; mixed kinds: "5 dokumentów"."""
    n = len(items)
    kinds = {item.ref.doc_type for item in items}
    if len(kinds) == 1 and next(iter(kinds)) in _SENT_WORDS:
        return f"{n} {plural(n, *_SENT_WORDS[next(iter(kinds))])}"
    return documents(n)


def companies(n: int) -> str:
    """``"1 firma"``, ``"2 firmy"``, ``"5 firm"``."""
    return f"{n} {plural(n, 'firma', 'firmy', 'firm')}"


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the cut marked with "…"."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


MIN_TEXT = 30  # a company's line keeps at least this much after "sklep-a: " (else fewer lines)


def _shortest(line: str) -> int:
    """How short ``line`` may be cut: its company's name plus :data:`MIN_TEXT` characters."""
    colon = line.find(": ")
    return (colon + 2 if 0 < colon else 0) + MIN_TEXT


def _fair_cap(lengths: list[int], room: int) -> int:
    """The largest length every line may keep so that together they fit ``room`` (water-filling:
    short lines stay whole, the long ones share what is left equally)."""
    if sum(lengths) <= room:
        return max(lengths, default=0)
    left, count = room, len(lengths)
    for length in sorted(lengths):
        cap = left // count
        if length > cap:
            return cap
        left -= length
        count -= 1
    return left


def fit_lines(lines: list[str], limit: int = BODY_MAX) -> str:
    """``lines`` (one per company) joined by newlines within ``limit`` characters. When they do
    not fit, the long ones are cut fairly ("…"), so a long error of one company never pushes
    another company out; only when even that is not enough are the last lines left out and
    counted ("… i jeszcze 2 firmy")."""
    n = len(lines)
    for count in range(n, 0, -1):
        more = f"… i jeszcze {companies(n - count)}" if count < n else ""
        room = limit - (len(more) + 1 if more else 0) - (count - 1)
        lengths = [len(line) for line in lines[:count]]
        cap = _fair_cap(lengths, room)
        cut = [line for line in lines[:count] if len(line) > cap]
        if all(cap >= _shortest(line) for line in cut) or count == 1:  # a cut line stays readable
            out = [clip(line, max(cap, 1)) for line in lines[:count]] + ([more] if more else [])
            return clip("\n".join(out), limit)
    return ""


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
        self._last_problems: dict[str, frozenset] = {}  # per company ("" = the single company)

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"notification mode must be one of {MODES}, not {value!r}")
        self._mode = value

    def _remember(self, problems: frozenset, company: str = "") -> bool:
        """Store ``company``'s ``problems``; True when they differ from its last ones (are news)."""
        new = problems != self._last_problems.get(company, frozenset())
        self._last_problems[company] = problems
        return new

    def for_summary(self, summary: RunSummary, trigger: str = "auto") -> Notification | None:
        """The notification for a finished run's summary, or None."""
        if summary.dry_run:
            return None
        sent, failed, in_doubt, aborted = summary.sent, summary.failed, summary.in_doubt, summary.aborted
        problems = problem_signature(summary)
        news = self._remember(problems, getattr(summary, "company", ""))
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
            return Notification(sent_line(len(sent)), self._sent_numbers(sent))
        if manual:
            return Notification("Brak dokumentów do wysłania", "Nie ma nowych dokumentów do wysłania do BaseLinker.")
        return None

    def for_companies(self, summary: CompaniesSummary, trigger: str = "auto") -> Notification | None:
        """The one notification for a run over the companies (:class:`CompaniesFinished`).

        A single-company file's run reads exactly as :meth:`for_summary` says it. With several
        companies each company with something to say gets a line naming it, problems first; the
        title names the company when only one has something to say (and it fits).
        """
        if not summary.several:
            return self.for_summary(summary, trigger=trigger)
        if summary.dry_run:
            return None
        news = False  # a company has a problem it did not have last time (one going away is no news)
        for run in summary.runs:
            problems = problem_signature(run)
            news = self._remember(problems, run.company) and bool(problems) or news
        if self.mode == "none":
            return None
        manual = trigger != "auto"
        troubled = [run for run in summary.runs if problem_signature(run)]
        sent_runs = [run for run in summary.runs if run.sent]

        if troubled or summary.stopped:
            if not sent_runs and not news and not manual and not summary.stopped:
                return None  # every company's problem is the same as last time, nothing sent
            failed, in_doubt = summary.failed, summary.in_doubt
            headline = (failed_line(len(failed)) if failed else in_doubt_line(len(in_doubt)) if in_doubt
                        else "Wysyłanie przerwane")
            title = headline
            if len(troubled) == 1 and len(f"{troubled[0].company}: {headline}") <= TITLE_MAX:
                title = f"{troubled[0].company}: {headline}"
            lines = [self._company_line(run) for run in troubled]
            lines += [self._company_line(run) for run in sent_runs if run not in troubled]
            if summary.stopped:
                lines.append(f"Przerwano: {summary.stopped}")
            return Notification(clip(title, TITLE_MAX), fit_lines(lines), error=True)

        if self.mode == "errors":
            return None
        if len(sent_runs) == 1:
            run = sent_runs[0]
            title = f"{run.company}: wysłano {sent_count(run.sent)}"
            if len(title) <= TITLE_MAX:
                return Notification(title, clip(self._sent_numbers(run.sent), BODY_MAX))
        if sent_runs:
            return Notification(sent_line(len(summary.sent)), fit_lines([self._company_line(r) for r in sent_runs]))
        if manual:
            if len(summary.runs) == 1:  # "Wyślij dla firmy ▸ sklep-b"
                return Notification("Brak dokumentów do wysłania", clip(
                    f"{summary.runs[0].company}: brak nowych dokumentów do wysłania do BaseLinker.", BODY_MAX))
            return Notification("Brak dokumentów do wysłania",
                                "Żadna firma nie ma nowych dokumentów do wysłania do BaseLinker.")
        return None

    def _sent_numbers(self, items: list[DocumentResult]) -> str:
        numbers = [_number(item) for item in items[: self.max_listed]]
        more = f" i jeszcze {len(items) - self.max_listed}" if len(items) > self.max_listed else ""
        return ", ".join(numbers) + more

    def _company_line(self, run: RunSummary) -> str:
        """One company's line of a several-companies message: "sklep-b: 1 dokument nie został
        wysłany: FS 7/2026 (Brak PDF)"; "sklep-c: brak połączenia z bazą …"."""
        parts: list[str] = []
        if run.sent:
            parts.append(f"wysłano {sent_count(run.sent)}")
        for items, line in ((run.failed, failed_line), (run.in_doubt, in_doubt_line)):
            if items:
                listed = ", ".join(
                    f"{_number(i)} ({clip(_reason(i), MAX_REASON_SEVERAL)})" if _reason(i) else _number(i)
                    for i in items[:2])
                more = f" i jeszcze {len(items) - 2}" if len(items) > 2 else ""
                parts.append(f"{line(len(items))}: {listed}{more}")
        if run.aborted:
            parts.append(f"przerwano: {run.aborted}" if parts else str(run.aborted))
        return f"{run.company}: " + "; ".join(parts)

    def for_run_error(self, message: str, kind: str = "crash", trigger: str = "auto",
                      company: str = "") -> Notification | None:
        """A run that could not be done at all (settings, connection, token, a bug); ``company``
        names the one company the run was for (a several-companies file)."""
        if kind == "cancelled":
            return None
        news = self._remember(frozenset({("error", kind, message)}), company)
        if self.mode == "none":
            return None
        if not news and trigger == "auto":
            return None
        title = "Błąd ustawień" if kind == "config" else "Nie udało się wysłać dokumentów"
        if company and company not in message:  # "Firma sklep-b: Ustawienie …" names it already
            message = f"{company}: {message}"
        return Notification(title, clip(message, BODY_MAX) if company else message, error=True)

    def for_coalesced(self) -> Notification | None:
        """A manual "Wyślij faktury" while a run is in progress."""
        if self.mode == "none":
            return None
        return Notification("Trwa wysyłanie", "Poprzednie wysyłanie jeszcze trwa - poczekaj na jego zakończenie.")


def describe_summary(summary: RunSummary | CompaniesSummary | None) -> str:
    """A short one-line result for a tooltip: "wysłano 5, błędy 2"; several companies name
    each one with something to say: "sklep-a: wysłano 3; sklep-b: wysłano 0, przerwano"."""
    if summary is None:
        return "brak"
    if isinstance(summary, CompaniesSummary) and summary.several:
        told = [run for run in summary.runs if run.sent or problem_signature(run)]
        if told:
            return "; ".join(f"{run.company}: {describe_summary(run)}" for run in told)
        return "wysłano 0"
    parts = [f"wysłano {len(summary.sent)}"]
    if summary.failed:
        parts.append(f"błędy {len(summary.failed)}")
    if summary.in_doubt:
        parts.append(f"do sprawdzenia {len(summary.in_doubt)}")
    if summary.aborted:
        parts.append("przerwano")
    return ", ".join(parts)

