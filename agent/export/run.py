"""One export run: pick the pending documents, export each, summarise, publish events.

A run stops as a whole (``summary.aborted``) only for problems no single document can avoid:
the token is refused, BaseLinker or the database cannot be reached, the agent is stopping.
Every other problem fails one document and the run goes on with the next one.

:func:`run_companies` is the run a trigger starts: :func:`run_export` for every company of the
settings in turn (or the one ``--company`` names). One company's failure — its database down,
its token revoked, its settings wrong — is its own line in the summary; the others still run.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import time
import uuid

from agent import secrets
from agent.baselinker.client import BaseLinkerClient
from agent.baselinker.errors import BaseLinkerError, TransportError
from agent.baselinker.ratelimit import shared_limiter
from agent.errors import Cancelled, ConfigError, RunAborted
from agent.export import account
from agent.export import events as ev
from agent.export.journal import Journal
from agent.export.kinds import KINDS, kind_of
from agent.export.orders import OrderBook
from agent.export.protocol import DocumentExporter
from agent.export.results import CompaniesSummary, DocumentResult, Outcome, RunSummary
from agent.logs import company_context

__all__ = ["CHUNK", "STOPPED", "CompaniesSummary", "DocumentResult", "RunSummary", "run_companies", "run_export"]
from agent.raks.repository import Document, RaksConnectionError, RaksRepository
from agent.settings import Settings
from agent.threads import start_daemon_thread

log = logging.getLogger(__name__)


def _ref(doc: Document) -> ev.DocumentRef:
    return ev.DocumentRef(doc.doc_type, doc.raks_id, doc.number, doc.order_id)


def _fill_numbers(orders: OrderBook, results: list[DocumentResult], journal: Journal | None = None,
                  database_key: str = "") -> list[DocumentResult]:
    """Read BaseLinker's own numbers of the documents this run created (one list call per 100)
    and store them in the journal, so the history shows them too. Returns the results whose
    number was filled in."""
    missing = [r for r in results if r.outcome.result == "sent" and r.outcome.bl_doc_id and not r.outcome.bl_number]
    numbers: dict[tuple[str, int], str] = {}
    try:
        for doc_type, kind in KINDS.items():
            ids = sorted(r.outcome.bl_doc_id for r in missing if r.ref.doc_type == doc_type)
            if ids:
                numbers.update({(doc_type, i): n for i, n in orders.numbers(kind.name, ids).items()})
    except BaseLinkerError as exc:  # a number for the report is not worth failing anything over
        log.info("could not read BaseLinker numbers after the run: %s", exc)
    filled = []
    for r in missing:
        number = numbers.get((r.ref.doc_type, r.outcome.bl_doc_id))
        if number:
            r.outcome = dataclasses.replace(r.outcome, bl_number=number)
            filled.append(r)
            entry = journal.get(database_key, r.ref.doc_type, r.ref.raks_id) if journal is not None else None
            if entry is not None and entry.bl_doc_id == r.outcome.bl_doc_id:
                journal.set_bl_number(entry.id, number)
    return filled


# Documents are claimed (row-locked in RaksSQL) a chunk at a time, then BaseLinker's view of
# their orders is read with list calls. Locking first keeps that view current: no other agent
# can be half-way through these documents. The chunk bounds how long the rows stay locked
# (about CHUNK × 3 calls at the request budget).
CHUNK = 25


def _export_all(exporter: DocumentExporter, documents: list[Document], summary: RunSummary, bus, cancel,
                dry_run: bool) -> str | None:
    """Export ``documents`` chunk by chunk; returns why the run stopped early, or None."""
    for start in range(0, len(documents), CHUNK):
        chunk = documents[start:start + CHUNK]
        claims: dict[tuple[str, int], object] = {}
        try:
            if not dry_run:
                for doc in chunk:
                    claims[doc.key] = exporter.precheck(doc) or exporter.claim(doc)
            exporter.prefetch([d for d in chunk if not isinstance(claims.get(d.key), Outcome)])
            for index, doc in enumerate(chunk):
                if cancel.is_set():
                    summary.not_attempted += len(documents) - start - index
                    return STOPPED
                claim = claims.pop(doc.key, None)
                try:
                    outcome = claim if isinstance(claim, Outcome) else exporter.export(doc, claim)
                except (RunAborted, Cancelled, BaseLinkerError) as exc:
                    summary.not_attempted += len(documents) - start - index
                    log.error("run %s stopped at %s: %s", summary.run_id, doc.number, _abort_message(exc))
                    return _abort_message(exc)
                result = DocumentResult(_ref(doc), outcome)
                summary.results.append(result)
                bus.publish(ev.DocumentFinished(dataclasses.replace(result), dry_run=dry_run, company=summary.company))
        except (RunAborted, Cancelled, BaseLinkerError) as exc:  # while claiming or prefetching
            summary.not_attempted += len(documents) - start
            return _abort_message(exc)
        finally:
            for claim in claims.values():  # locks of documents this run did not reach
                if not isinstance(claim, Outcome):
                    claim.rollback()
    return None


def run_export(
    settings: Settings,
    *,
    dry_run: bool = False,
    limit: int | None = None,
    trigger: str = "manual",
    bus: ev.EventBus | None = None,
    cancel: threading.Event | None = None,
    journal: Journal | None = None,
) -> RunSummary:
    """Run one export for one company (``settings`` is its view: Settings.for_company).

    Raises ConfigError / RunAborted when nothing could be attempted. Its log lines name the
    company (agent.logs.company_context)."""
    from agent import paths

    with company_context(settings.company):
        if not settings.is_view:
            raise ValueError("run_export needs one company's settings (Settings.for_company); use run_companies")
        if settings.company_error is not None:  # a wrong setting of this company: it cannot run
            raise settings.company_error
        bus = bus or ev.EventBus()
        cancel = cancel or threading.Event()
        token = secrets.get_secret(secrets.BASELINKER_TOKEN, settings.company)
        password = secrets.get_secret(secrets.RAKS_PASSWORD, settings.company)
        own_journal = journal is None
        journal = journal or Journal(paths.journal_path())
        limiter = shared_limiter(settings.baselinker.requests_per_minute, token)
        client = BaseLinkerClient(
            token, settings.baselinker.api_url, limiter, timeout=float(settings.baselinker.timeout_seconds),
            cancel=cancel,
        )
        summary = RunSummary(run_id=uuid.uuid4().hex[:12], trigger=trigger, dry_run=dry_run, started_at=time.time(),
                             company=settings.company)
        try:
            repo = RaksRepository(settings.raks, password)
            repo.connect()
            try:
                documents = repo.pending_documents()
                cap = limit if limit is not None else (settings.sync.max_documents_per_run or None)
                if cap is not None and len(documents) > cap:
                    summary.not_attempted = len(documents) - cap
                    documents = documents[:cap]
                log.info("run %s (%s%s): %d pending document(s)", summary.run_id, trigger,
                         ", dry run" if dry_run else "", len(documents))
                setup = account.prepare(client, settings, kinds={kind_of(d.doc_type) for d in documents}) \
                    if documents else account.AccountSetup()
                summary.notes.extend(setup.notes)
                for note in setup.notes:
                    log.info("run %s: %s", summary.run_id, note)
                bus.publish(ev.RunStarted(summary.run_id, trigger, dry_run, len(documents), tuple(setup.notes),
                                         company=settings.company))
                exporter = DocumentExporter(settings, repo, client, journal, run_id=summary.run_id, dry_run=dry_run,
                                            invoice_series_id=setup.invoice_series_id,
                                            correction_series_id=setup.correction_series_id)
                summary.aborted = _export_all(exporter, documents, summary, bus, cancel, dry_run)
                if not dry_run and not summary.aborted:
                    filled = _fill_numbers(exporter.orders, summary.results, journal, exporter.database_key)
                    if filled:
                        bus.publish(ev.NumbersRead(tuple(dataclasses.replace(r) for r in filled),
                                                   company=settings.company))
            finally:
                repo.close()
        except ConfigError:
            raise
        finally:
            summary.finished_at = time.time()
            summary.api_calls = client.calls
            if own_journal:
                journal.close()
    bus.publish(ev.RunFinished(summary))  # outside the context: its listeners name the company themselves
    return summary


def _tokens(views: list[Settings]) -> dict[str, str | None]:
    """Each company's BaseLinker token (None when it has none: its run will say so)."""
    tokens: dict[str, str | None] = {}
    for view in views:
        if view.company_error is not None:  # cannot run: it takes no part in a shared budget
            tokens[view.company] = None
            continue
        try:
            tokens[view.company] = secrets.get_secret(secrets.BASELINKER_TOKEN, view.company)
        except ConfigError:
            tokens[view.company] = None
    return tokens


