"""The ``raksbl`` command line: the only module that prints.

Exit codes of ``send``: 0 every pending document sent (or nothing to send); 1 some documents
were not sent (failed, in doubt, deferred, capped); 2 configuration or connection error
(nothing attempted). ``doctor``: 0 both connections work, 2 otherwise.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import getpass
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from agent import __version__, paths, secrets
from agent.errors import ConfigError, RaksblError, RunAborted, StorageError
from agent.export.dbkey import split_key
from agent.export.report import document_label, format_result_line, format_summary
from agent.export.states import STATE_PL

log = logging.getLogger(__name__)

# Characters our messages use that a legacy console or a redirected file (cp1250 on Polish
# Windows, ASCII under LANG=C) may lack, with what to write instead; anything else becomes "?".
_FALLBACK = {"→": "->", "←": "<-", "—": "-", "–": "-", "„": '"', "”": '"', "…": "..."}


def _transliterate(exc: UnicodeError):
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    return "".join(_FALLBACK.get(ch, "?") for ch in bad), exc.end


codecs.register_error("raksbl-transliterate", _transliterate)


def make_output_safe(*streams) -> None:
    """Never crash on a character the output's encoding lacks (the report must reach the user).

    A file redirect on Polish Windows is cp1250 (no arrows), ``LANG=C`` may give ASCII: keep the
    stream's encoding (Polish letters stay correct where it has them) and write a substitute
    for what it cannot encode.
    """
    for stream in streams or (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:
            continue
        try:
            reconfigure(errors="raksbl-transliterate")
        except (ValueError, OSError):  # a detached or closed stream: nothing to protect
            pass


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"oczekiwano liczby całkowitej, jest {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"oczekiwano liczby większej od zera, jest {value}")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"numer portu musi być od 1 do 65535, jest {value}")
    return value


def _out(text: str = "") -> None:
    print(text, flush=True)


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _setup_logging(settings=None, console: bool = False) -> None:
    from agent.logs import setup_logging

    level = settings.log.level if settings else "INFO"
    retention = settings.log.retention_days if settings else 30
    setup_logging(level=level, retention_days=retention, console=console)


def _load(args, *, keep_broken_companies: bool = False):
    """The settings file; ``keep_broken_companies`` for the commands that run companies (send,
    doctor): one company's wrong setting is that company's problem, the others still run."""
    from agent.settings import load_settings

    settings = load_settings(args.config, keep_broken_companies=keep_broken_companies)
    for warning in settings.warnings:
        _err(f"Uwaga: {warning}")
    return settings


# -- commands ------------------------------------------------------------------------------
def cmd_send(args) -> int:
    from agent.export.events import EventBus
    from agent.export.run import run_companies

    settings = _load(args, keep_broken_companies=True)
    _setup_logging(settings)
    settings.each_company(args.company)  # an unknown --company: a settings error before anything runs
    bus = EventBus()
    bus.subscribe(_print_progress)  # each line as its document finishes, not all at the end
    if args.dry_run:
        _out("Podgląd (--dry-run): nic nie zostanie zmienione ani w RaksSQL, ani w BaseLinker.")
    cancel = threading.Event()
    with _journal() as journal, _first_ctrl_c_cancels(cancel) as interrupted:
        try:
            total = run_companies(settings, company=args.company, dry_run=args.dry_run, limit=args.limit,
                                  trigger="cli", bus=bus, cancel=cancel, journal=journal)
        except (ConfigError, RunAborted) as exc:
            if not settings.several:
                raise  # a single-company file: main() says it, as it always did
            # One company of a list (--company, or a list of one): its line names it like the others.
            [view] = settings.each_company(args.company)
            _err(f"{_company_prefix(view.company)}{_setup_error_text(exc)}")
            return 2
    for summary in total.runs:
        prefix = _company_prefix(summary.company)
        if summary.setup_error is not None:
            _out(f"{prefix}{_setup_error_text(summary.setup_error)}")
            continue
        if not summary.results and not summary.aborted:
            _out(f"{prefix}Brak dokumentów do wysłania.")
        _out(prefix + format_summary(summary).replace("\n", "\n" + prefix))
    if len(total.runs) > 1:
        _out(_companies_total(total))
    if total.stopped:
        _out(f"Przerwano: {total.stopped}")
    if interrupted.is_set():
        return EXIT_INTERRUPTED
    return total.exit_code


EXIT_INTERRUPTED = 130  # the shell's convention for Ctrl+C


def _companies_total(total) -> str:
    """The last line of a run over several companies: their figures summed up."""
    from agent.notify_policy import plural

    n = len(total.runs)
    line = format_summary(total).split("\n", 1)[0]  # each company said already why it stopped
    return line.replace("Podsumowanie — ", f"Razem ({n} {plural(n, 'firma', 'firmy', 'firm')}) — ", 1)


def _company_prefix(company: str) -> str:
    """``"sklep-a: "`` before a line of a company's run ("" with a single-company file)."""
    return f"{company}: " if company else ""


