"""The sandbox's in-memory BaseLinker account and the API methods working on it.

Everything here is transport-free: :meth:`SandboxState.execute` takes the decoded ``method``,
the raw ``parameters`` JSON string and the token, and returns the response envelope as a dict.
The HTTP layer (:mod:`.server`) only moves bytes and plays the transport faults.

All data lives behind one re-entrant lock (``state.lock``), so seeding, inspection and API
calls from many threads see consistent data. The behaviours BaseLinker does not document are
listed in the package docstring (:mod:`agent.baselinker.sandbox`).
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import json
import logging
import math
import re
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

from .faults import Fault

log = logging.getLogger(__name__)

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
WINDOW_SECONDS = 60.0

# Length limits (characters) documented by BaseLinker.
MAX_EXTRA_FIELD = 50
MAX_ADMIN_COMMENTS = 200
MAX_EXTERNAL_INVOICE_NUMBER = 30
MAX_EXTERNAL_RECEIPT_NUMBER = 20

# First automatic ids: distinct ranges, so a client mixing an order id with an invoice id
# gets "not found" instead of silently touching the wrong object.
FIRST_ORDER_ID = 10_000_001
FIRST_INVOICE_ID = 500_001
FIRST_RECEIPT_ID = 700_001
FIRST_PRODUCT_ID = 90_000_001

DEFAULT_TAX_RATE = 23
DELIVERY_TAX_RATE = 23
SELLER = "Sandbox Shop sp. z o.o.\nul. Testowa 1\n00-001 Warszawa\nNIP 5250000000"

# Error codes (see docs/DESIGN.md, "Sandbox error codes").
ERROR_EMPTY_TOKEN = "ERROR_EMPTY_TOKEN"
ERROR_AUTH_TOKEN = "ERROR_AUTH_TOKEN"
ERROR_BLOCKED_TOKEN = "ERROR_BLOCKED_TOKEN"
ERROR_UNKNOWN_METHOD = "ERROR_UNKNOWN_METHOD"
ERROR_BAD_PARAMETERS = "ERROR_BAD_PARAMETERS"
ERROR_ORDER_NOT_FOUND = "ERROR_ORDER_NOT_FOUND"
ERROR_INVOICE_NOT_FOUND = "ERROR_INVOICE_NOT_FOUND"
ERROR_RECEIPT_NOT_FOUND = "ERROR_RECEIPT_NOT_FOUND"
ERROR_SERIES_NOT_FOUND = "ERROR_SERIES_NOT_FOUND"
ERROR_FIELD_TOO_LONG = "ERROR_FIELD_TOO_LONG"
ERROR_FILE = "ERROR_FILE"
# Only with duplicate_documents="refuse" (what the real API does here is undocumented).
ERROR_INVOICE_EXISTS = "ERROR_INVOICE_EXISTS"
ERROR_RECEIPT_EXISTS = "ERROR_RECEIPT_EXISTS"

# setOrderFields: the fields BaseLinker documents as settable. Anything else is refused with
# ERROR_BAD_PARAMETERS so that a typo in a client shows up in the sandbox.
_ORDER_TEXT_FIELDS = frozenset({
    "admin_comments", "user_comments", "payment_method", "email", "phone", "user_login",
    "delivery_method", "delivery_fullname", "delivery_company", "delivery_address",
    "delivery_postcode", "delivery_city", "delivery_state", "delivery_country_code",
    "delivery_point_id", "delivery_point_name", "delivery_point_address",
    "delivery_point_postcode", "delivery_point_city", "invoice_fullname", "invoice_company",
    "invoice_nip", "invoice_address", "invoice_postcode", "invoice_city", "invoice_state",
    "invoice_country_code", "extra_field_1", "extra_field_2",
})
_ORDER_NUMBER_FIELDS = frozenset({"delivery_price", "pick_state", "pack_state", "star"})
_ORDER_FLAG_FIELDS = frozenset({"want_invoice", "payment_method_cod"})
_ORDER_TEXT_LIMITS = {
    "extra_field_1": MAX_EXTRA_FIELD,
    "extra_field_2": MAX_EXTRA_FIELD,
    "admin_comments": MAX_ADMIN_COMMENTS,
}
_BUYER_FIELDS = (
    "invoice_fullname", "invoice_company", "invoice_nip", "invoice_address", "invoice_city",
    "invoice_postcode", "invoice_country", "invoice_country_code",
)
_INT_TEXT = re.compile(r"-?[0-9]+")
_VAT_RATE_WORDS = frozenset({"DEFAULT", "ITEM", "EXPT", "ZW", "NP", "OO"})


class ApiError(Exception):
    """An ERROR envelope: ``{"status": "ERROR", "error_code": code, "error_message": message}``."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def envelope(self) -> dict[str, Any]:
        return {"status": "ERROR", "error_code": self.code, "error_message": self.message}