def shared_token_rates(views: list[Settings], tokens: dict[str, str | None] | None = None) -> dict[str, int]:
    """Each company's request budget: companies on one token share it, so all of them use the
    lowest ``requests_per_minute`` any of them set (one token, one budget at BaseLinker)."""
    tokens = _tokens(views) if tokens is None else tokens
    rates = {}
    for view in views:
        token = tokens.get(view.company)
        sharing = [v for v in views if token is not None and tokens.get(v.company) == token]
        rates[view.company] = min((v.baselinker.requests_per_minute for v in sharing),
                                  default=view.baselinker.requests_per_minute)
    return rates


def token_groups(views: list[Settings], tokens: dict[str, str | None]) -> list[list[Settings]]:
    """Companies grouped by token, in the settings' order: a group runs one company after another
    (they share one budget), groups run side by side (their budgets are separate, so a big batch
    of one account never delays another's documents)."""
    groups: dict[object, list[Settings]] = {}
    for view in views:
        token = tokens.get(view.company)
        groups.setdefault(token if token is not None else ("no token", view.company), []).append(view)
    return list(groups.values())


class _OneAtATime:
    """The bus as groups running side by side see it: one event at a time, so a listener (the
    CLI's lines, the tray) never sees two companies' events interleaved mid-line."""

    def __init__(self, bus: ev.EventBus):
        self._bus = bus
        self._lock = threading.Lock()

    def publish(self, event: object) -> None:
        with self._lock:
            self._bus.publish(event)