def _setup_error_text(exc: Exception) -> str:
    """How a company that could not start is reported (as main() reports a single company)."""
    if isinstance(exc, ConfigError):
        return f"Błąd ustawień: {exc.detail}"
    return f"Przerwano: {exc}"


def _print_progress(event: object) -> None:
    """``raksbl send``'s listener: the run's notes, then one line per finished document, then
    BaseLinker's numbers of the documents it created (read in one go after the run). With
    several companies every line starts with the company's name."""
    from agent.export.events import DocumentFinished, NumbersRead, RunStarted

    if isinstance(event, RunStarted):
        for note in event.notes:
            _out(_company_prefix(event.company) + note)
    elif isinstance(event, DocumentFinished):
        _out(_company_prefix(event.company) + format_result_line(event.result))
    elif isinstance(event, NumbersRead):
        prefix = _company_prefix(event.company)
        _out(f"{prefix}Numery nadane przez BaseLinker:")
        for result in event.results:
            _out(f"{prefix}{document_label(result.ref.doc_type, result.ref.number):<34} → {result.outcome.bl_number}")


@contextlib.contextmanager
def _first_ctrl_c_cancels(cancel: threading.Event):
    """The first Ctrl+C ends the run cleanly after the current document (the report is printed);
    a second one stops at once. Either way the exit code is 130 and the message says "przerwano"."""
    interrupted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return

    def on_sigint(signum, frame):
        if interrupted.is_set():
            raise KeyboardInterrupt
        interrupted.set()
        cancel.set()
        _err("Przerywam (Ctrl+C): kończę bieżący dokument; naciśnij ponownie, aby przerwać natychmiast.")

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def _one_company(args, settings, command: str):
    """The one company a command acts on: ``--company``'s, or the file's only one; a settings
    error listing the names when a several-companies file leaves it open."""
    if getattr(args, "company", None):
        return settings.for_company(args.company)
    if len(settings.companies) > 1:
        raise ConfigError(
            f"Plik ustawień opisuje kilka firm ({', '.join(settings.company_names)}): wskaż jedną, "
            f"np. raksbl {command} --company {settings.company_names[0]}", "company")
    return settings.each_company()[0]


def cmd_doctor(args) -> int:
    from agent.export.run import shared_token_rates

    settings = _load(args, keep_broken_companies=True)
    _setup_logging(settings)
    views = settings.each_company(getattr(args, "company", None))
    rates = shared_token_rates(settings.each_company()) if settings.several else {}
    _out(f"Plik ustawień: {settings.path}")
    _out(f"Dziennik: {paths.journal_path()}")
    broken = []
    for view in views:
        if settings.several:
            _out("")
            _out(f"=== Firma {view.company} ===")
        if view.company_error is not None:
            _out(f"  BŁĄD ustawień: {view.company_error.detail}")
            broken.append(view.company)
        elif not _doctor_company(view, rates.get(view.company, view.baselinker.requests_per_minute)):
            broken.append(view.company)
    if settings.several and len(views) > 1:
        _out("")
        if broken:
            _out(f"Problemy: {', '.join(broken)} (szczegóły powyżej).")
        else:
            _out(f"Wszystkie firmy ({len(views)}) w porządku.")
    return 2 if broken else 0


def _secret_line(label: str, name: str, company: str) -> str:
    """Which secret a company uses — its own or the shared fallback — never the secret itself."""
    origin = secrets.secret_origin(name, company)
    if origin is None:
        return f"  {label}: brak (raksbl secret set {name}{f' --company {company}' if company else ''})"
    return f"  {label}: {origin}"


