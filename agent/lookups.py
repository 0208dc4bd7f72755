"""Live look-ups for the settings dialog: what BaseLinker and RaksSQL offer to choose from.

The dialog never asks the user to type an id: numbering series, order statuses and extra
fields come from BaseLinker (``getSeries``, ``getOrderStatusList``, ``getOrderExtraFields``),
document statuses with their counts and the server version from RaksSQL. Each look-up is one
blocking call meant for a worker thread; it doubles as the "Testuj połączenie" check, so its
errors are turned into sentences a shop owner understands (:func:`describe_error`).

No GUI imports here (``agent/`` stays headless).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from agent.baselinker.errors import AuthError, BaseLinkerError, BlockedError, TransportError
from agent.errors import RaksblError

log = logging.getLogger(__name__)

#: A look-up from the dialog must answer quickly; a slow API is an answer in itself.
LOOKUP_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class Series:
    id: int
    type: str          # INVOICE | RECEIPT | ...
    name: str
    format: str = ""


@dataclass(frozen=True)
class OrderStatus:
    id: int
    name: str


@dataclass(frozen=True)
class ExtraField:
    id: int
    name: str
    editor_type: str = ""


@dataclass(frozen=True)
class BaseLinkerCatalog:
    """What the BaseLinker account offers to the settings."""

    series: tuple[Series, ...] = ()
    order_statuses: tuple[OrderStatus, ...] = ()
    extra_fields: tuple[ExtraField, ...] = ()

    def series_of_type(self, series_type: str) -> list[Series]:
        return [s for s in self.series if s.type == series_type]

    def summary(self) -> str:
        invoices, receipts = len(self.series_of_type("INVOICE")), len(self.series_of_type("RECEIPT"))
        return (f"Połączenie działa. Serie numeracji: faktury {invoices}, paragony {receipts}; "
                f"statusy zamówień: {len(self.order_statuses)}; pola dodatkowe: {len(self.extra_fields)}.")


@dataclass(frozen=True)
class RaksCatalog:
    """What the RaksSQL database offers: its status dictionary and how many documents are in each."""

    server_version: str = ""
    statuses: tuple[tuple[int, str], ...] = ()
    counts: dict[tuple[int | None, str], int] = field(default_factory=dict)
    client: str = ""          # the Firebird client library in use and its version (fbclient.ClientInfo.describe)
    client_note: str = ""     # a changed raks.client_library that needs a restart (fbclient.client_switch_note)

    def count(self, status_id: int | None, doc_type: str | None = None) -> int:
        return sum(n for (s, t), n in self.counts.items() if s == status_id and (doc_type is None or t == doc_type))

    def summary(self) -> str:
        lines = [f"Połączenie działa. Serwer Firebird {self.server_version}."]
        if self.client:
            lines.append(f"Biblioteka klienta: {self.client}.")
        if self.client_note:
            lines.append(f"UWAGA: {self.client_note}")
        if self.statuses:
            lines.append("Dokumenty wg statusu (faktury / paragony):")
            for status_id, name in self.statuses:
                lines.append(f"  {name}: {self.count(status_id, 'FS')} / {self.count(status_id, 'PA')}")
        else:
            lines.append("Słownik statusów dokumentów jest pusty.")
        return "\n".join(lines)


def load_baselinker_catalog(
    token: str,
    api_url: str,
    *,
    requests_per_minute: int = 100,
    timeout: float = LOOKUP_TIMEOUT_SECONDS,
    cancel: threading.Event | None = None,
) -> BaseLinkerCatalog:
    """Series, order statuses and extra fields of the account (three API calls).

    Uses the process-wide rate limiter: the budget belongs to the token, and the tray agent may
    be exporting in the same process. Raises :class:`BaseLinkerError` subclasses or
    :class:`agent.errors.ConfigError` (empty token).
    """
    from agent.baselinker.client import BaseLinkerClient
    from agent.baselinker.ratelimit import shared_limiter

    client = BaseLinkerClient(token, api_url, shared_limiter(requests_per_minute, token), timeout=timeout,
                              connect_timeout=min(timeout, 10.0), cancel=cancel)
    series = tuple(
        Series(int(s["id"]), str(s.get("type", "")), str(s.get("name", "")), str(s.get("format", "")))
        for s in client.call("getSeries").get("series") or []
    )
    statuses = tuple(
        OrderStatus(int(s["id"]), str(s.get("name", "")))
        for s in client.call("getOrderStatusList").get("statuses") or []
    )
    fields = tuple(
        ExtraField(int(f["extra_field_id"]), str(f.get("name", "")), str(f.get("editor_type", "")))
        for f in client.call("getOrderExtraFields").get("extra_fields") or []
    )
    return BaseLinkerCatalog(series, statuses, fields)


def load_raks_catalog(raks_settings: Any, password: str) -> RaksCatalog:
    """Connect with ``raks_settings`` (a RaksSettings-like object): version, statuses, counts.

    Connecting also checks every statement of the profile, so an invalid SQL override is
    reported here (:class:`agent.raks.errors.ProfileError`, a ConfigError naming the statement).
    When ``client_library`` names another client than the one this process already loaded, the
    test runs in a child process (agent/raks/probe.py) and ``client_note`` says a restart is needed.
    """
    from agent import fbclient
    from agent.raks.repository import RaksRepository

    configured = getattr(raks_settings, "client_library", "") or ""
    database = getattr(raks_settings, "database", "") or ""
    loaded = fbclient.loaded_client()
    if fbclient.client_switch_note(configured, database=database):
        # fdb keeps the first client library for the life of the process: test the new one in a
        # fresh process, and say that this program switches to it only after a restart.
        from agent.raks.probe import probe_in_child

        version, statuses, counts, client = probe_in_child(raks_settings, password)
        note = (f"raksbl zacznie używać tej biblioteki dopiero po ponownym uruchomieniu (wczytuje ją raz, "
                f"przy pierwszym połączeniu); do tego czasu używa „{loaded.path}”. Połączenie z nową "
                f"biblioteką sprawdzono w osobnym procesie.")
        return RaksCatalog(version, statuses, counts, client=client, client_note=note)
    with RaksRepository(raks_settings, password) as repo:
        version, statuses, counts = repo.server_version(), tuple(repo.statuses()), dict(repo.status_counts())
    info = fbclient.loaded_client()
    return RaksCatalog(version, statuses, counts, client=info.describe() if info else "")


def describe_error(exc: BaseException) -> str:
    """The error of a look-up in words (Polish, no secrets)."""
    if isinstance(exc, AuthError):
        return f"BaseLinker odrzucił token: {exc.message}. Sprawdź token API (BaseLinker → Moje konto → API)."
    if isinstance(exc, BlockedError):
        until = dt.datetime.fromtimestamp(exc.until).strftime("%H:%M:%S")
        return (f"Token zablokowany przez BaseLinker do {until} (przekroczony limit zapytań na minutę). "
                "Zmniejsz budżet zapytań, jeśli token używa też inny program.")
    if isinstance(exc, TransportError):
        return f"Brak odpowiedzi z BaseLinker: {exc.message}. Sprawdź połączenie z internetem i adres API."
    if isinstance(exc, BaseLinkerError):
        return f"BaseLinker odpowiedział błędem: {exc.message}" + (f" [{exc.code}]" if exc.code else "")
    if isinstance(exc, RaksblError):
        return exc.user_message
    log.exception("unexpected look-up failure", exc_info=exc)
    return f"Nieoczekiwany błąd: {type(exc).__name__}: {exc}"
