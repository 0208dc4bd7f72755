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
from agent.export.kinds import BY_NAME, DocumentKind

log = logging.getLogger(__name__)

# Nobody has published what getReceipt(order_id) answers for an order without a receipt. Taken
# as "there is none": a SUCCESS without a receipt id, or an ERROR whose code or message (case and
# underscores ignored) carries one of these fragments. Any other refusal fails the document and
# never leads to a create (that could make a second receipt).
_NOT_FOUND_MARKERS = ("not found", "not exist", "does not exist", "no receipt", "nie istnieje",
                      "nie znaleziono", "brak paragonu")


def says_not_found(code: str | None, message: str | None) -> bool:
    """Whether an ERROR answer's code/message says "not found" / "does not exist"."""
    text = f"{code or ''} {message or ''}".replace("_", " ").lower()
    return any(marker in text for marker in _NOT_FOUND_MARKERS)


@dataclass(frozen=True)
class BLDocument:
    """A BaseLinker invoice or receipt attached to an order."""

    kind: str  # "invoice" | "receipt"
    id: int
    order_id: int
    number: str  # BaseLinker's own number
    external_number: str  # the ERP number shown instead, after a file upload ("" = none yet)
    series_id: int
    corrects: int = 0  # a correcting invoice: the id of the invoice it corrects

    @property
    def has_external_file(self) -> bool:
        return bool(self.external_number)