def _doctor_company(settings, rate: int) -> bool:
    """``raksbl doctor`` for one company (``settings`` is its view); True when all is well."""
    from agent.baselinker.client import BaseLinkerClient
    from agent.export import account
    from agent.baselinker.ratelimit import shared_limiter
    from agent.raks.repository import RaksRepository

    ok = True
    company = settings.company
    _out("")
    _out(f"BaseLinker ({settings.baselinker.api_url}):")
    _out(_secret_line("token", secrets.BASELINKER_TOKEN, company))
    try:
        token = secrets.get_secret(secrets.BASELINKER_TOKEN, company)
        client = BaseLinkerClient(token, settings.baselinker.api_url, shared_limiter(rate, token),
                                  timeout=float(settings.baselinker.timeout_seconds))
        series = client.call("getSeries").get("series") or []
        _out("  połączenie: OK")
        _out("  serie numeracji:")
        for s in series:
            mark = ""
            if int(s["id"]) == settings.baselinker.invoice_series_id and s.get("type") == "INVOICE":
                mark = "  ← faktury"
            if int(s["id"]) == settings.baselinker.receipt_series_id and s.get("type") == "RECEIPT":
                mark = "  ← paragony"
            if int(s["id"]) == settings.baselinker.correction_series_id and s.get("type") == "CORRECTION" \
                    and "KS" in settings.raks.document_types:
                mark = "  ← korekty"
            _out(f"    {s['id']:>8}  {s.get('type', ''):<10} {s.get('name', '')} ({s.get('format', '')}){mark}")
        for key, kind in (("invoice_series_id", "INVOICE"), ("receipt_series_id", "RECEIPT"),
                          ("correction_series_id", "CORRECTION")):
            wanted = getattr(settings.baselinker, key)
            if wanted and not any(int(s["id"]) == wanted and s.get("type") == kind for s in series):
                ok = False
                _out(f"  UWAGA: baselinker.{key} = {wanted} nie jest serią typu {kind} w BaseLinker")
        for kind, rule in account.SERIES_RULES.items():
            if getattr(settings.baselinker, rule.setting):
                continue
            if kind.doc_type != "FS" and kind.doc_type not in settings.raks.document_types:
                continue  # corrections are checked only when they are sent
            first = account.first_series(series, rule.series_type)
            if first is None:
                ok = False
                _out(f"  BŁĄD: baselinker.{rule.setting} = 0, a konto nie ma żadnej serii {rule.plural_gen} — "
                     f"{rule.plural} nie zostaną wysłane")
            else:
                _out(f"  {rule.plural}: {rule.setting} = 0 → pierwsza seria {rule.plural_gen} konta: "
                     f"{first.get('name', '')} (id {first['id']})")
        _out("  statusy zamówień:")
        for s in client.call("getOrderStatusList").get("statuses") or []:
            _out(f"    {s['id']:>8}  {s.get('name', '')}")
        _out("  pola dodatkowe zamówień:")
        extra_fields = client.call("getOrderExtraFields").get("extra_fields") or []
        for f in extra_fields:
            _out(f"    custom:{f['extra_field_id']:<8} {f.get('name', '')} ({f.get('editor_type', '')})")
        custom = settings.baselinker.custom_field_id
        if custom is not None:
            chosen = next((f for f in extra_fields if str(f.get("extra_field_id")) == str(custom)), None)
            if chosen is None or chosen.get("editor_type") != account.TEXT_FIELD:
                ok = False
                what = "nie istnieje" if chosen is None else f"jest typu {chosen.get('editor_type') or 'nieznanego'}"
                _out(f"  BŁĄD: baselinker.number_field = custom:{custom}: pole {what} — "
                     "numer można zapisać tylko w polu tekstowym (text)")
    except RaksblError as exc:
        ok = False
        _out(f"  BŁĄD: {exc}")
    _out("")
    _out(f"RaksSQL ({settings.raks.database}):")
    _out(_secret_line("hasło", secrets.RAKS_PASSWORD, company))
    try:
        password = secrets.get_secret(secrets.RAKS_PASSWORD, company)
        with RaksRepository(settings.raks, password) as repo:
            _out(f"  połączenie: OK, serwer {repo.server_version()}")
            _out(f"  biblioteka klienta Firebird: {_client_description()}")
            counts = repo.status_counts()
            _out("  statusy dokumentów (liczba dokumentów FS / PA):")
            for status_id, name in repo.statuses():
                fs, pa = counts.get((status_id, "FS"), 0), counts.get((status_id, "PA"), 0)
                role = ""
                if status_id in settings.raks.statuses_to_send:
                    role = "  ← do wysłania"
                elif status_id == settings.raks.status_after_send:
                    role = "  ← po wysłaniu"
                elif status_id == settings.raks.status_on_error:
                    role = "  ← po błędzie"
                _out(f"    {status_id:>4}  {name:<30} {fs:>6} / {pa:<6}{role}")
            pending = repo.pending_documents()
            without_pdf = sum(1 for d in pending if not d.has_pdf)
            _out(f"  czeka na wysłanie: {len(pending)} (bez PDF: {without_pdf})")
            if settings.raks.pdf_source == "folder":
                folder = Path(settings.raks.pdf_folder)
                _out(f"  wydruki PDF: pliki w {folder} (wzór {settings.raks.pdf_file_pattern})")
                if not folder.is_dir():
                    ok = False
                    _out(f"  BŁĄD: folder z wydrukami {folder} nie istnieje albo nie jest dostępny (raks.pdf_folder)")
    except RaksblError as exc:
        ok = False
        _out(f"  BŁĄD: {exc}")
    return ok