@dataclass(frozen=True)
class CallRecord:
    """One API request as the sandbox saw it.

    ``status`` is what the client got: ``SUCCESS``/``ERROR`` (an envelope), ``DROPPED`` (the
    connection was closed without an answer) or ``HTTP500`` (a 5xx page). ``executed`` is True
    when the method itself ran (past token, rate limit and parameter decoding); ``succeeded``
    when it ran and returned SUCCESS, i.e. its changes are committed, even if the answer was
    then dropped. ``fault`` names the injected fault kind, if any.
    """

    method: str
    time: float
    status: str
    error_code: str | None
    executed: bool
    succeeded: bool
    fault: str | None = None

    @property
    def is_write(self) -> bool:
        return self.method.startswith(("add", "set"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# parameter decoding (PHP-like leniency: ids may come as digit strings, flags as 0/1)


def _int(params: dict, name: str, *, required: bool = False) -> int | None:
    if name not in params:
        if required:
            raise ApiError(ERROR_BAD_PARAMETERS, f"Missing required parameter: {name}")
        return None
    value = params[name]
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        return value
    elif isinstance(value, float) and value.is_integer():
        return int(value)
    elif isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        return int(value.strip())
    raise ApiError(ERROR_BAD_PARAMETERS, f"Parameter {name} must be an integer")


def _number(params: dict, name: str) -> float | None:
    if name not in params:
        return None
    value = params[name]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ApiError(ERROR_BAD_PARAMETERS, f"Parameter {name} must be a number")


def _flag(params: dict, name: str, default: bool) -> bool:
    if name not in params:
        return default
    value = params[name]
    if isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1"):
        return value in (1, "1")
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ApiError(ERROR_BAD_PARAMETERS, f"Parameter {name} must be a boolean")


def _text(params: dict, name: str, *, required: bool = False, max_len: int | None = None) -> str | None:
    if name not in params:
        if required:
            raise ApiError(ERROR_BAD_PARAMETERS, f"Missing required parameter: {name}")
        return None
    value = params[name]
    if not isinstance(value, str):
        raise ApiError(ERROR_BAD_PARAMETERS, f"Parameter {name} must be a string")
    if max_len is not None and len(value) > max_len:
        raise ApiError(
            ERROR_FIELD_TOO_LONG,
            f"Field {name} is too long ({len(value)} characters, max {max_len})",
        )
    return value


def _decode_file(params: dict) -> bytes:
    """``file`` = ``"data:"`` + strict base64; a '+' that became a space fails here."""
    value = _text(params, "file", required=True)
    assert value is not None
    if not value.startswith("data:"):
        raise ApiError(ERROR_FILE, "Invalid file: the content must start with 'data:' followed by base64")
    try:
        payload = value[5:].encode("ascii")
        data = binascii.a2b_base64(payload, strict_mode=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        data = None
    # strict: only the canonical encoding (alphabet, padding, nothing extra) is accepted
    if data is None or base64.b64encode(data) != payload:
        raise ApiError(ERROR_FILE, "Invalid file: the content is not valid base64")
    if not data:
        raise ApiError(ERROR_FILE, "Invalid file: the file is empty")
    return data


def _file_info(data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _money(value: float) -> float:
    return round(value + 0.0, 2)


def warsaw_time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, WARSAW)


def block_message(until: float) -> str:
    """The real API's wording; the time is Europe/Warsaw local time, whole seconds."""
    return f"Query limit exceeded, token blocked until {warsaw_time(until):%Y-%m-%d %H:%M:%S}"


# ---------------------------------------------------------------------------------------------


class SandboxState:
    """One emulated BaseLinker account (one token), its data, rate limit, faults and call log."""

    def __init__(
        self,
        token: str = "sandbox-token",
        requests_per_minute: int = 100,
        block_seconds: float = 120,
        duplicate_documents: str = "allow",
        clock: Callable[[], float] = time.time,
    ):
        self.lock = threading.RLock()
        self.token = token
        self.clock = clock
        self.requests_per_minute = 0
        self.block_seconds = 0.0
        self.duplicate_documents = "allow"
        self.no_receipt = "error"
        self.list_date_field = "date_add"
        self.list_lag_seconds = 0.0
        self.list_order = "asc"
        self.configure(
            requests_per_minute=requests_per_minute,
            block_seconds=block_seconds,
            duplicate_documents=duplicate_documents,
        )
        self._methods: dict[str, Callable[[dict], dict]] = {
            "getSeries": self._get_series,
            "getOrderStatusList": self._get_order_status_list,
            "getOrderExtraFields": self._get_order_extra_fields,
            "getOrders": self._get_orders,
            "setOrderFields": self._set_order_fields,
            "setOrderStatus": self._set_order_status,
            "addInvoice": self._add_invoice_api,
            "getInvoices": self._get_invoices,
            "addOrderInvoiceFile": self._add_order_invoice_file,
            "addInvoiceCorrection": self._add_invoice_correction,
            "addReceipt": self._add_receipt_api,
            "getReceipt": self._get_receipt,
            "getReceipts": self._get_receipts,
            "addOrderReceiptFile": self._add_order_receipt_file,
        }
        self.reset()

    # ----------------------------------------------------------------- configuration / reset

    @property
    def methods(self) -> list[str]:
        return sorted(self._methods)

    def configure(
        self,
        *,
        requests_per_minute: int | None = None,
        block_seconds: float | None = None,
        duplicate_documents: str | None = None,
        no_receipt: str | None = None,
        list_date_field: str | None = None,
        list_lag_seconds: float | None = None,
        list_order: str | None = None,
    ) -> None:
        with self.lock:
            for name, value, allowed in (("no_receipt", no_receipt, NO_RECEIPT_ANSWERS),
                                         ("list_date_field", list_date_field, LIST_DATE_FIELDS),
                                         ("list_order", list_order, LIST_ORDERS)):
                if value is not None:
                    if value not in allowed:
                        raise ValueError(f"{name} must be one of {allowed}")
                    setattr(self, name, value)
            if list_lag_seconds is not None:
                if isinstance(list_lag_seconds, bool) or not isinstance(list_lag_seconds, (int, float)) \
                        or list_lag_seconds < 0:
                    raise ValueError("list_lag_seconds must be a number >= 0")
                self.list_lag_seconds = float(list_lag_seconds)
            if requests_per_minute is not None:
                if isinstance(requests_per_minute, bool) or not isinstance(requests_per_minute, int) or requests_per_minute < 1:
                    raise ValueError("requests_per_minute must be an integer >= 1")
                self.requests_per_minute = requests_per_minute
            if block_seconds is not None:
                if isinstance(block_seconds, bool) or not isinstance(block_seconds, (int, float)) or block_seconds < 0:
                    raise ValueError("block_seconds must be a number >= 0")
                self.block_seconds = float(block_seconds)
            if duplicate_documents is not None:
                if duplicate_documents not in DUPLICATE_POLICIES:
                    raise ValueError(f"duplicate_documents must be one of {DUPLICATE_POLICIES}")
                self.duplicate_documents = duplicate_documents

    def reset(self) -> None:
        """Forget all data, faults, calls and the rate-limit state (settings stay)."""
        with self.lock:
            self._series: dict[int, dict] = {}
            self._statuses: dict[int, dict] = {}
            self._extra_fields: dict[int, dict] = {}
            self._orders: dict[int, dict] = {}
            self._invoices: dict[int, dict] = {}
            self._invoice_files: dict[int, bytes] = {}
            self._receipts: dict[int, dict] = {}
            self._receipt_files: dict[int, bytes] = {}
            self._next_order_id = FIRST_ORDER_ID
            self._next_invoice_id = FIRST_INVOICE_ID
            self._next_receipt_id = FIRST_RECEIPT_ID
            self._next_product_id = FIRST_PRODUCT_ID
            self._faults: list[Fault] = []
            self._calls: list[CallRecord] = []
            self._window: deque[float] = deque()
            self._blocked_until: float | None = None

    # ----------------------------------------------------------------------------- seeding

    def add_series(self, series_id: int, type: str, name: str, format: str) -> int:  # noqa: A002
        if type not in SERIES_TYPES:
            raise ValueError(f"series type must be one of {SERIES_TYPES}")
        if not isinstance(format, str) or "%N" not in format:
            raise ValueError("series format must contain %N")
        with self.lock:
            self._series[int(series_id)] = {
                "id": int(series_id), "type": type, "name": str(name), "format": format,
            }
        return int(series_id)

    def add_order_status(self, status_id: int, name: str, color: str = "#00aa00") -> int:
        with self.lock:
            self._statuses[int(status_id)] = {
                "id": int(status_id), "name": str(name), "name_for_customer": str(name), "color": color,
            }
        return int(status_id)

    def add_extra_field(self, extra_field_id: int, name: str, editor_type: str = "text",
                        options: list[str] | None = None) -> int:
        field: dict[str, Any] = {"extra_field_id": int(extra_field_id), "name": str(name), "editor_type": editor_type}
        if options is not None:
            field["options"] = list(options)
        with self.lock:
            self._extra_fields[int(extra_field_id)] = field
        return int(extra_field_id)

    def add_order(self, order_id: int | None = None, **fields: Any) -> int:
        """Add an order; ``fields`` as getOrders returns them (plus ``confirmed``). Returns its id."""
        with self.lock:
            if order_id is None:
                order_id = self._next_order_id
            order_id = int(order_id)
            if order_id in self._orders:
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
                "order_status_id": next(iter(sorted(self._statuses)), 0),
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
            self._orders[order_id] = order
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
            order = self._orders.get(int(order_id))
            if order is None:
                raise KeyError(f"order {order_id} does not exist")
            series = self._series_of_type(int(series_id), "INVOICE")
            if series is None:
                raise KeyError(f"INVOICE series {series_id} does not exist")
            invoice_id = self._create_invoice(order, series)
            if date_sell is not None:
                self._invoices[invoice_id]["date_sell"] = int(date_sell)
            if external_invoice_number:
                self._invoices[invoice_id]["external_invoice_number"] = str(external_invoice_number)
            if file is not None:
                self._invoice_files[invoice_id] = bytes(file)
            return invoice_id

    def add_receipt(self, order_id: int, series_id: int, external_receipt_number: str = "",
                    file: bytes | None = None) -> int:
        """Seed a receipt issued earlier. Ignores the duplicate policy."""
        with self.lock:
            order = self._orders.get(int(order_id))
            if order is None:
                raise KeyError(f"order {order_id} does not exist")
            series = self._series_of_type(int(series_id), "RECEIPT")
            if series is None:
                raise KeyError(f"RECEIPT series {series_id} does not exist")
            receipt_id = self._create_receipt(order, series)
            if external_receipt_number:
                self._receipts[receipt_id]["external_receipt_number"] = str(external_receipt_number)
            if file is not None:
                self._receipt_files[receipt_id] = bytes(file)
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
        "_series", "_statuses", "_extra_fields", "_orders", "_invoices", "_invoice_files",
        "_receipts", "_receipt_files", "_next_order_id", "_next_invoice_id", "_next_receipt_id",
        "_next_product_id", "requests_per_minute", "block_seconds", "duplicate_documents",
        "no_receipt", "list_date_field", "list_lag_seconds", "list_order",
    )

    def _save_data(self) -> dict[str, Any]:
        return {name: copy.deepcopy(getattr(self, name)) for name in self._DATA_ATTRS}

    def _restore_data(self, saved: dict[str, Any]) -> None:
        for name, value in saved.items():
            setattr(self, name, value)

    # ------------------------------------------------------------------------------ faults

    def set_faults(self, faults: Iterable[Fault]) -> None:
        faults = list(faults)
        if not all(isinstance(f, Fault) for f in faults):
            raise TypeError("set_faults() takes Fault objects")
        with self.lock:
            self._faults = faults

    def add_fault(self, fault: Fault) -> None:
        if not isinstance(fault, Fault):
            raise TypeError("add_fault() takes a Fault")
        with self.lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self.lock:
            self._faults = []

    @property
    def faults(self) -> list[Fault]:
        with self.lock:
            return list(self._faults)

    def take_fault(self, method: str) -> Fault | None:
        """Count an arriving API request against the faults; return the one that fires, if any."""
        with self.lock:
            fired: Fault | None = None
            for fault in self._faults:
                if fault.observe(method, already_fired=fired is not None):
                    fired = fault
            return fired

    def record_fault_without_execution(self, method: str, fault: Fault) -> dict[str, Any] | None:
        """Record a request that a fault stopped before execution.

        For ``block`` this also blocks the token and returns the envelope to send; for
        ``http_500`` / ``reset_before`` it returns None (the transport answers).
        """
        with self.lock:
            now = self.clock()
            if fault.kind == "api_error":
                envelope = ApiError(fault.error_code, fault.error_message).envelope()
                self._record(method, now, envelope, executed=False, fault=fault.kind)
                return envelope
            if fault.kind == "account_block":
                until = f" until {block_message(now + fault.seconds).split('until ')[-1]}" if fault.seconds else ""
                envelope = ApiError("ERROR_USER_ACCOUNT_BLOCKED", f"User account blocked{until}").envelope()
                self._record(method, now, envelope, executed=False, fault=fault.kind)
                return envelope
            if fault.kind == "block":
                seconds = fault.seconds or self.block_seconds
                self._block(now, seconds)
                envelope = self._blocked_envelope()
                self._record(method, now, envelope, executed=False, fault=fault.kind)
                return envelope
            status = "HTTP500" if fault.kind == "http_500" else "DROPPED"
            self._calls.append(CallRecord(method, now, status, None, False, False, fault.kind))
            return None

    def record_unanswered(self, method: str, fault: Fault | None) -> None:
        """Record a request dropped unexecuted for another reason (e.g. the server stopping)."""
        with self.lock:
            self._calls.append(CallRecord(method, self.clock(), "DROPPED", None, False, False,
                                          fault.kind if fault else None))

    # ------------------------------------------------------------------------- API entry

    def execute(self, method: str, parameters: str | None, token: str | None, *,
                fault: Fault | None = None, form_error: str | None = None) -> dict[str, Any]:
        """Run one API request; return the response envelope. Records the call.

        ``parameters`` is the raw JSON string of the form field (None when absent);
        ``form_error`` reports a body the transport could not decode as a form.
        """
        params: Any = None
        params_error: str | None = form_error
        if params_error is None:
            try:
                params = json.loads(parameters) if parameters not in (None, "") else {}
            except ValueError:
                params_error = "Parameter 'parameters' is not valid JSON"
            else:
                if params == []:
                    params = {}  # PHP's json_encode of an empty array
                if not isinstance(params, dict):
                    params_error = "Parameter 'parameters' must be a JSON object"

        with self.lock:
            now = self.clock()
            fault_kind = fault.kind if fault else None
            envelope: dict[str, Any]
            executed = False
            if not token:
                envelope = ApiError(ERROR_EMPTY_TOKEN, "No token provided (header X-BLToken)").envelope()
            elif not hmac.compare_digest(token.encode("utf-8", "surrogateescape"),
                                         self.token.encode("utf-8", "surrogateescape")):
                envelope = ApiError(ERROR_AUTH_TOKEN, "Invalid user token").envelope()
            elif not self._admit(now):
                envelope = self._blocked_envelope()
            elif method not in self._methods:
                envelope = ApiError(ERROR_UNKNOWN_METHOD, f"Unknown method: {method or '(empty)'}").envelope()
            elif params_error is not None:
                envelope = ApiError(ERROR_BAD_PARAMETERS, params_error).envelope()
            else:
                executed = True
                # Every method validates all its input before changing anything, so an
                # ApiError never leaves a half-applied change behind.
                try:
                    envelope = {"status": "SUCCESS", **self._methods[method](params)}
                except ApiError as error:
                    envelope = error.envelope()
                except Exception:  # a sandbox bug: say so loudly instead of dropping the line
                    log.exception("sandbox: %s failed", method)
                    envelope = ApiError("ERROR_SANDBOX_INTERNAL", f"Sandbox internal error in {method}").envelope()
            self._record(method, now, envelope, executed=executed, fault=fault_kind)
            return envelope

    def _record(self, method: str, now: float, envelope: dict, *, executed: bool, fault: str | None) -> None:
        ok = envelope["status"] == "SUCCESS"
        status = "DROPPED" if fault == "drop_after_commit" else envelope["status"]
        self._calls.append(CallRecord(
            method, now, status, None if ok else envelope.get("error_code"), executed, executed and ok, fault,
        ))

    # ---------------------------------------------------------------------- rate limiting

    def _admit(self, now: float) -> bool:
        """Sliding 60 s window over admitted requests; the (rpm+1)-th blocks the token."""
        if self._blocked_until is not None:
            if now < self._blocked_until:
                return False
            self._blocked_until = None
        while self._window and self._window[0] <= now - WINDOW_SECONDS:
            self._window.popleft()
        if len(self._window) >= self.requests_per_minute:
            self._block(now, self.block_seconds)
            return False
        self._window.append(now)
        return True

    def _block(self, now: float, seconds: float) -> None:
        # Whole seconds, so the time printed in the message is exactly the end of the block.
        self._blocked_until = float(math.ceil(now + seconds))
        self._window.clear()  # after the block the client starts with a fresh window
        log.debug("token blocked until %s", block_message(self._blocked_until))

    def _blocked_envelope(self) -> dict[str, Any]:
        assert self._blocked_until is not None
        return ApiError(ERROR_BLOCKED_TOKEN, block_message(self._blocked_until)).envelope()

    @property
    def blocked_until(self) -> float | None:
        with self.lock:
            if self._blocked_until is not None and self.clock() >= self._blocked_until:
                return None
            return self._blocked_until

    def unblock(self) -> None:
        with self.lock:
            self._blocked_until = None
            self._window.clear()

    # ------------------------------------------------------------------------- inspection

    @property
    def calls(self) -> list[CallRecord]:
        with self.lock:
            return list(self._calls)

    def write_calls(self) -> list[CallRecord]:
        """Write calls (add*/set*) that ran and succeeded, whether or not the answer arrived."""
        with self.lock:
            return [c for c in self._calls if c.is_write and c.succeeded]

    def get_order(self, order_id: int) -> dict | None:
        with self.lock:
            order = self._orders.get(int(order_id))
            return copy.deepcopy(order) if order else None

    def invoice_file(self, invoice_id: int) -> bytes | None:
        with self.lock:
            return self._invoice_files.get(int(invoice_id))

    def receipt_file(self, receipt_id: int) -> bytes | None:
        with self.lock:
            return self._receipt_files.get(int(receipt_id))

    def invoices_for_order(self, order_id: int) -> list[dict]:
        with self.lock:
            return [self._invoice_view(i) for i in sorted(self._invoices)
                    if self._invoices[i]["order_id"] == int(order_id)]

    def receipts_for_order(self, order_id: int) -> list[dict]:
        with self.lock:
            return [self._receipt_view(r) for r in sorted(self._receipts)
                    if self._receipts[r]["order_id"] == int(order_id)]

    def _invoice_view(self, invoice_id: int) -> dict:
        view = copy.deepcopy(self._invoices[invoice_id])
        view["file"] = _file_info(self._invoice_files.get(invoice_id))
        return view

    def _receipt_view(self, receipt_id: int) -> dict:
        view = copy.deepcopy(self._receipts[receipt_id])
        view["file"] = _file_info(self._receipt_files.get(receipt_id))
        return view

    def snapshot(self) -> dict[str, Any]:
        """Everything, JSON-able (files as ``{"size", "sha256"}``)."""
        with self.lock:
            by_method: dict[str, Counter] = {}
            for call in self._calls:
                by_method.setdefault(call.method, Counter())[call.status] += 1
            return {
                "settings": {
                    "requests_per_minute": self.requests_per_minute,
                    "block_seconds": self.block_seconds,
                    "duplicate_documents": self.duplicate_documents,
                    "no_receipt": self.no_receipt,
                    "list_date_field": self.list_date_field,
                    "list_lag_seconds": self.list_lag_seconds,
                    "list_order": self.list_order,
                },
                "series": [dict(self._series[k]) for k in sorted(self._series)],
                "statuses": [dict(self._statuses[k]) for k in sorted(self._statuses)],
                "extra_fields": [copy.deepcopy(self._extra_fields[k]) for k in sorted(self._extra_fields)],
                "orders": [copy.deepcopy(self._orders[k]) for k in sorted(self._orders)],
                "invoices": [self._invoice_view(k) for k in sorted(self._invoices)],
                "receipts": [self._receipt_view(k) for k in sorted(self._receipts)],
                "blocked_until": self.blocked_until,
                "faults": [f.to_dict() for f in self._faults],
                "call_counts": {
                    "total": len(self._calls),
                    "writes": sum(1 for c in self._calls if c.is_write and c.succeeded),
                    "by_method": {m: dict(c) for m, c in sorted(by_method.items())},
                },
            }

    # ------------------------------------------------------------------ document creation

    def _series_of_type(self, series_id: int, series_type: str) -> dict | None:
        series = self._series.get(series_id)
        return series if series and series["type"] == series_type else None

    def _pick_series(self, params: dict, series_type: str, *, required: bool) -> dict:
        series_id = _int(params, "series_id", required=required)
        if series_id is None:  # optional: the account's first series of that type
            candidates = [s for _, s in sorted(self._series.items()) if s["type"] == series_type]
            if not candidates:
                raise ApiError(ERROR_SERIES_NOT_FOUND, f"No {series_type} numbering series on the account")
            return candidates[0]
        series = self._series_of_type(series_id, series_type)
        if series is None:
            raise ApiError(ERROR_SERIES_NOT_FOUND, f"Numbering series {series_id} of type {series_type} not found")
        return series

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
    def _items_of_order(order: dict) -> list[dict]:
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

    def _create_invoice(self, order: dict, series: dict, **overrides: Any) -> int:
        now = int(self.clock())
        invoice_id = self._next_invoice_id
        self._next_invoice_id += 1
        items = overrides.pop("items", None) or self._items_of_order(order)
        gross, net = self._totals(items)
        invoice: dict[str, Any] = {
            "invoice_id": invoice_id,
            "order_id": order["order_id"],
            "series_id": series["id"],
            "type": "normal",
            **self._numbering(self._invoices.values(), series, now),
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
        self._invoices[invoice_id] = invoice
        return invoice_id

    def _create_receipt(self, order: dict, series: dict) -> int:
        now = int(self.clock())
        receipt_id = self._next_receipt_id
        self._next_receipt_id += 1
        items = [{k: i[k] for k in ("name", "sku", "ean", "price_brutto", "tax_rate", "quantity")}
                 for i in self._items_of_order(order)]
        numbering = self._numbering(self._receipts.values(), series, now)
        self._receipts[receipt_id] = {
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

    def _order(self, params: dict) -> dict:
        order_id = _int(params, "order_id", required=True)
        order = self._orders.get(order_id)
        if order is None:
            raise ApiError(ERROR_ORDER_NOT_FOUND, f"Order {order_id} not found")
        return order

    # ------------------------------------------------------------------------ API methods

    def _get_series(self, params: dict) -> dict:
        # Real answers carry the id as a string ("id": "15"), as in the official sample.
        return {"series": [{**self._series[k], "id": str(k)} for k in sorted(self._series)]}

    def _get_order_status_list(self, params: dict) -> dict:
        return {"statuses": [dict(self._statuses[k]) for k in sorted(self._statuses)]}

    def _get_order_extra_fields(self, params: dict) -> dict:
        return {"extra_fields": [copy.deepcopy(self._extra_fields[k]) for k in sorted(self._extra_fields)]}

    def _get_orders(self, params: dict) -> dict:
        order_id = _int(params, "order_id")
        id_from = _int(params, "id_from")
        date_confirmed_from = _int(params, "date_confirmed_from")
        date_from = _int(params, "date_from")
        status_id = _int(params, "status_id")
        unconfirmed = _flag(params, "get_unconfirmed_orders", False)
        email = _text(params, "filter_email")
        with_custom = _flag(params, "include_custom_extra_fields", False)
        found = []
        for oid in sorted(self._orders):
            o = self._orders[oid]
            if order_id is not None and oid != order_id:
                continue
            if id_from is not None and oid < id_from:
                continue
            if not unconfirmed and not o["confirmed"]:
                continue
            if date_confirmed_from is not None and (not o["confirmed"] or o["date_confirmed"] < date_confirmed_from):
                continue
            if date_from is not None and o["date_add"] < date_from:
                continue
            if status_id is not None and o["order_status_id"] != status_id:
                continue
            if email and str(o.get("email", "")).lower() != email.lower():
                continue
            view = copy.deepcopy(o)
            if not with_custom or not view.get("custom_extra_fields"):
                view.pop("custom_extra_fields", None)  # absent when empty, as in real answers
            found.append(view)
            if len(found) == PAGE_SIZE:
                break
        return {"orders": found}

    def _set_order_fields(self, params: dict) -> dict:
        order = self._order(params)
        changes: dict[str, Any] = {}
        for name, value in params.items():
            if name == "order_id":
                continue
            if value is None:
                raise ApiError(ERROR_BAD_PARAMETERS, f"Parameter {name} must not be null")
            if name in _ORDER_TEXT_FIELDS:
                changes[name] = _text(params, name, max_len=_ORDER_TEXT_LIMITS.get(name))
            elif name in _ORDER_NUMBER_FIELDS:
                changes[name] = _number(params, name)
            elif name in _ORDER_FLAG_FIELDS:
                changes[name] = "1" if _flag(params, name, False) else "0"
            elif name == "custom_extra_fields":
                changes[name] = self._custom_fields_change(value)
            else:
                raise ApiError(ERROR_BAD_PARAMETERS, f"Unknown order field: {name}")
        custom = changes.pop("custom_extra_fields", None)
        order.update(changes)
        if custom:
            for key, text in custom.items():
                if text == "":
                    order["custom_extra_fields"].pop(key, None)
                else:
                    order["custom_extra_fields"][key] = text
        return {}

    def _custom_fields_change(self, value: Any) -> dict[str, str]:
        if value == []:
            return {}
        if not isinstance(value, dict):
            raise ApiError(ERROR_BAD_PARAMETERS, "Parameter custom_extra_fields must be an object {id: value}")
        change: dict[str, str] = {}
        for key, text in value.items():
            if not str(key).isdigit() or int(key) not in self._extra_fields:
                raise ApiError(ERROR_BAD_PARAMETERS, f"Extra field {key} does not exist")
            if isinstance(text, bool) or not isinstance(text, (str, int, float)):
                raise ApiError(ERROR_BAD_PARAMETERS, f"custom_extra_fields[{key}] must be a string")
            change[str(int(key))] = str(text)
        return change

    def _set_order_status(self, params: dict) -> dict:
        order = self._order(params)
        status_id = _int(params, "status_id", required=True)
        if status_id not in self._statuses:
            raise ApiError(ERROR_BAD_PARAMETERS, f"Order status {status_id} does not exist")
        order["order_status_id"] = status_id
        order["date_in_status"] = int(self.clock())
        return {}

    def _refuse_duplicate(self, existing: list[int], code: str, what: str) -> None:
        if existing and self.duplicate_documents == "refuse":
            raise ApiError(code, f"The order already has {what} (id {existing[0]})")

    def _add_invoice_api(self, params: dict) -> dict:
        order = self._order(params)
        series = self._pick_series(params, "INVOICE", required=True)
        vat_rate = params.get("vat_rate")
        if vat_rate is not None and vat_rate not in _VAT_RATE_WORDS and not (
            isinstance(vat_rate, (int, float)) and not isinstance(vat_rate, bool) and 0 <= vat_rate <= 100
        ):
            raise ApiError(ERROR_BAD_PARAMETERS, "Parameter vat_rate must be DEFAULT, ITEM, EXPT, ZW, NP, OO or 0-100")
        existing = [i for i, inv in sorted(self._invoices.items())
                    if inv["order_id"] == order["order_id"] and inv["type"] == "normal"]
        self._refuse_duplicate(existing, ERROR_INVOICE_EXISTS, "an invoice")
        items = None
        if isinstance(vat_rate, (int, float)):
            items = [{**i, "tax_rate": vat_rate, "price_netto": round(i["price_brutto"] / (1 + vat_rate / 100), 4)}
                     for i in self._items_of_order(order)]
        return {"invoice_id": self._create_invoice(order, series, items=items)}

    def _listed(self, documents: dict[int, dict], by_id: bool) -> list[int]:
        """Ids a list call walks, in the configured page order, without the lagging newest ones.

        Lookups of one document (``invoice_id``/``order_id``/``receipt_id``) are never lagged.
        """
        ids = sorted(documents, reverse=self.list_order == "desc")
        if by_id or not self.list_lag_seconds:
            return ids
        horizon = self.clock() - self.list_lag_seconds
        return [i for i in ids if documents[i]["date_add"] <= horizon]

    def _get_invoices(self, params: dict) -> dict:
        invoice_id = _int(params, "invoice_id")
        order_id = _int(params, "order_id")
        date_from = _int(params, "date_from")
        id_from = _int(params, "id_from")
        series_id = _int(params, "series_id")
        external = _flag(params, "get_external_invoices", True)
        found = []
        for iid in self._listed(self._invoices, invoice_id is not None or order_id is not None):
            inv = self._invoices[iid]
            if invoice_id is not None and iid != invoice_id:
                continue
            if order_id is not None and inv["order_id"] != order_id:
                continue
            if date_from is not None and inv[self.list_date_field] < date_from:
                continue
            if id_from is not None and iid < id_from:
                continue
            if series_id is not None and inv["series_id"] != series_id:
                continue
            if not external and iid in self._invoice_files:
                continue
            found.append(copy.deepcopy(inv))
            if len(found) == PAGE_SIZE:
                break
        return {"invoices": found}

    def _add_order_invoice_file(self, params: dict) -> dict:
        invoice_id = _int(params, "invoice_id", required=True)
        if invoice_id not in self._invoices:
            raise ApiError(ERROR_INVOICE_NOT_FOUND, f"Invoice {invoice_id} not found")
        number = _text(params, "external_invoice_number", max_len=MAX_EXTERNAL_INVOICE_NUMBER)
        data = _decode_file(params)
        self._invoice_files[invoice_id] = data
        if number is not None:
            self._invoices[invoice_id]["external_invoice_number"] = number
        return {}

    def _add_invoice_correction(self, params: dict) -> dict:
        if "return_order_id" in params and "original_invoice_id" not in params:
            raise ApiError(ERROR_BAD_PARAMETERS, "return_order_id is not supported by the sandbox; use original_invoice_id")
        original_id = _int(params, "original_invoice_id", required=True)
        original = self._invoices.get(original_id)
        if original is None:
            raise ApiError(ERROR_INVOICE_NOT_FOUND, f"Invoice {original_id} not found")
        series = self._pick_series(params, "CORRECTION", required=False)
        overrides: dict[str, Any] = {
            "type": "correcting",
            "correcting_to_invoice_id": original_id,
            "correcting_items": _flag(params, "correcting_items", True),
            "correcting_data": _flag(params, "correcting_data", False),
            "correcting_reason": str(_int(params, "correcting_reason") or ""),
            **{f: original.get(f, "") for f in _BUYER_FIELDS},
        }
        for name in _BUYER_FIELDS:
            value = _text(params, name)
            if value is not None:
                overrides[name] = value
        date_sell = _int(params, "date_sell")
        if date_sell is not None:
            overrides["date_sell"] = date_sell
        items = params.get("items")
        if items is not None:
            overrides["items"] = self._correction_items(items)
        else:
            overrides["items"] = copy.deepcopy(original["items"])
        order = self._orders.get(original["order_id"]) or {"order_id": original["order_id"], "products": []}
        return {"invoice_id": self._create_invoice(order, series, **overrides)}

    @staticmethod
    def _correction_items(items: Any) -> list[dict]:
        if not isinstance(items, list) or not items:
            raise ApiError(ERROR_BAD_PARAMETERS, "Parameter items must be a non-empty list")
        result = []
        for item in items:
            if not isinstance(item, dict):
                raise ApiError(ERROR_BAD_PARAMETERS, "Each item must be an object")
            name = _text(item, "name", required=True)
            gross = _number(item, "price_brutto")
            quantity = _int(item, "quantity", required=True)
            rate = _number(item, "tax_rate")
            if gross is None:
                raise ApiError(ERROR_BAD_PARAMETERS, "Missing required parameter: price_brutto")
            rate = DEFAULT_TAX_RATE if rate is None else rate
            result.append({"name": name, "sku": str(item.get("sku", "")), "ean": str(item.get("ean", "")),
                           "price_brutto": gross, "price_netto": round(gross / (1 + rate / 100), 4),
                           "tax_rate": rate, "quantity": quantity})
        return result

    def _add_receipt_api(self, params: dict) -> dict:
        order = self._order(params)
        series = self._pick_series(params, "RECEIPT", required=False)
        existing = [r for r, rec in sorted(self._receipts.items()) if rec["order_id"] == order["order_id"]]
        self._refuse_duplicate(existing, ERROR_RECEIPT_EXISTS, "a receipt")
        return {"receipt_id": self._create_receipt(order, series)}

    def _get_receipt(self, params: dict) -> dict:
        receipt_id = _int(params, "receipt_id")
        order_id = _int(params, "order_id")
        if receipt_id is None and order_id is None:
            raise ApiError(ERROR_BAD_PARAMETERS, "Give receipt_id or order_id")
        if receipt_id is not None:
            receipt = self._receipts.get(receipt_id)
        else:  # the oldest receipt of the order
            receipt = next((self._receipts[r] for r in sorted(self._receipts)
                            if self._receipts[r]["order_id"] == order_id), None)
        if receipt is None:
            if order_id is not None and receipt_id is None and self.no_receipt == "success_empty":
                return {}  # the variant: SUCCESS without any receipt fields
            raise ApiError(ERROR_RECEIPT_NOT_FOUND, "Receipt not found")
        return copy.deepcopy(receipt)

    # getReceipts rows hold only these fields, items under "products" (official table and
    # samples): no external_receipt_number, so a row says nothing about the receipt's file.
    _RECEIPT_ROW_FIELDS = ("receipt_id", "series_id", "receipt_full_nr", "year", "month", "sub_id",
                           "order_id", "date_add", "payment_method", "nip", "currency",
                           "total_price_brutto")

    def _get_receipts(self, params: dict) -> dict:
        series_id = _int(params, "series_id")
        id_from = _int(params, "id_from")
        date_from = _int(params, "date_from")
        date_to = _int(params, "date_to")
        found = []
        for rid in self._listed(self._receipts, False):
            rec = self._receipts[rid]
            if series_id is not None and rec["series_id"] != series_id:
                continue
            if id_from is not None and rid < id_from:
                continue
            if date_from is not None and rec["date_add"] < date_from:
                continue
            if date_to is not None and rec["date_add"] > date_to:
                continue
            row = {k: copy.deepcopy(rec[k]) for k in self._RECEIPT_ROW_FIELDS if k in rec}
            row["products"] = copy.deepcopy(rec["items"])
            found.append(row)
            if len(found) == PAGE_SIZE:
                break
        return {"receipts": found}

    def _add_order_receipt_file(self, params: dict) -> dict:
        receipt_id = _int(params, "receipt_id", required=True)
        if receipt_id not in self._receipts:
            raise ApiError(ERROR_RECEIPT_NOT_FOUND, f"Receipt {receipt_id} not found")
        number = _text(params, "external_receipt_number", max_len=MAX_EXTERNAL_RECEIPT_NUMBER)
        data = _decode_file(params)
        self._receipt_files[receipt_id] = data
        if number is not None:
            self._receipts[receipt_id]["external_receipt_number"] = number
        return {}