def _int(value, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def document_from_api(kind: DocumentKind, raw: dict) -> BLDocument:
    """A BaseLinker invoice/receipt row (list row, lookup answer) of ``kind``."""
    return BLDocument(
        kind=kind.name,
        id=_int(raw.get(kind.id_key)),
        order_id=_int(raw.get("order_id")),
        number=str(next((raw[f] for f in kind.number_fields if raw.get(f)), "")),
        external_number=str(raw.get(kind.external_number_param) or ""),
        series_id=_int(raw.get("series_id")),
        corrects=_int(raw.get("correcting_to_invoice_id")),
    )


# Lists (each kind's list_method: up to 100 items, ``id_from`` to page on): which date
# ``date_from`` filters on and the order of the pages are undocumented: what a list does not
# show may still exist, so lists only ever *find* documents (to adopt, to read numbers); "there
# is none" comes only from a per-order lookup (see OrderBook.confirmed). Only kinds whose list
# rows tell a document's file state are prefetched (DocumentKind.prefetched).


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
        # (kind, order id) whose cached documents come from a per-order lookup (or our own
        # writes) made while the document was claimed, not from a list page.
        self._confirmed: set[tuple[str, int]] = set()

    def order(self, order_id: int, *, fresh: bool = False) -> dict | None:
        if fresh or order_id not in self._orders:
            answer = self.client.call(
                "getOrders", order_id=order_id, get_unconfirmed_orders=True, include_custom_extra_fields=True
            )
            found = [o for o in answer.get("orders") or [] if _int(o.get("order_id")) == order_id]
            self._orders[order_id] = found[0] if found else None
        return self._orders[order_id]

    def documents(self, kind: str, order_id: int, *, fresh: bool = False) -> list[BLDocument]:
        """The order's invoices (normal ones), its correcting invoices or its receipt."""
        key = (kind, order_id)
        if fresh or key not in self._docs:
            self._docs[key] = self._fetch(kind, order_id)
            self._confirmed.add(key)
        return self._docs[key]

    def confirmed(self, kind: str, order_id: int) -> bool:
        """Whether the cached documents come from a per-order lookup whose meaning the API
        documents (``getInvoices(order_id)``, ``getReceipt(order_id)``), not from a list."""
        return (kind, order_id) in self._confirmed

    def _fetch(self, kind: str, order_id: int) -> list[BLDocument]:
        k = BY_NAME[kind]
        if k.lookup_is_list:
            answer = self.client.call(k.lookup_method, order_id=order_id)
            return [
                document_from_api(k, raw)
                for raw in answer.get(k.list_key) or []
                if _int(raw.get("order_id")) == order_id and (raw.get("type") or "normal") == k.invoice_type
            ]
        try:
            answer = self.client.call(k.lookup_method, order_id=order_id)
        except ApiRefusal as exc:
            if says_not_found(exc.code, exc.message):
                return []
            raise
        found = document_from_api(k, answer)
        if not found.id:
            return []  # SUCCESS without a document id: the order has none
        if found.order_id not in (0, order_id):
            raise ApiRefusal(
                f"{k.lookup_method} dla zamówienia {order_id} zwrócił {k.pl.accusative} zamówienia {found.order_id}",
                code="UNEXPECTED_ANSWER", method=k.lookup_method,
            )
        return [found]

    # -- batch prefetch ----------------------------------------------------------------------
    def prefetch(self, wanted: dict[int, set[str]]) -> None:
        """Learn orders and their invoices/receipts for many orders with list calls.

        ``wanted`` maps order id → kinds needed ("invoice"/"receipt"). List calls return up to
        100 items, so a batch costs a few calls instead of two per document. The prefetch is
        opportunistic and never spends more calls than per-order lookups would: whatever it
        could not settle for certain is left to :meth:`order` / :meth:`documents`, which look
        it up one by one. Call it only after the documents are claimed (see run.py), so what
        it reads cannot be overtaken by another agent working on the same documents.
        """
        if len(wanted) < 3:  # per-order lookups are as cheap
            return
        budget = max(1, len(wanted) // 3)
        self._prefetch_orders(sorted(wanted), budget)
        oldest = min(
            (_int(o.get("date_add")) for oid, o in self._orders.items() if oid in wanted and o), default=0
        )
        if not oldest:
            return
        for kind in (k.name for k in BY_NAME.values() if k.prefetched):
            orders = {oid for oid, kinds in wanted.items() if kind in kinds and self._orders.get(oid)}
            if len(orders) >= 3:
                self._prefetch_documents(kind, orders, oldest, budget)

    def _prefetch_orders(self, order_ids: list[int], budget: int) -> None:
        wanted = set(order_ids)
        next_id, last = order_ids[0], order_ids[-1]
        for _ in range(budget):
            page = self.client.call(
                "getOrders", id_from=next_id, get_unconfirmed_orders=True, include_custom_extra_fields=True
            ).get("orders") or []
            ids = [_int(o.get("order_id")) for o in page]
            for order, order_id in zip(page, ids):
                if order_id in wanted:
                    self._orders[order_id] = order
            if len(page) < 100 or not ids or max(ids) >= last:
                return
            next_id = max(ids) + 1

    def _prefetch_documents(self, kind: str, orders: set[int], oldest: int, budget: int) -> None:
        # An order's documents are issued after the order was added; a day's margin covers
        # clock differences. Only a listing that reached its end is complete for every order.
        k = BY_NAME[kind]
        method, key, id_key = k.list_method, k.list_key, k.id_key
        found: dict[int, list[BLDocument]] = {oid: [] for oid in orders}
        params = {"date_from": oldest - 86400}
        for _ in range(budget):
            page = self.client.call(method, **params).get(key) or []
            for raw in page:
                order_id = _int(raw.get("order_id"))
                if order_id in found and (raw.get("type") or "normal") == k.invoice_type:
                    found[order_id].append(document_from_api(k, raw))
            if len(page) < 100:
                for order_id, docs in found.items():
                    self._docs[(kind, order_id)] = docs
                    self._confirmed.discard((kind, order_id))
                return
            params["id_from"] = max(_int(raw.get(id_key)) for raw in page) + 1
        log.debug("%s listing longer than the budget; falling back to per-order lookups", method)

    def numbers(self, kind: str, ids: list[int]) -> dict[int, str]:
        """BaseLinker's own numbers of documents ``ids`` (sorted ascending): one call for a single
        document, else list pages of 100 from the smallest id."""
        k = BY_NAME[kind]
        method, key, id_key = k.list_method, k.list_key, k.id_key
        if len(ids) == 1:
            if k.lookup_is_list:
                rows = self.client.call(k.lookup_method, **{id_key: ids[0]}).get(key) or []
            else:
                rows = [self.client.call(k.lookup_method, **{id_key: ids[0]})]  # answers at top level
        else:
            rows, next_id = [], ids[0]
            while next_id <= ids[-1]:
                page = self.client.call(method, id_from=next_id).get(key) or []
                rows += page
                if len(page) < 100:
                    break
                next_id = max(_int(raw.get(id_key)) for raw in page) + 1
        wanted = set(ids)
        return {doc.id: doc.number for doc in (document_from_api(k, raw) for raw in rows) if doc.id in wanted}

    def remember_documents(self, kind: str, order_id: int, docs: list[BLDocument]) -> None:
        """What this run itself created/attached on the order (as sure as a lookup)."""
        self._docs[(kind, order_id)] = docs
        self._confirmed.add((kind, order_id))