def _client_description() -> str:
    from agent import fbclient

    info = fbclient.loaded_client()
    return info.describe() if info else "nieznana"


def _journal():
    from agent.export.journal import Journal

    journal = Journal(paths.journal_path())
    if journal.recovery_message:
        _err(f"Uwaga: {journal.recovery_message}")
    return journal


def _journal_company(args) -> str | None:
    """The company ``--company`` names, as the settings spell it (None without the option).

    The journal knows companies only by name, so the settings say which names exist: an
    unknown one is a settings error listing the known ones."""
    if not getattr(args, "company", None):
        return None
    return _load(args).for_company(args.company).company


def cmd_history(args) -> int:
    company = _journal_company(args)
    with _journal() as journal:
        entries = journal.recent(args.limit, failed_only=args.failed, company=company)
        companies = {split_key(key)[0] for key in journal.database_keys()}
    if not entries:
        if company:
            _out(f"Dziennik nie ma wpisów firmy {company}." if not args.failed else f"Brak dokumentów firmy {company} z błędami.")
        else:
            _out("Dziennik jest pusty." if not args.failed else "Brak dokumentów z błędami.")
        return 0
    # A company column when the journal holds several companies' entries (not needed when
    # --company chose one).
    with_company = company is None and len(companies) > 1
    rows = []
    for e in entries:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.updated_at))
        detail = e.bl_number or (f"id {e.bl_doc_id}" if e.bl_doc_id else "")
        if e.state in ("failed", "in_doubt") and e.error:
            detail = e.error
        row = [str(e.id), when, document_label(e.doc_type, e.number), f"zam. {e.order_id or '?'}",
               STATE_PL.get(e.state, e.state), detail]
        if with_company:
            row.insert(2, e.company or "-")
        rows.append(row)
    # Columns as wide as their longest value: a long number or state never runs into the next one.
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        cells = [f"{r[0]:>{widths[0]}}", r[1]] + [f"{c:<{w}}" for c, w in zip(r[2:-1], widths[2:])] + [r[-1]]
        _out("  ".join(cells).rstrip())
    return 0


def _journal_entry(journal, entry_id: int, company: str | None):
    """The entry ``entry_id`` of ``retry`` / ``skip`` (of ``company``, when ``--company`` named
    one), or None after saying why not."""
    entry = journal.by_id(entry_id)
    if entry is None:
        _err(f"Nie ma wpisu {entry_id} w dzienniku.")
        return None
    if company is not None and entry.company != company:
        label = f"Wpis {entry_id} ({document_label(entry.doc_type, entry.number)})"
        if entry.company:
            why = f"{label} należy do firmy {entry.company}, nie do firmy {company}"
        else:  # adopted by the company on the same database at its next run (export.dbkey)
            why = (f"{label} pochodzi sprzed listy firm i nie należy jeszcze do firmy {company} "
                   "(przejmie go przy najbliższej wysyłce firma, która używa tej samej bazy)")
        _err(f"{why} — nic nie zmieniono. Sprawdź numer: raksbl history --company {company}")
        return None
    return entry


