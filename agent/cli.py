"""The ``raksbl`` command line: the only module that prints.

Exit codes of ``send``: 0 every pending document sent (or nothing to send); 1 some documents
were not sent (failed, in doubt, deferred, capped); 2 configuration or connection error
(nothing attempted). ``doctor``: 0 both connections work, 2 otherwise.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
import time
from pathlib import Path

from agent import __version__, paths, secrets
from agent.errors import ConfigError, RaksblError, RunAborted

log = logging.getLogger(__name__)

RESULT_PL = {
    "sent": "wysłano",
    "would_send": "do wysłania",
    "failed": "BŁĄD",
    "in_doubt": "WYMAGA SPRAWDZENIA",
    "deferred": "odłożono",
    "skipped": "pominięto",
}
STATE_PL = {
    "pending": "oczekuje",
    "creating": "w trakcie (tworzenie)",
    "created": "w trakcie (utworzono)",
    "attached": "w trakcie (PDF dołączony)",
    "bl_done": "w trakcie (status RaksSQL)",
    "done": "wysłano",
    "failed": "błąd",
    "in_doubt": "wymaga sprawdzenia",
    "skipped": "pominięty",
}


def _out(text: str = "") -> None:
    print(text, flush=True)


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _setup_logging(settings=None, console: bool = False) -> None:
    from agent.logs import setup_logging

    level = settings.log.level if settings else "INFO"
    retention = settings.log.retention_days if settings else 30
    setup_logging(level=level, retention_days=retention, console=console)


def _load(args):
    from agent.settings import load_settings

    return load_settings(args.config)


def plural(n: int, one: str, few: str, many: str) -> str:
    """Polish plural: 1 dokument, 2 dokumenty, 5 dokumentów."""
    if n == 1:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def format_result_line(result) -> str:
    ref, outcome = result.ref, result.outcome
    order = f"zam. {ref.order_id}" if ref.order_id is not None else "zam. ?"
    text = RESULT_PL[outcome.result]
    if outcome.result == "sent":
        number = outcome.bl_number or (f"id {outcome.bl_doc_id}" if outcome.bl_doc_id else "")
        text += f" → BaseLinker {number}".rstrip()
        if outcome.reason:
            text += f" ({outcome.reason})"
    elif outcome.reason:
        text += f": {outcome.reason}"
    return f"{ref.doc_type:<3}{ref.number:<32} {order:<16} {text}"


def format_summary(summary) -> str:
    parts = [
        f"{'do wysłania' if summary.dry_run else 'wysłano'}: {len(summary.sent)}",
        f"błędy: {len(summary.failed)}",
        f"wymaga sprawdzenia: {len(summary.in_doubt)}",
        f"odłożono: {len(summary.deferred)}",
        f"pominięto: {len(summary.skipped)}",
    ]
    if summary.not_attempted:
        parts.append(f"na następny raz: {summary.not_attempted}")
    took = (summary.finished_at or time.time()) - summary.started_at
    text = "Podsumowanie — " + ", ".join(parts) + f". Wywołań API: {summary.api_calls}, czas: {took:.1f} s."
    if summary.aborted:
        text += f"\nPrzerwano: {summary.aborted}"
    return text


# -- commands ------------------------------------------------------------------------------
def cmd_send(args) -> int:
    from agent.export.events import EventBus
    from agent.export.run import run_export

    settings = _load(args)
    _setup_logging(settings)
    bus = EventBus()
    if args.dry_run:
        _out("Podgląd (--dry-run): nic nie zostanie zmienione ani w RaksSQL, ani w BaseLinker.")
    summary = run_export(settings, dry_run=args.dry_run, limit=args.limit, trigger="cli", bus=bus)
    for note in summary.notes:
        _out(note)
    if not summary.results and not summary.aborted:
        _out("Brak dokumentów do wysłania.")
    for result in summary.results:
        _out(format_result_line(result))
    _out(format_summary(summary))
    if summary.aborted and not summary.results:
        return 2
    return 0 if summary.ok else 1


def cmd_doctor(args) -> int:
    from agent.baselinker.client import BaseLinkerClient
    from agent.export import account
    from agent.baselinker.ratelimit import shared_limiter
    from agent.raks.repository import RaksRepository

    settings = _load(args)
    _setup_logging(settings)
    ok = True
    _out(f"Plik ustawień: {settings.path}")
    _out(f"Dziennik: {paths.journal_path()}")
    _out("")
    _out(f"BaseLinker ({settings.baselinker.api_url}):")
    try:
        token = secrets.get_secret(secrets.BASELINKER_TOKEN)
        client = BaseLinkerClient(token, settings.baselinker.api_url, shared_limiter(settings.baselinker.requests_per_minute),
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
            _out(f"    {s['id']:>8}  {s.get('type', ''):<10} {s.get('name', '')} ({s.get('format', '')}){mark}")
        for key, kind in (("invoice_series_id", "INVOICE"), ("receipt_series_id", "RECEIPT")):
            wanted = getattr(settings.baselinker, key)
            if wanted and not any(int(s["id"]) == wanted and s.get("type") == kind for s in series):
                ok = False
                _out(f"  UWAGA: baselinker.{key} = {wanted} nie jest serią typu {kind} w BaseLinker")
        if not settings.baselinker.invoice_series_id:
            first = account.first_invoice_series(series)
            if first is None:
                ok = False
                _out("  BŁĄD: baselinker.invoice_series_id = 0, a konto nie ma żadnej serii faktur — "
                     "faktury nie zostaną wysłane")
            else:
                _out(f"  faktury: invoice_series_id = 0 → pierwsza seria faktur konta: "
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
    try:
        password = secrets.get_secret(secrets.RAKS_PASSWORD)
        with RaksRepository(settings.raks, password) as repo:
            _out(f"  połączenie: OK, serwer {repo.server_version()}")
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
    except RaksblError as exc:
        ok = False
        _out(f"  BŁĄD: {exc}")
    return 0 if ok else 2


def _journal():
    from agent.export.journal import Journal

    return Journal(paths.journal_path())


def cmd_history(args) -> int:
    with _journal() as journal:
        entries = journal.recent(args.limit, failed_only=args.failed)
    if not entries:
        _out("Dziennik jest pusty." if not args.failed else "Brak dokumentów z błędami.")
        return 0
    for e in entries:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.updated_at))
        detail = e.bl_number or (f"id {e.bl_doc_id}" if e.bl_doc_id else "")
        if e.state in ("failed", "in_doubt") and e.error:
            detail = e.error
        _out(f"{e.id:>6}  {when}  {e.doc_type:<3}{e.number:<28} zam. {str(e.order_id or '?'):<12} "
             f"{STATE_PL.get(e.state, e.state):<22} {detail}")
    return 0


def cmd_retry(args) -> int:
    with _journal() as journal:
        entry = journal.by_id(args.id)
        if entry is None:
            _err(f"Nie ma wpisu {args.id} w dzienniku.")
            return 2
        if entry.state == "in_doubt" and not args.yes:
            _err(
                f"Dokument {entry.number} wymaga sprawdzenia: {entry.error}\n"
                "Ponowienie najpierw sprawdzi zamówienie w BaseLinker, ale jeśli ktoś usunął tam fakturę, "
                "powstanie nowa. Sprawdź zamówienie i potwierdź: raksbl retry --yes " + str(args.id)
            )
            return 1
        try:
            journal.allow_retry(args.id)
        except ValueError:
            _err(f"Dokument {entry.number} został już wysłany.")
            return 1
    _out(f"Dokument {entry.number} zostanie wysłany przy następnym uruchomieniu "
         "(o ile w RaksSQL ma status do wysłania).")
    return 0


def cmd_skip(args) -> int:
    with _journal() as journal:
        entry = journal.by_id(args.id)
        if entry is None:
            _err(f"Nie ma wpisu {args.id} w dzienniku.")
            return 2
        try:
            journal.skip(args.id)
        except ValueError:
            _err(f"Dokument {entry.number} został już wysłany.")
            return 1
    _out(f"Dokument {entry.number} nie będzie wysyłany (cofniesz to poleceniem: raksbl retry {args.id}).")
    return 0


def cmd_inspect_db(args) -> int:
    from agent.raks.inspect import PURPOSE_LABELS, group_by_purpose
    from agent.raks.repository import RaksRepository

    settings = _load(args)
    _setup_logging(settings)
    password = secrets.get_secret(secrets.RAKS_PASSWORD)
    with RaksRepository(settings.raks, password) as repo:
        candidates = repo.inspect()
    if not candidates:
        _out("Nie znaleziono kandydatów.")
        return 0
    for purpose, group in group_by_purpose(candidates).items():
        if not group:
            continue
        _out(f"\n[{PURPOSE_LABELS.get(purpose, purpose)}]")
        for c in group:
            _out(f"  {c.label:<50} {c.type}".rstrip())
    return 0


def cmd_init(args) -> int:
    from agent.settings import write_default_settings

    path = paths.config_path(args.config)
    write_default_settings(path)
    _out(f"Utworzono plik ustawień: {path}")
    _out("Token i hasło zapisz poleceniami: raksbl secret set baselinker-token / raksbl secret set raks-password")
    return 0


def cmd_secret(args) -> int:
    if args.name not in (secrets.BASELINKER_TOKEN, secrets.RAKS_PASSWORD):
        _err(f"Nieznany sekret {args.name}; dozwolone: {secrets.BASELINKER_TOKEN}, {secrets.RAKS_PASSWORD}")
        return 2
    if args.action == "delete":
        secrets.delete_secret(args.name)
        _out("Usunięto.")
        return 0
    value = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else getpass.getpass(f"{args.name}: ")
    secrets.set_secret(args.name, value)
    _out("Zapisano w magazynie haseł systemu.")
    return 0


def cmd_sandbox(args) -> int:
    from agent.baselinker.sandbox import main as sandbox_main

    argv = ["--port", str(args.port)]
    if args.token:
        argv += ["--token", args.token]
    if args.rpm:
        argv += ["--rpm", str(args.rpm)]
    if args.seed:
        argv += ["--seed", args.seed]
    return sandbox_main(argv)


def cmd_demo(args) -> int:
    from agent.demo import run_demo

    _setup_logging()
    return run_demo(keep_running=args.keep)


def cmd_tray(args) -> int:
    from ui.app import main as tray_main  # the GUI lives in ui/, imported only here

    return tray_main(args.config)


def cmd_settings(args) -> int:
    from ui.settings import run_standalone  # the GUI lives in ui/, imported only here

    return run_standalone(args.config)


def cmd_run(args) -> int:
    from agent.autosync import run_headless

    return run_headless(args.config)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="raksbl",
        description="Wysyła faktury i paragony z RaksSQL (z PDF) do zamówień w BaseLinker.",
    )
    parser.add_argument("--version", action="version", version=f"raksbl {__version__}")
    parser.add_argument("--config", help="plik ustawień (domyślnie: %s)" % paths.config_path(None))
    sub = parser.add_subparsers(dest="command")

    def add(name: str, func, help_text: str):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--config", default=argparse.SUPPRESS, help="plik ustawień")
        p.set_defaults(func=func)
        return p

    p = add("send", cmd_send, "wyślij teraz dokumenty czekające na wysłanie")
    p.add_argument("--dry-run", action="store_true", help="pokaż, co zostałoby wysłane, niczego nie zmieniając")
    p.add_argument("--limit", type=int, help="wyślij najwyżej N dokumentów")
    add("doctor", cmd_doctor, "sprawdź połączenia i pokaż serie, statusy, pola")
    p = add("history", cmd_history, "ostatnie dokumenty z dziennika")
    p.add_argument("--failed", action="store_true", help="tylko błędy i dokumenty do sprawdzenia")
    p.add_argument("--limit", type=int, default=50)
    p = add("retry", cmd_retry, "wyślij ponownie dokument z dziennika (numer z 'history')")
    p.add_argument("id", type=int)
    p.add_argument("--yes", action="store_true", help="potwierdź ponowienie dokumentu wymagającego sprawdzenia")
    p = add("skip", cmd_skip, "nigdy nie wysyłaj dokumentu z dziennika")
    p.add_argument("id", type=int)
    add("inspect-db", cmd_inspect_db, "pokaż tabele/kolumny bazy RaksSQL przydatne do dopasowania profilu")
    add("init", cmd_init, "utwórz plik ustawień z szablonu")
    p = add("secret", cmd_secret, "zapisz token/hasło w magazynie haseł systemu")
    p.add_argument("action", choices=["set", "delete"])
    p.add_argument("name", help=f"{secrets.BASELINKER_TOKEN} | {secrets.RAKS_PASSWORD}")
    p = add("sandbox", cmd_sandbox, "uruchom lokalną piaskownicę BaseLinker")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--token")
    p.add_argument("--rpm", type=int)
    p.add_argument("--seed", help="plik JSON z danymi startowymi")
    p = add("demo", cmd_demo, "pokaz: baza demo + piaskownica + jedna wysyłka")
    p.add_argument("--keep", action="store_true", help="zostaw piaskownicę uruchomioną po pokazie")
    add("settings", cmd_settings, "otwórz okno ustawień (0 = zapisano, 1 = anulowano)")
    add("tray", cmd_tray, "uruchom agenta w zasobniku systemowym (domyślne)")
    add("run", cmd_run, "uruchom automatyczną synchronizację bez ikony (serwer/usługa)")
    return parser


def main(argv: list[str] | None = None) -> int:
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
    except RunAborted as exc:
        _err(f"Przerwano: {exc}")
        return 2
    except RaksblError as exc:
        _err(f"Błąd: {exc}")
        return 2
    except KeyboardInterrupt:
        _err("Przerwano.")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
