"""What a run needs to know about the BaseLinker account before it sends anything.

* ``invoice_series_id = 0`` means "the account's first INVOICE numbering series": ``addInvoice``
  documents ``series_id`` as required (a default is documented only for ``addReceipt``), so 0
  is resolved with ``getSeries`` and never sent as "no series". An account without an INVOICE
  series is a settings error naming ``baselinker.invoice_series_id``. ``correction_series_id =
  0`` follows the same rule with the account's first CORRECTION series (corrections are sent
  only when ``raks.document_types`` holds "KS" and a KS is pending).
* ``number_field = custom:<id>`` must name an extra field of type ``text``: the number goes
  only into a text field (a select/checkbox/date/... field would reject or mangle it).

Each check costs one call (getSeries at most once) and runs once per run (and in ``raksbl doctor``), only when the
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


@dataclass(frozen=True)
class SeriesRule:
    """What ``<kind>_series_id = 0`` means for one kind: the account's first series of a type."""

    setting: str       # "invoice_series_id"
    series_type: str   # getSeries' "type"
    plural: str        # "faktury" (nominative plural: "faktury nie zostaną wysłane")
    plural_gen: str    # "faktur" (genitive plural: "seria faktur", "żadnej serii faktur")
    add_hint: str      # how to add one in BaseLinker


SERIES_RULES = {
    INVOICE: SeriesRule("invoice_series_id", "INVOICE", "faktury", "faktur", "dodaj serię w BaseLinker"),
    CORRECTION: SeriesRule("correction_series_id", "CORRECTION", "korekty", "korekt",
                           "dodaj serię typu „korekta” w BaseLinker"),
}


def first_series(series: list[dict], series_type: str) -> dict | None:
    """The account's first series of ``series_type``, in getSeries' order (ids may come as strings)."""
    return next((s for s in series if str(s.get("type", "")).upper() == series_type), None)


def resolve_series(rule: SeriesRule, configured: int, series: list[dict]) -> tuple[int, str | None]:
    """(series id to send, note) for the setting of ``rule``; 0 = the account's first series of
    its type (never "no series"); ConfigError naming the setting when there is none."""
    if configured:
        return configured, None
    chosen = first_series(series, rule.series_type)
    if chosen is None:
        raise ConfigError(
            f"baselinker.{rule.setting} = 0 (pierwsza seria {rule.plural_gen}), ale konto BaseLinker nie ma żadnej "
            f"serii numeracji {rule.plural_gen} — {rule.add_hint} albo wpisz jej numer.",
            key=f"baselinker.{rule.setting}",
        )
    series_id = int(chosen["id"])
    note = (f"Seria {rule.plural_gen}: {chosen.get('name', '')} (id {series_id}) — pierwsza seria "
            f"{rule.plural_gen} konta, bo {rule.setting} = 0.")
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
    setup = AccountSetup()
    series: list[dict] | None = None  # getSeries, read once when a setting is 0
    for kind in (k for k in (INVOICE, CORRECTION) if k in set(kinds)):
        rule = SERIES_RULES[kind]
        configured = getattr(bl, rule.setting)
        if not configured and series is None:
            series = client.call("getSeries").get("series") or []
        series_id, note = resolve_series(rule, configured, series or [])
        setattr(setup, rule.setting, series_id)
        if note:
            setup.notes.append(note)
    if bl.custom_field_id is not None:
        check_number_field(client, bl.custom_field_id)
    return setup