def cmd_retry(args) -> int:
    from agent.export.journal import AlreadySent

    company = _journal_company(args)
    with _journal() as journal:
        entry = _journal_entry(journal, args.id, company)
        if entry is None:
            return 2
        prefix = _company_prefix(entry.company)
        if entry.state == "in_doubt" and not args.yes:
            confirm = f"raksbl retry --yes {args.id}" + (f" --company {entry.company}" if entry.company else "")
            _err(
                f"{prefix}Dokument {entry.number} wymaga sprawdzenia: {entry.error}\n"
                "Ponowienie najpierw sprawdzi zamówienie w BaseLinker, ale jeśli ktoś usunął tam fakturę, "
                "powstanie nowa. Sprawdź zamówienie i potwierdź: " + confirm
            )
            return 1
        try:
            journal.allow_retry(args.id)
        except AlreadySent:
            _err(f"{prefix}Dokument {entry.number} został już wysłany. Aby wysłać ponownie jego aktualny PDF (np. po "
                 "poprawce), ustaw w RaksSQL jego status z powrotem na „do wysłania”: PDF trafi do tego samego "
                 "dokumentu w BaseLinker.")
            return 1
    _out(f"{prefix}Dokument {entry.number} zostanie wysłany przy następnym uruchomieniu "
         "(o ile w RaksSQL ma status do wysłania).")
    return 0


def cmd_skip(args) -> int:
    from agent.export.journal import AlreadySent

    company = _journal_company(args)
    with _journal() as journal:
        entry = _journal_entry(journal, args.id, company)
        if entry is None:
            return 2
        prefix = _company_prefix(entry.company)
        try:
            journal.skip(args.id)
        except AlreadySent:
            _err(f"{prefix}Dokument {entry.number} został już wysłany.")
            return 1
    _out(f"{prefix}Dokument {entry.number} nie będzie wysyłany (cofniesz to poleceniem: raksbl retry {args.id}).")
    return 0


def cmd_inspect_db(args) -> int:
    from agent.raks import propose as _propose
    from agent.raks.connection import open_connection
    from agent.raks.inspect import PURPOSE_LABELS, group_by_purpose, inspect_database
    from agent.settings import update_settings

    settings = _load(args)
    _setup_logging(settings)
    view = _one_company(args, settings, "inspect-db")
    password = secrets.get_secret(secrets.RAKS_PASSWORD, view.company)
    s = view.raks
    if view.company:
        _out(f"Firma {view.company} ({s.database})")
    # Not through RaksRepository: it checks the current profile first, and adapting a profile
    # that does not fit this database is exactly what this command is for.
    conn, _ = open_connection(s.database, s.user, password, charset=s.charset or "WIN1250",
                              client_library=s.client_library or "")
    try:
        if not (args.propose or args.write):
            candidates = inspect_database(conn)
        else:
            try:
                prop = _propose.propose(conn, s, folder=args.pdf_folder or "", status=args.status or "",
                                        pdf=args.pdf or "", order=args.order_id or "")
            except _propose.ProposalError as exc:
                _err(str(exc))
                return 2
    finally:
        conn.close()
    if not (args.propose or args.write):
        if not candidates:
            _out("Nie znaleziono kandydatów.")
            return 0
        for purpose, group in group_by_purpose(candidates).items():
            if not group:
                continue
            _out(f"\n[{PURPOSE_LABELS.get(purpose, purpose)}]")
            for c in group:
                _out(f"  {c.label:<50} {c.type}".rstrip())
        _out("\nPropozycja całego profilu: raksbl inspect-db --propose")
        return 0
    changes = _propose.build_changes(prop, s)
    _out(_propose.render(prop, changes))
    if not args.write:
        return 0
    if prop.ambiguous:
        _err("Nie zapisano: baza ma więcej niż jedną prawdopodobną kolumnę statusu — wskaż ją opcją --status.")
        return 1
    if prop.chosen("status") is None:
        _err("Nie zapisano: nie znaleziono statusu dokumentów (zob. UWAGA powyżej).")
        return 1
    label = f"raksbl inspect-db --propose {time.strftime('%Y-%m-%d %H:%M')}"
    update_settings(settings.path, changes, keep_replaced=label, company=view.company)
    where = f" (firma {view.company})" if view.company else ""
    _out(f"\nZapisano w {settings.path}{where} (poprzednie wartości zostały tam jako komentarze).\n")
    args.company = view.company or None  # doctor checks the company just written
    return cmd_doctor(args)


