"""The account data of the sandbox: series, statuses, extra fields, orders, invoices, receipts, files.

:class:`Account` holds the data and the switches for what BaseLinker does not document
(``duplicate_documents``, ``no_receipt``, ``list_date_field``, ``list_lag_seconds``,
``list_order``), seeds it (``add_*``, :meth:`Account.seed`), creates documents the way the API
methods do (numbering, items copied from the order) and shows it to tests (``get_order``,
``invoices_for_order``, ...). It knows nothing of tokens, rate limits, faults or HTTP (the gate,
:mod:`.gate`) nor of the API's parameter shapes (the methods, :mod:`.methods`).
All access happens under ``self.lock`` (set up by :class:`~.state.SandboxState`).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import threading
from datetime import datetime
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

from .errors import ERROR_ORDER_NOT_FOUND, ERROR_SERIES_NOT_FOUND, ApiError
from .params import int_param

WARSAW = ZoneInfo("Europe/Warsaw")
SERIES_TYPES = ("INVOICE", "RECEIPT", "CORRECTION")
DUPLICATE_POLICIES = ("allow", "refuse")
# getReceipt(order_id) for an order without a receipt: nobody has published the real answer.
NO_RECEIPT_ANSWERS = ("error", "success_empty")
# Which date getInvoices' date_from filters on (undocumented).
LIST_DATE_FIELDS = ("date_add", "date_sell")
# Order of list pages (undocumented): ids ascending or descending from the newest.
LIST_ORDERS = ("asc", "desc")

#: The sandbox's switchable answers where real BaseLinker behaviour is unknown. The protocol
#: tests run under each of these (``state.configure(**UNDOCUMENTED_VARIANTS[name])``).
UNDOCUMENTED_VARIANTS: dict[str, dict] = {
    "defaults": {},
    "duplicates-refused": {"duplicate_documents": "refuse"},
    "no-receipt-success": {"no_receipt": "success_empty"},
    "date-from-on-sale-date": {"list_date_field": "date_sell"},
    "lists-lag": {"list_lag_seconds": 3600.0},
    "lists-descending": {"list_order": "desc"},
}
PAGE_SIZE = 100  # max items of every list method

# First automatic ids: distinct ranges, so a client mixing an order id with an invoice id
# gets "not found" instead of silently touching the wrong object.
FIRST_ORDER_ID = 10_000_001
FIRST_INVOICE_ID = 500_001
FIRST_RECEIPT_ID = 700_001
FIRST_PRODUCT_ID = 90_000_001

DEFAULT_TAX_RATE = 23
DELIVERY_TAX_RATE = 23
SELLER = "Sandbox Shop sp. z o.o.\nul. Testowa 1\n00-001 Warszawa\nNIP 5250000000"

_BUYER_FIELDS = (
    "invoice_fullname", "invoice_company", "invoice_nip", "invoice_address", "invoice_city",
    "invoice_postcode", "invoice_country", "invoice_country_code",
)


def _file_info(data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _money(value: float) -> float:
    return round(value + 0.0, 2)


def warsaw_time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, WARSAW)


class Account:
    """One emulated BaseLinker account's data (see the module docstring)."""

    lock: threading.RLock
    clock: Callable[[], float]
    duplicate_documents: str
    no_receipt: str
    list_date_field: str
    list_lag_seconds: float
    list_order: str

    def reset_data(self) -> None:
        """Forget all data and restart the automatic ids (settings stay)."""
        with self.lock:
            self.series: dict[int, dict] = {}
            self.statuses: dict[int, dict] = {}
            self.extra_fields: dict[int, dict] = {}
            self.orders: dict[int, dict] = {}
            self.invoices: dict[int, dict] = {}
            self.invoice_files: dict[int, bytes] = {}
            self.receipts: dict[int, dict] = {}
            self.receipt_files: dict[int, bytes] = {}
            self._next_order_id = FIRST_ORDER_ID
            self._next_invoice_id = FIRST_INVOICE_ID
            self._next_receipt_id = FIRST_RECEIPT_ID
            self._next_product_id = FIRST_PRODUCT_ID

    # ----------------------------------------------------------------------------- seeding

    def add_series(self, series_id: int, type: str, name: str, format: str) -> int:  # noqa: A002
        if type not in SERIES_TYPES:
            raise ValueError(f"series type must be one of {SERIES_TYPES}")
        if not isinstance(format, str) or "%N" not in format:
            raise ValueError("series format must contain %N")
        with self.lock:
            self.series[int(series_id)] = {
                "id": int(series_id), "type": type, "name": str(name), "format": format,
            }
        return int(series_id)

    def add_order_status(self, status_id: int, name: str, color: str = "#00aa00") -> int:
        with self.lock:
            self.statuses[int(status_id)] = {
                "id": int(status_id), "name": str(name), "name_for_customer": str(name), "color": color,
            }
        return int(status_id)

    def add_extra_field(self, extra_field_id: int, name: str, editor_type: str = "text",
                        options: list[str] | None = None) -> int:
        field: dict[str, Any] = {"extra_field_id": int(extra_field_id), "name": str(name), "editor_type": editor_type}
        if options is not None:
            field["options"] = list(options)
        with self.lock:
            self.extra_fields[int(extra_field_id)] = field
        return int(extra_field_id)

    def add_order(self, order_id: int | None = None, **fields: Any) -> int:
        """Add an order; ``fields`` as getOrders returns them (plus ``confirmed``). Returns its id."""
        with self.lock:
            if order_id is None:
                order_id = self._next_order_id
            order_id = int(order_id)
            if order_id in self.orders:
                raise ValueError(f"order {order_id} already exists")
            now = int(self.clock())
            confirmed = bool(fields.pop("confirmed", True))
            products = [self._product(p) for p in fields.pop("products", [])]
            custom = {str(k): v for k, v in (fields.pop("custom_extra_fields", None) or {}).items()}
            date_add = int(fields.pop("date_add", now))
            want_invoice = fields.pop("want_invoice", None)
            order: dict[str, Any] = {
                "order_id": order_id,
                "shop_order_id": 0,
                "external_order_id": "",
                "order_source": "personal",
                "order_source_id": 0,
                "order_source_info": "",
                "order_status_id": next(iter(sorted(self.statuses)), 0),
                "confirmed": confirmed,
                "date_confirmed": date_add if confirmed else 0,
                "date_add": date_add,
                "date_in_status": date_add,
                "user_login": "",
                "phone": "",
                "email": "",
                "user_comments": "",
                "admin_comments": "",
                "currency": "PLN",
                "payment_method": "Przelew",
                "payment_method_cod": "0",
                "payment_done": 0,
                "delivery_method": "Kurier",
                "delivery_price": 0.0,
                "delivery_package_module": "",
                "delivery_package_nr": "",
                "delivery_fullname": "",
                "delivery_company": "",
                "delivery_address": "",
                "delivery_city": "",
                "delivery_state": "",
                "delivery_postcode": "",
                "delivery_country_code": "PL",
                "delivery_point_id": "",
                "delivery_point_name": "",
                "delivery_point_address": "",
                "delivery_point_postcode": "",
                "delivery_point_city": "",
                "invoice_fullname": "",
                "invoice_company": "",
                "invoice_nip": "",
                "invoice_address": "",
                "invoice_city": "",
                "invoice_state": "",
                "invoice_postcode": "",
                "invoice_country": "Polska",
                "invoice_country_code": "PL",
                "want_invoice": "0",
                "extra_field_1": "",
                "extra_field_2": "",
                "order_page": "",
                "pick_state": 0,
                "pack_state": 0,
                "star": 0,
            }
            order.update(fields)
            if "date_confirmed" in fields:
                order["date_confirmed"] = int(fields["date_confirmed"])
            order["delivery_price"] = float(order["delivery_price"])
            if want_invoice is None:
                want_invoice = bool(order["invoice_nip"])
            order["want_invoice"] = "1" if want_invoice in (True, 1, "1") else "0"
            order["products"] = products
            order["custom_extra_fields"] = custom
            self.orders[order_id] = order
            self._next_order_id = max(self._next_order_id, order_id + 1)
            return order_id

    def _product(self, product: dict) -> dict:
        if not isinstance(product, dict) or "name" not in product or "price_brutto" not in product:
            raise ValueError("a product needs at least 'name' and 'price_brutto'")
        item = {
            "storage": "db",
            "storage_id": 0,
            "order_product_id": self._next_product_id,
            "product_id": "",
            "variant_id": "",
            "name": str(product["name"]),
            "attributes": "",
            "sku": "",
            "ean": "",
            "location": "",
            "warehouse_id": 0,
            "auction_id": "",
            "price_brutto": float(product["price_brutto"]),
            "tax_rate": DEFAULT_TAX_RATE,
            "quantity": 1,
            "weight": 0,
            "bundle_id": 0,
        }
        item.update({k: v for k, v in product.items() if k not in ("price_brutto",)})
        item["quantity"] = int(item["quantity"])
        self._next_product_id += 1
        return item

    def add_invoice(self, order_id: int, series_id: int, external_invoice_number: str = "",
                    file: bytes | None = None, date_sell: int | None = None) -> int:
        """Seed an invoice issued earlier (e.g. by a BaseLinker automation). Ignores the duplicate policy.

        ``date_sell`` (default: now) lets a test seed an invoice whose sale date lies before
        its order was added, which a ``date_from`` filtering on the sale date does not list.
        """
        with self.lock:
            order = self.orders.get(int(order_id))
            if order is None:
                raise KeyError(f"order {order_id} does not exist")
            series = self.series_of_type(int(series_id), "INVOICE")
            if series is None:
                raise KeyError(f"INVOICE series {series_id} does not exist")
            invoice_id = self.create_invoice(order, series)
            if date_sell is not None:
                self.invoices[invoice_id]["date_sell"] = int(date_sell)
            if external_invoice_number:
                self.invoices[invoice_id]["external_invoice_number"] = str(external_invoice_number)
            if file is not None:
                self.invoice_files[invoice_id] = bytes(file)
            return invoice_id

    def add_receipt(self, order_id: int, series_id: int, external_receipt_number: str = "",
                    file: bytes | None = None) -> int:
        """Seed a receipt issued earlier. Ignores the duplicate policy."""
        with self.lock:
            order = self.orders.get(int(order_id))
            if order is None:
                raise KeyError(f"order {order_id} does not exist")
            series = self.series_of_type(int(series_id), "RECEIPT")
            if series is None:
                raise KeyError(f"RECEIPT series {series_id} does not exist")
            receipt_id = self.create_receipt(order, series)
            if external_receipt_number:
                self.receipts[receipt_id]["external_receipt_number"] = str(external_receipt_number)
            if file is not None:
                self.receipt_files[receipt_id] = bytes(file)
            return receipt_id

    def seed(self, data: dict) -> dict[str, list[int]]:
        """Apply a seed document (``POST /_seed``, ``--seed file.json``) all-or-nothing.

        Keys (all optional lists of objects with the ``add_*`` argument names):
        ``series`` (``series_id`` or ``id``, ``type``, ``name``, ``format``), ``statuses``
        (``status_id`` or ``id``, ``name``, ``color``), ``extra_fields``, ``orders``,
        ``invoices`` and ``receipts`` (``file`` as base64, with or without ``data:``), plus an
        optional ``settings`` object for :meth:`configure`. Returns the ids created.
        """
        if not isinstance(data, dict):
            raise ValueError("the seed must be a JSON object")
        known = {"series", "statuses", "extra_fields", "orders", "invoices", "receipts", "settings"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown seed key(s): {', '.join(sorted(unknown))}")
        with self.lock:
            saved = self._save_data()
            try:
                return self._seed(data)
            except Exception:
                self._restore_data(saved)
                raise

    def _seed(self, data: dict) -> dict[str, list[int]]:
        def items(key: str) -> list[dict]:
            value = data.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise ValueError(f"seed '{key}' must be a list of objects")
            return [dict(v) for v in value]

        def file_of(entry: dict) -> bytes | None:
            value = entry.pop("file", None)
            if value is None:
                return None
            text = str(value)
            return base64.b64decode(text[5:] if text.startswith("data:") else text, validate=True)

        if "settings" in data:
            if not isinstance(data["settings"], dict):
                raise ValueError("seed 'settings' must be an object")
            self.configure(**data["settings"])
        for s in items("series"):
            s.setdefault("series_id", s.pop("id", None))
            self.add_series(**s)
        for s in items("statuses"):
            s.setdefault("status_id", s.pop("id", None))
            self.add_order_status(**s)
        for f in items("extra_fields"):
            self.add_extra_field(**f)
        result: dict[str, list[int]] = {"order_ids": [], "invoice_ids": [], "receipt_ids": []}
        for o in items("orders"):
            result["order_ids"].append(self.add_order(**o))
        for i in items("invoices"):
            result["invoice_ids"].append(self.add_invoice(file=file_of(i), **i))
        for r in items("receipts"):
            result["receipt_ids"].append(self.add_receipt(file=file_of(r), **r))
        return result

    _DATA_ATTRS = (
        "series", "statuses", "extra_fields", "orders", "invoices", "invoice_files",
        "receipts", "receipt_files", "_next_order_id", "_next_invoice_id", "_next_receipt_id",
        "_next_product_id", "requests_per_minute", "block_seconds", "duplicate_documents",
        "no_receipt", "list_date_field", "list_lag_seconds", "list_order",
    )

    def _save_data(self) -> dict[str, Any]:
        return {name: copy.deepcopy(getattr(self, name)) for name in self._DATA_ATTRS}

    def _restore_data(self, saved: dict[str, Any]) -> None:
        for name, value in saved.items():
            setattr(self, name, value)

    # ------------------------------------------------------------------------- inspection

    def get_order(self, order_id: int) -> dict | None:
        with self.lock:
            order = self.orders.get(int(order_id))
            return copy.deepcopy(order) if order else None

    def invoice_file(self, invoice_id: int) -> bytes | None:
        with self.lock:
            return self.invoice_files.get(int(invoice_id))

    def receipt_file(self, receipt_id: int) -> bytes | None:
        with self.lock:
            return self.receipt_files.get(int(receipt_id))

    def invoices_for_order(self, order_id: int) -> list[dict]:
        with self.lock:
            return [self._invoice_view(i) for i in sorted(self.invoices)
                    if self.invoices[i]["order_id"] == int(order_id)]

    def receipts_for_order(self, order_id: int) -> list[dict]:
        with self.lock:
            return [self._receipt_view(r) for r in sorted(self.receipts)
                    if self.receipts[r]["order_id"] == int(order_id)]

    def _invoice_view(self, invoice_id: int) -> dict:
        view = copy.deepcopy(self.invoices[invoice_id])
        view["file"] = _file_info(self.invoice_files.get(invoice_id))
        return view

    def _receipt_view(self, receipt_id: int) -> dict:
        view = copy.deepcopy(self.receipts[receipt_id])
        view["file"] = _file_info(self.receipt_files.get(receipt_id))
        return view

    # ------------------------------------------------- helpers of the API methods (methods/)

    def order_from(self, params: dict) -> dict:
        """The order named by ``params["order_id"]``, or ERROR_ORDER_NOT_FOUND."""
        order_id = int_param(params, "order_id", required=True)
        order = self.orders.get(order_id)
        if order is None:
            raise ApiError(ERROR_ORDER_NOT_FOUND, f"Order {order_id} not found")
        return order

    def series_of_type(self, series_id: int, series_type: str) -> dict | None:
        series = self.series.get(series_id)
        return series if series and series["type"] == series_type else None

    def pick_series(self, params: dict, series_type: str, *, required: bool) -> dict:
        series_id = int_param(params, "series_id", required=required)
        if series_id is None:  # optional: the account's first series of that type
            candidates = [s for _, s in sorted(self.series.items()) if s["type"] == series_type]
            if not candidates:
                raise ApiError(ERROR_SERIES_NOT_FOUND, f"No {series_type} numbering series on the account")
            return candidates[0]
        series = self.series_of_type(series_id, series_type)
        if series is None:
            raise ApiError(ERROR_SERIES_NOT_FOUND, f"Numbering series {series_id} of type {series_type} not found")
        return series

    def refuse_duplicate(self, existing: list[int], code: str, what: str) -> None:
        if existing and self.duplicate_documents == "refuse":
            raise ApiError(code, f"The order already has {what} (id {existing[0]})")

    def listed(self, documents: dict[int, dict], by_id: bool) -> list[int]:
        """Ids a list call walks, in the configured page order, without the lagging newest ones.

        Lookups of one document (``invoice_id``/``order_id``/``receipt_id``) are never lagged.
        """
        ids = sorted(documents, reverse=self.list_order == "desc")
        if by_id or not self.list_lag_seconds:
            return ids
        horizon = self.clock() - self.list_lag_seconds
        return [i for i in ids if documents[i]["date_add"] <= horizon]

    def _numbering(self, documents: Iterable[dict], series: dict, when: float) -> dict[str, Any]:
        """%N: next number in the series for the year (for the month when the format has %M)."""
        local = warsaw_time(when)
        monthly = "%M" in series["format"]
        last = max(
            (d["sub_id"] for d in documents
             if d["series_id"] == series["id"] and d["year"] == local.year
             and (not monthly or d["month"] == local.month)),
            default=0,
        )
        sub_id = last + 1
        number = (series["format"].replace("%N", str(sub_id))
                  .replace("%M", str(local.month)).replace("%Y", str(local.year)))
        return {"number": number, "year": local.year, "month": local.month, "sub_id": sub_id}

    @staticmethod
    def items_of_order(order: dict) -> list[dict]:
        items = []
        for p in order["products"]:
            rate = p.get("tax_rate", DEFAULT_TAX_RATE)
            gross = float(p["price_brutto"])
            items.append({
                "name": p["name"], "sku": p.get("sku", ""), "ean": p.get("ean", ""),
                "price_brutto": gross,
                "price_netto": round(gross / (1 + (rate if isinstance(rate, (int, float)) else 0) / 100), 4),
                "tax_rate": rate, "quantity": int(p["quantity"]),
            })
        delivery = float(order.get("delivery_price") or 0)
        if delivery > 0:
            items.append({
                "name": order.get("delivery_method") or "Delivery", "sku": "", "ean": "",
                "price_brutto": delivery,
                "price_netto": round(delivery / (1 + DELIVERY_TAX_RATE / 100), 4),
                "tax_rate": DELIVERY_TAX_RATE, "quantity": 1,
            })
        return items

    @staticmethod
    def _totals(items: list[dict]) -> tuple[float, float]:
        gross = sum(i["price_brutto"] * i["quantity"] for i in items)
        net = sum(i["price_netto"] * i["quantity"] for i in items)
        return _money(gross), _money(net)

    def create_invoice(self, order: dict, series: dict, **overrides: Any) -> int:
        now = int(self.clock())
        invoice_id = self._next_invoice_id
        self._next_invoice_id += 1
        items = overrides.pop("items", None) or self.items_of_order(order)
        gross, net = self._totals(items)
        invoice: dict[str, Any] = {
            "invoice_id": invoice_id,
            "order_id": order["order_id"],
            "series_id": series["id"],
            "type": "normal",
            **self._numbering(self.invoices.values(), series, now),
            "postfix": "",
            "date_add": now,
            "date_sell": now,
            "date_pay_to": 0,
            "currency": order.get("currency", "PLN"),
            "total_price_brutto": gross,
            "total_price_netto": net,
            **{f: order.get(f, "") for f in _BUYER_FIELDS},
            "seller": SELLER,
            "payment": order.get("payment_method", ""),
            "additional_info": "",
            "correcting_to_invoice_id": 0,
            "correcting_reason": "",
            "correcting_items": False,
            "correcting_data": False,
            "external_invoice_number": "",
            "external_id": str(invoice_id),
            "exchange_currency": "",
            "exchange_rate": "",
            "exchange_date": "",
            "exchange_info": "",
            "items": items,
        }
        invoice.update(overrides)
        self.invoices[invoice_id] = invoice
        return invoice_id

    def create_receipt(self, order: dict, series: dict) -> int:
        now = int(self.clock())
        receipt_id = self._next_receipt_id
        self._next_receipt_id += 1
        items = [{k: i[k] for k in ("name", "sku", "ean", "price_brutto", "tax_rate", "quantity")}
                 for i in self.items_of_order(order)]
        numbering = self._numbering(self.receipts.values(), series, now)
        self.receipts[receipt_id] = {
            "receipt_id": receipt_id,
            "series_id": series["id"],
            "receipt_full_nr": numbering.pop("number"),
            **numbering,
            "order_id": order["order_id"],
            "date_add": now,
            "payment_method": order.get("payment_method", ""),
            "nip": order.get("invoice_nip", ""),
            "currency": order.get("currency", "PLN"),
            "total_price_brutto": _money(sum(i["price_brutto"] * i["quantity"] for i in items)),
            "external_receipt_number": "",
            "items": items,
        }
        return receipt_id
