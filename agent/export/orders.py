"""What BaseLinker knows about the orders we export to: the order, its invoices, its receipt.

A thin, typed layer over :class:`~agent.baselinker.client.BaseLinkerClient` with a per-run cache.
Anything read after a write of ours, or after a lost response, is read with ``fresh=True``:
the cache only ever saves calls for facts nothing could have changed meanwhile.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from agent.baselinker.errors import ApiRefusal

log = logging.getLogger(__name__)

# getReceipt(order_id) for an order without a receipt answers with an ERROR whose code is not
# documented; these fragments of a code or message mean "there is none". Any other refusal is
# reported, never taken as "none" (that could lead to a second receipt).
_NOT_FOUND_MARKERS = ("NOT_FOUND", "NOT_EXIST", "NO_RECEIPT", "not found", "does not exist", "nie istnieje")


@dataclass(frozen=True)
class BLDocument:
    """A BaseLinker invoice or receipt attached to an order."""

    kind: str  # "invoice" | "receipt"
    id: int
    order_id: int
    number: str  # BaseLinker's own number
    external_number: str  # the ERP number shown instead, after a file upload ("" = none yet)
    series_id: int

    @property
    def has_external_file(self) -> bool:
        return bool(self.external_number)


def _int(value, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def invoice_from_api(raw: dict) -> BLDocument:
    return BLDocument(
        kind="invoice",
        id=_int(raw.get("invoice_id")),
        order_id=_int(raw.get("order_id")),
        number=str(raw.get("number") or ""),
        external_number=str(raw.get("external_invoice_number") or ""),
        series_id=_int(raw.get("series_id")),
    )


def receipt_from_api(raw: dict) -> BLDocument:
    return BLDocument(
        kind="receipt",
        id=_int(raw.get("receipt_id")),
        order_id=_int(raw.get("order_id")),
        number=str(raw.get("receipt_full_nr") or raw.get("number") or ""),
        external_number=str(raw.get("external_receipt_number") or ""),
        series_id=_int(raw.get("series_id")),
    )


def order_total(order: dict) -> Decimal:
    """The order's gross total: products (price × quantity) plus delivery."""
    total = Decimal("0")
    for product in order.get("products") or []:
        total += Decimal(str(product.get("price_brutto") or 0)) * Decimal(str(product.get("quantity") or 0))
    total += Decimal(str(order.get("delivery_price") or 0))
    return total


class OrderBook:
    """Lookups of orders and their documents, cached for one run."""

    def __init__(self, client):
        self.client = client
        self._orders: dict[int, dict | None] = {}
        self._docs: dict[tuple[str, int], list[BLDocument]] = {}

    def order(self, order_id: int, *, fresh: bool = False) -> dict | None:
        if fresh or order_id not in self._orders:
            answer = self.client.call(
                "getOrders", order_id=order_id, get_unconfirmed_orders=True, include_custom_extra_fields=True
            )
            found = [o for o in answer.get("orders") or [] if _int(o.get("order_id")) == order_id]
            self._orders[order_id] = found[0] if found else None
        return self._orders[order_id]

    def documents(self, kind: str, order_id: int, *, fresh: bool = False) -> list[BLDocument]:
        """The order's invoices (normal ones, not corrections) or its receipt."""
        key = (kind, order_id)
        if fresh or key not in self._docs:
            self._docs[key] = self._fetch(kind, order_id)
        return self._docs[key]

    def _fetch(self, kind: str, order_id: int) -> list[BLDocument]:
        if kind == "invoice":
            answer = self.client.call("getInvoices", order_id=order_id)
            return [
                invoice_from_api(raw)
                for raw in answer.get("invoices") or []
                if _int(raw.get("order_id")) == order_id and (raw.get("type") or "normal") == "normal"
            ]
        try:
            answer = self.client.call("getReceipt", order_id=order_id)
        except ApiRefusal as exc:
            text = f"{exc.code or ''} {exc.message}"
            if any(marker in text for marker in _NOT_FOUND_MARKERS):
                return []
            raise
        receipt = receipt_from_api(answer)
        return [receipt] if receipt.id and receipt.order_id in (0, order_id) else []

    def remember_order(self, order_id: int, order: dict | None) -> None:
        self._orders[order_id] = order

    def remember_documents(self, kind: str, order_id: int, docs: list[BLDocument]) -> None:
        self._docs[(kind, order_id)] = docs

    def forget(self, order_id: int) -> None:
        self._orders.pop(order_id, None)
        self._docs.pop(("invoice", order_id), None)
        self._docs.pop(("receipt", order_id), None)