def cmd_init(args) -> int:
    from agent.settings import write_default_settings

    path = paths.config_path(args.config)
    if args.companies is None:
        write_default_settings(path)
        _out(f"Utworzono plik ustawień: {path}")
        _out("Token i hasło zapisz poleceniami: raksbl secret set baselinker-token / raksbl secret set raks-password")
        return 0
    names = [name.strip() for name in args.companies.split(",") if name.strip()]
    text = _companies_template(names, path)
    if path.exists():
        raise ConfigError(f"Plik ustawień {path} już istnieje.", "file")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    _out(f"Utworzono plik ustawień dla firm {', '.join(names)}: {path}")
    _out("Wpisz w nim bazę RaksSQL każdej firmy ([company.raks] database). Token i hasło każdej firmy zapisz "
         f"poleceniami: raksbl secret set baselinker-token --company {names[0]} / raksbl secret set raks-password "
         f"--company {names[0]} (bez --company: wspólne dla firm bez własnych)")
    return 0


def _companies_template(names: list[str], path: Path) -> str:
    """``raksbl init --companies a,b``: the commented template with a ``[[company]]`` per name
    (the template's [baselinker] / [raks] in each; databases F00001.fdb, F00002.fdb, …).
    Validated like any settings file (names, uniqueness): ConfigError before anything is written."""
    import copy

    import tomlkit

    from agent.settings import DEFAULT_SETTINGS_TEXT, parse_settings

    if not names:
        raise ConfigError("Podaj nazwy firm po przecinku, np. raksbl init --companies sklep-a,sklep-b", "company")
    doc = tomlkit.parse(DEFAULT_SETTINGS_TEXT)
    baselinker, raks = doc.pop("baselinker"), doc.pop("raks")
    companies = tomlkit.aot()
    for number, name in enumerate(names, 1):
        company = tomlkit.table()
        company.add("name", name)
        company.add("baselinker", copy.deepcopy(baselinker))
        company_raks = copy.deepcopy(raks)
        company_raks["database"] = f"localhost:C:/RAKS/Data/F{number:05d}.fdb"
        company.add("raks", company_raks)
        companies.append(company)
    doc.add("company", companies)
    text = tomlkit.dumps(doc).replace("# [raks.queries]", "# [company.raks.queries]")
    parse_settings(text, path)  # never write a file that would not load
    return text


def cmd_secret(args) -> int:
    if args.name not in (secrets.BASELINKER_TOKEN, secrets.RAKS_PASSWORD):
        _err(f"Nieznany sekret {args.name}; dozwolone: {secrets.BASELINKER_TOKEN}, {secrets.RAKS_PASSWORD}")
        return 2
    # A company's own secret: the settings must name the company (its spelling is the keyring
    # name, baselinker-token/sklep-a). Without --company: the shared one (every company's fallback).
    company = _journal_company(args) or ""
    whose = f" firmy {company}" if company else ""
    delete_hint = f"raksbl secret delete {args.name}" + (f" --company {company}" if company else "")
    if args.action == "delete":
        secrets.delete_secret(args.name, company)
        _out(f"Usunięto{whose}." if company else "Usunięto.")
        return 0
    value = sys.stdin.readline().rstrip("\r\n") if not sys.stdin.isatty() else getpass.getpass(f"{args.name}{whose}: ")
    if not value.strip():
        _err(f"Nie podano wartości — nic nie zmieniono. Aby usunąć zapisany sekret: {delete_hint}")
        return 2
    secrets.set_secret(args.name, value.strip(), company)
    _out(f"Zapisano w magazynie haseł systemu (nazwa {secrets.keyring_name(args.name, company)}).")
    return 0


def cmd_sandbox(args) -> int:
    from agent.sandbox import UNDOCUMENTED_VARIANTS, main as sandbox_main

    if args.variant and args.variant not in UNDOCUMENTED_VARIANTS:
        _err(f"Nieznany wariant {args.variant!r}; dostępne: {', '.join(sorted(UNDOCUMENTED_VARIANTS))}.")
        return 2

    argv = ["--port", str(args.port)]
    if args.token:
        argv += ["--token", args.token]
    if args.rpm:
        argv += ["--rpm", str(args.rpm)]
    if args.seed:
        argv += ["--seed", args.seed]
    if args.variant:
        argv += ["--variant", args.variant]
    if args.duplicates:
        argv += ["--duplicates", args.duplicates]
    return sandbox_main(argv)


def cmd_demo(args) -> int:
    from agent.demo import run_demo

    _setup_logging()
    return run_demo(_out, keep_running=args.keep)


def cmd_tray(args) -> int:
    from ui.app import main as tray_main  # the GUI lives in ui/, imported only here

    return tray_main(args.config)


def cmd_settings(args) -> int:
    from ui.settings import run_standalone  # the GUI lives in ui/, imported only here

    return run_standalone(args.config)


