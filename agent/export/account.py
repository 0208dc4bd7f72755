"""What a run needs to know about the BaseLinker account before it sends anything.

* ``invoice_series_id = 0`` means "the account's first INVOICE numbering series": ``addInvoice``
  documents ``series_id`` as required (a default is documented only for ``addReceipt``), so 0
  is resolved with ``getSeries`` and never sent as "no series". An account without an INVOICE
  series is a settings error naming ``baselinker.invoice_series_id``. ``correction_series_id =
  0`` follows the same rule with the account's first CORRECTION series (corrections are sent
  only when ``raks.document_types`` holds "KS" and a KS is pending).
* ``number_field = custom:<id>`` must name an extra field of type ``text``: the number goes
  only into a text field (a select/checkbox/date/... field would reject or mangle it).

Both checks cost one call each and run once per run (and in ``raksbl doctor``), only when the
setting needs them. Messages are Polish: a shop owner reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from agent.errors import ConfigError
from agent.export.kinds import CORRECTION, INVOICE, DocumentKind

TEXT_FIELD = "text"


@dataclass
class AccountSetup:
    invoice_series_id: int | None = None  # the series addInvoice uses (None: not needed)
    correction_series_id: int | None = None  # the series addInvoiceCorrection uses (None: not needed)
    notes: list[str] = field(default_factory=list)  # what the run's first lines say


def first_invoice_series(series: list[dict]) -> dict | None:
    """The account's first INVOICE series, in getSeries' order (ids may come as strings)."""
    return next((s for s in series if str(s.get("type", "")).upper() == "INVOICE"), None)


def resolve_invoice_series(client, configured: int) -> tuple[int, str | None]:
    """(series id to send, note) for ``invoice_series_id``; raises ConfigError when none exists."""
    if configured:
        return configured, None
    chosen = first_invoice_series(client.call("getSeries").get("series") or [])
    if chosen is None:
        raise ConfigError(
            "baselinker.invoice_series_id = 0 (pierwsza seria faktur), ale konto BaseLinker nie ma żadnej serii "
            "numeracji faktur — dodaj serię w BaseLinker albo wpisz jej numer.",
            key="baselinker.invoice_series_id",
        )
    series_id = int(chosen["id"])
    note = (f"Seria faktur: {chosen.get('name', '')} (id {series_id}) — pierwsza seria faktur konta, "
            "bo invoice_series_id = 0.")
    return series_id, note


def resolve_correction_series(client, configured: int) -> tuple[int, str | None]:
    """(series id to send, note) for ``correction_series_id``: 0 follows the invoices' rule (the
    account's first CORRECTION series, never "no series"); ConfigError when none exists."""
    if configured:
        return configured, None
    series = client.call("getSeries").get("series") or []
    chosen = next((s for s in series if str(s.get("type", "")).upper() == "CORRECTION"), None)
    if chosen is None:
        raise ConfigError(
            "baselinker.correction_series_id = 0 (pierwsza seria korekt), ale konto BaseLinker nie ma żadnej serii "
            "numeracji korekt — dodaj serię typu „korekta” w BaseLinker albo wpisz jej numer.",
            key="baselinker.correction_series_id",
        )
    series_id = int(chosen["id"])
    note = (f"Seria korekt: {chosen.get('name', '')} (id {series_id}) — pierwsza seria korekt konta, "
            "bo correction_series_id = 0.")
    return series_id, note


def check_number_field(client, custom_field_id: int) -> None:
    """Raise ConfigError unless extra field ``custom_field_id`` exists and is a text field."""
    fields = client.call("getOrderExtraFields").get("extra_fields") or []
    found = next((f for f in fields if str(f.get("extra_field_id")) == str(custom_field_id)), None)
    if found is None:
        raise ConfigError(
            f"baselinker.number_field = custom:{custom_field_id}: pole dodatkowe {custom_field_id} nie istnieje w BaseLinker — wybierz pole tekstowe zamówienia.",
            key="baselinker.number_field",
        )
    kind = str(found.get("editor_type") or "")
    if kind != TEXT_FIELD:
        raise ConfigError(
            f"baselinker.number_field = custom:{custom_field_id}: pole dodatkowe „{found.get('name', '')}” jest typu {kind or 'nieznanego'}, "
            "a numer dokumentu można zapisać tylko w polu tekstowym (text).",
            key="baselinker.number_field",
        )


def prepare(client, settings, *, kinds: Iterable[DocumentKind]) -> AccountSetup:
    """Resolve/check what the settings leave to the account for the ``kinds`` of the pending
    documents (the invoice series only when invoices are pending)."""
    bl = settings.baselinker
    kinds = set(kinds)
    setup = AccountSetup()
    if INVOICE in set(kinds):
        setup.invoice_series_id, note = resolve_invoice_series(client, bl.invoice_series_id)
        if note:
            setup.notes.append(note)
    if CORRECTION in set(kinds):
        setup.correction_series_id, note = resolve_correction_series(client, bl.correction_series_id)
        if note:
            setup.notes.append(note)
    if bl.custom_field_id is not None:
        check_number_field(client, bl.custom_field_id)
    return setup