def run_companies(
    settings: Settings,
    *,
    company: str | None = None,
    dry_run: bool = False,
    limit: int | None = None,
    trigger: str = "manual",
    bus: ev.EventBus | None = None,
    cancel: threading.Event | None = None,
    journal: Journal | None = None,
) -> CompaniesSummary:
    """The run a trigger starts: every company of ``settings`` (or only ``company``).

    Companies on one BaseLinker token run one after another with one budget (the lowest
    ``requests_per_minute`` of them); companies on different tokens run side by side, each in
    its own thread with its own connections, sharing the journal. A company that cannot start
    (a setting, a secret, its database or token) gets a summary with ``setup_error`` and the
    others still run. When the run covers one company only, such an error is raised instead,
    exactly as :func:`run_export` does (a single-company file behaves as it always did).
    ``limit`` applies to each company. ``runs`` keep the settings' order.
    """
    from agent import paths

    bus = bus or ev.EventBus()
    cancel = cancel or threading.Event()
    views = settings.each_company(company)
    total = CompaniesSummary(trigger=trigger, dry_run=dry_run, started_at=time.time())
    own_journal = journal is None
    journal = journal or Journal(paths.journal_path())
    try:
        # Every company of the file counts for the budget, not only those of this run: `send
        # --company b` must keep the budget of a token it shares with a (the tray may be sending
        # for a right now).
        every = settings.each_company() if settings.several else views
        tokens = _tokens(every) if settings.several else {}
        rates = shared_token_rates(every, tokens) if settings.several else {}
        if len(views) == 1:
            total.runs.append(run_export(_at_shared_rate(views[0], rates), dry_run=dry_run, limit=limit,
                                         trigger=trigger, bus=bus, cancel=cancel, journal=journal))
        else:
            runs: dict[str, RunSummary] = {}
            run_group = functools.partial(_run_group, rates=rates, runs=runs, dry_run=dry_run, limit=limit,
                                          trigger=trigger, cancel=cancel, journal=journal)
            groups = token_groups(views, tokens)
            if len(groups) == 1:
                run_group(groups[0], bus=bus)
            else:
                _side_by_side([functools.partial(run_group, group, bus=_OneAtATime(bus)) for group in groups],
                              cancel)
            total.runs.extend(runs[v.company] for v in views if v.company in runs)
            if len(total.runs) < len(views):
                total.stopped = STOPPED
    finally:
        total.finished_at = time.time()
        if own_journal:
            journal.close()
    bus.publish(ev.CompaniesFinished(total))
    return total