EXIT_CONFIG = 2
EXIT_ALREADY_RUNNING = 3  # another agent holds the lock (the tray exits with the same code)


def cmd_run(args, run_fn=None) -> int:
    """``raksbl run``: :func:`agent.service.run_service`; this prints what it has to say at start."""
    from agent.instance import AlreadyRunning
    from agent.service import run_service

    try:
        return run_service(args.config, run_fn=run_fn)
    except AlreadyRunning as exc:
        _err(exc.user_message)
        return EXIT_ALREADY_RUNNING
    except ConfigError as exc:
        _err(exc.user_message)
        return EXIT_CONFIG


# argparse's own words (usage, options, errors), in Polish: --help must not be half English.
_ARGPARSE_PL = {
    "usage: ": "użycie: ",
    "positional arguments": "argumenty",
    "options": "opcje",
    "optional arguments": "opcje",
    "show this help message and exit": "pokaż tę pomoc i zakończ",
    "show program's version number and exit": "pokaż wersję programu i zakończ",
    "%(prog)s: error: %(message)s\n": "%(prog)s: błąd: %(message)s\n",
    "the following arguments are required: %s": "brakuje wymaganych argumentów: %s",
    "unrecognized arguments: %s": "nieznane argumenty: %s",
    "invalid choice: %(value)r (choose from %(choices)s)": "niedozwolona wartość: %(value)r (dozwolone: %(choices)s)",
    "argument %(argument_name)s: %(message)s": "argument %(argument_name)s: %(message)s",
    "expected one argument": "oczekiwano jednej wartości",
    "invalid %(type)s value: %(value)r": "niepoprawna wartość: %(value)r",
    "ambiguous option: %(option)s could match %(matches)s": "niejednoznaczna opcja: %(option)s pasuje do %(matches)s",
    "not allowed with argument %s": "nie można łączyć z argumentem %s",
    "ignored explicit argument %r": "zignorowano argument %r",
}


@contextlib.contextmanager
def _polish_argparse():
    """Translate argparse's messages while our parser runs (restored after: no global side effect)."""
    original = argparse._  # type: ignore[attr-defined]
    argparse._ = lambda text: _ARGPARSE_PL.get(text, original(text))  # type: ignore[attr-defined]
    try:
        yield
    finally:
        argparse._ = original  # type: ignore[attr-defined]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="raksbl",
        description="Wysyła faktury i paragony z RaksSQL (z PDF) do zamówień w BaseLinker.",
    )
    parser.add_argument("--version", action="version", version=f"raksbl {__version__}",
                        help="pokaż wersję programu i zakończ")
    parser.add_argument("--config", metavar="PLIK", help="plik ustawień (domyślnie: %s)" % paths.config_path(None))
    sub = parser.add_subparsers(dest="command", metavar="POLECENIE", title="polecenia")

    def add(name: str, func, help_text: str):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--config", default=argparse.SUPPRESS, metavar="PLIK", help="plik ustawień")
        p.set_defaults(func=func)
        return p

    p = add("send", cmd_send, "wyślij teraz dokumenty czekające na wysłanie")
    p.add_argument("--dry-run", action="store_true", help="pokaż, co zostałoby wysłane, niczego nie zmieniając")
    p.add_argument("--limit", type=_positive_int, metavar="N",
                   help="wyślij najwyżej N dokumentów każdej firmy (co najmniej 1)")
    p.add_argument("--company", metavar="FIRMA", help="tylko ta firma (nazwa z listy [[company]] w ustawieniach)")
    def company_option(p, help_text: str):
        p.add_argument("--company", metavar="FIRMA", help=help_text)

    p = add("doctor", cmd_doctor, "sprawdź połączenia i pokaż serie, statusy, pola")
    company_option(p, "tylko ta firma (bez opcji: każda firma z listy [[company]])")
    p = add("history", cmd_history, "ostatnie dokumenty z dziennika")
    p.add_argument("--failed", action="store_true", help="tylko błędy i dokumenty do sprawdzenia")
    p.add_argument("--limit", type=_positive_int, default=50, metavar="N", help="pokaż najwyżej N wpisów")
    company_option(p, "tylko dokumenty tej firmy")
    p = add("retry", cmd_retry, "wyślij ponownie dokument z dziennika (numer z 'history')")
    p.add_argument("id", type=_positive_int, help="numer wpisu z 'raksbl history'")
    p.add_argument("--yes", action="store_true", help="potwierdź ponowienie dokumentu wymagającego sprawdzenia")
    company_option(p, "odmów, jeśli wpis należy do innej firmy")
    p = add("skip", cmd_skip, "nigdy nie wysyłaj dokumentu z dziennika")
    p.add_argument("id", type=_positive_int, help="numer wpisu z 'raksbl history'")
    company_option(p, "odmów, jeśli wpis należy do innej firmy")
    p = add("inspect-db", cmd_inspect_db, "pokaż tabele/kolumny bazy RaksSQL przydatne do dopasowania profilu")
    company_option(p, "baza tej firmy (wymagane, gdy plik ustawień opisuje kilka firm)")
    p.add_argument("--propose", action="store_true", help="zaproponuj cały profil (z uzasadnieniem), tylko odczyt")
    p.add_argument("--write", action="store_true", help="zapisz propozycję w pliku ustawień i sprawdź ją jak doctor")
    p.add_argument("--pdf-folder", help="folder, do którego RaksSQL zapisuje wydruki PDF")
    p.add_argument("--status", help="kolumna statusu, gdy propozycja jest niejednoznaczna (np. GM_FS.ID_STATUSU)")
    p.add_argument("--pdf", help="wybierz inne źródło PDF spośród kandydatów (etykieta z propozycji)")
    p.add_argument("--order-id", help="wybierz inną kolumnę numeru zamówienia (np. GM_FS.SYGNATURA)")
    p = add("init", cmd_init, "utwórz plik ustawień z szablonu")
    p.add_argument("--companies", metavar="FIRMA,FIRMA",
                   help="szablon z listą firm [[company]] (nazwy po przecinku), np. sklep-a,sklep-b")
    p = add("secret", cmd_secret, "zapisz token/hasło w magazynie haseł systemu")
    p.add_argument("action", choices=["set", "delete"], metavar="set|delete",
                   help="set: zapisz (wartość z klawiatury albo ze standardowego wejścia); delete: usuń")
    p.add_argument("name", metavar="NAZWA", help=f"{secrets.BASELINKER_TOKEN} | {secrets.RAKS_PASSWORD}")
    company_option(p, "sekret tej firmy (bez opcji: wspólny, dla firm bez własnego)")
    p = add("sandbox", cmd_sandbox, "uruchom lokalną piaskownicę BaseLinker")
    p.add_argument("--port", type=_port, default=8765, help="port na 127.0.0.1 (domyślnie 8765)")
    p.add_argument("--token", help="token, który piaskownica przyjmie")
    p.add_argument("--rpm", type=_positive_int, help="limit zapytań na minutę")
    p.add_argument("--seed", metavar="PLIK", help="plik JSON z danymi startowymi")
    p.add_argument("--variant", metavar="WARIANT",
                   help="nieudokumentowane zachowanie BaseLinker do sprawdzenia (nieznana nazwa pokaże dostępne)")
    p.add_argument("--duplicates", choices=("allow", "refuse"),
                   help="czy piaskownica przyjmuje drugi dokument z tym samym numerem (allow | refuse)")
    p = add("demo", cmd_demo, "pokaz: baza demo + piaskownica + jedna wysyłka")
    p.add_argument("--keep", action="store_true", help="zostaw piaskownicę uruchomioną po pokazie")
    add("settings", cmd_settings, "otwórz okno ustawień (0 = zapisano, 1 = anulowano)")
    add("tray", cmd_tray, "uruchom agenta w zasobniku systemowym (domyślne)")
    add("run", cmd_run, "uruchom automatyczną synchronizację bez ikony (serwer/usługa)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["--raks-probe"]:  # internal: the settings dialog's test with another client
        from agent.raks.probe import child_main

        return child_main()
    make_output_safe()
    with _polish_argparse():
        parser = build_parser()
        args = parser.parse_args(argv)
    if not getattr(args, "config", None):
        args.config = None
    if args.command is None:
        args.func = cmd_tray
    try:
        return args.func(args)
    except ConfigError as exc:
        _err(f"Błąd ustawień: {exc}")
        return 2
    except StorageError as exc:
        _err(f"Błąd: {exc}")
        return 2
    except RunAborted as exc:
        _err(f"Przerwano: {exc}")
        return 2
    except RaksblError as exc:
        _err(f"Błąd: {exc}")
        return 2
    except KeyboardInterrupt:
        _err("Przerwano (Ctrl+C).")
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