def _run_group(group: list[Settings], *, bus, rates: dict[str, int], runs: dict[str, RunSummary], dry_run: bool,
               limit: int | None, trigger: str, cancel: threading.Event, journal: Journal) -> None:
    """Companies sharing one token, one after another; each one's summary goes into ``runs``."""
    for view in group:
        if cancel.is_set():
            return
        view = _at_shared_rate(view, rates)
        try:
            runs[view.company] = run_export(view, dry_run=dry_run, limit=limit, trigger=trigger, bus=bus,
                                            cancel=cancel, journal=journal)
        except (ConfigError, RunAborted) as exc:
            log.error("company %s: nothing attempted: %s", view.company, exc)
            failed = RunSummary(run_id=uuid.uuid4().hex[:12], trigger=trigger, dry_run=dry_run,
                                started_at=time.time(), finished_at=time.time(), company=view.company,
                                aborted=_setup_message(exc), setup_error=exc)
            runs[view.company] = failed
            bus.publish(ev.RunFinished(failed))


def _at_shared_rate(view: Settings, rates: dict[str, int]) -> Settings:
    """``view`` with the request budget of its token (see shared_token_rates)."""
    rate = rates.get(view.company, view.baselinker.requests_per_minute)
    if rate == view.baselinker.requests_per_minute:
        return view
    log.info("company %s shares its BaseLinker token: %d requests/min for all of them", view.company, rate)
    return dataclasses.replace(view, baselinker=dataclasses.replace(view.baselinker, requests_per_minute=rate))


def _side_by_side(jobs: list, cancel: threading.Event) -> None:
    """Run ``jobs`` in threads and wait for all; a job's unexpected exception is re-raised here.

    The wait polls (0.5 s) so the caller's thread keeps taking Ctrl+C (a plain join() blocks
    it on Windows): the signal handler sets ``cancel`` and every job stops at its next document.
    """
    errors: list[BaseException] = []

    def guarded(job) -> None:
        try:
            job()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            errors.append(exc)
            cancel.set()  # a broken run stops the others at their next document

    workers = [start_daemon_thread(guarded, job, name=f"raksbl-run-{i}") for i, job in enumerate(jobs)]
    for worker in workers:
        while worker.is_alive():
            worker.join(0.5)
    if errors:
        raise errors[0]


def _setup_message(exc: Exception) -> str:
    """Why a company could not start, for its summary (which names the company already)."""
    return f"błąd ustawień: {exc.detail}" if isinstance(exc, ConfigError) else str(exc)


# Said after "Przerwano:" (CLI) or alone (tray): never "przerwano" twice.
STOPPED = "na żądanie (Ctrl+C albo zamknięcie agenta); pozostałe dokumenty wyślę przy następnym uruchomieniu"


def _abort_message(exc: Exception) -> str:
    if isinstance(exc, Cancelled):
        return STOPPED
    if isinstance(exc, TransportError):
        return f"brak połączenia z BaseLinker ({exc.message}); spróbuję przy następnym uruchomieniu"
    if isinstance(exc, RaksConnectionError):
        text = str(exc)  # it already says what was lost and where; don't say it twice
        return text if text.lower().startswith(("utracono", "brak połączenia", "nie można")) else (
            f"utracono połączenie z bazą RaksSQL: {text}")
    return str(exc)
