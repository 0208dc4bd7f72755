"""addInvoice, getInvoices, addInvoiceCorrection."""

from __future__ import annotations

import copy
from typing import Any

from ..account import Account, DEFAULT_TAX_RATE, PAGE_SIZE, _BUYER_FIELDS
from ..errors import ERROR_BAD_PARAMETERS, ERROR_INVOICE_EXISTS, ERROR_INVOICE_NOT_FOUND, ApiError
from ..params import flag_param, int_param, number_param, text_param

_VAT_RATE_WORDS = frozenset({"DEFAULT", "ITEM", "EXPT", "ZW", "NP", "OO"})


def add_invoice(account: Account, params: dict) -> dict:
    order = account.order_from(params)
    series = account.pick_series(params, "INVOICE", required=True)
    vat_rate = params.get("vat_rate")
    if vat_rate is not None and vat_rate not in _VAT_RATE_WORDS and not (
        isinstance(vat_rate, (int, float)) and not isinstance(vat_rate, bool) and 0 <= vat_rate <= 100
    ):
        raise ApiError(ERROR_BAD_PARAMETERS, "Parameter vat_rate must be DEFAULT, ITEM, EXPT, ZW, NP, OO or 0-100")
    existing = [i for i, inv in sorted(account.invoices.items())
                if inv["order_id"] == order["order_id"] and inv["type"] == "normal"]
    account.refuse_duplicate(existing, ERROR_INVOICE_EXISTS, "an invoice")
    items = None
    if isinstance(vat_rate, (int, float)):
        items = [{**i, "tax_rate": vat_rate, "price_netto": round(i["price_brutto"] / (1 + vat_rate / 100), 4)}
                 for i in account.items_of_order(order)]
    return {"invoice_id": account.create_invoice(order, series, items=items)}


def get_invoices(account: Account, params: dict) -> dict:
    invoice_id = int_param(params, "invoice_id")
    order_id = int_param(params, "order_id")
    date_from = int_param(params, "date_from")
    id_from = int_param(params, "id_from")
    series_id = int_param(params, "series_id")
    external = flag_param(params, "get_external_invoices", True)
    found = []
    for iid in account.listed(account.invoices, invoice_id is not None or order_id is not None):
        inv = account.invoices[iid]
        if invoice_id is not None and iid != invoice_id:
            continue
        if order_id is not None and inv["order_id"] != order_id:
            continue
        if date_from is not None and inv[account.list_date_field] < date_from:
            continue
        if id_from is not None and iid < id_from:
            continue
        if series_id is not None and inv["series_id"] != series_id:
            continue
        if not external and iid in account.invoice_files:
            continue
        found.append(copy.deepcopy(inv))
        if len(found) == PAGE_SIZE:
            break
    return {"invoices": found}


def add_invoice_correction(account: Account, params: dict) -> dict:
    if "return_order_id" in params and "original_invoice_id" not in params:
        raise ApiError(ERROR_BAD_PARAMETERS, "return_order_id is not supported by the sandbox; use original_invoice_id")
    original_id = int_param(params, "original_invoice_id", required=True)
    original = account.invoices.get(original_id)
    if original is None:
        raise ApiError(ERROR_INVOICE_NOT_FOUND, f"Invoice {original_id} not found")
    series = account.pick_series(params, "CORRECTION", required=False)
    reason = int_param(params, "correcting_reason")
    if reason is not None and not 1 <= reason <= 9:  # the method page's list: 1..9
        raise ApiError(ERROR_BAD_PARAMETERS, "Parameter correcting_reason must be 1-9")
    overrides: dict[str, Any] = {
        "type": "correcting",
        "correcting_to_invoice_id": original_id,
        "correcting_items": flag_param(params, "correcting_items", True),
        "correcting_data": flag_param(params, "correcting_data", False),
        "correcting_reason": str(reason or ""),
        **{f: original.get(f, "") for f in _BUYER_FIELDS},
    }
    for name in _BUYER_FIELDS:
        value = text_param(params, name)
        if value is not None:
            overrides[name] = value
    date_sell = int_param(params, "date_sell")
    if date_sell is not None:
        overrides["date_sell"] = date_sell
    items = params.get("items")
    if items is not None:
        overrides["items"] = _correction_items(items)
    else:
        overrides["items"] = copy.deepcopy(original["items"])
    order = account.orders.get(original["order_id"]) or {"order_id": original["order_id"], "products": []}
    return {"invoice_id": account.create_invoice(order, series, **overrides)}


def _correction_items(items: Any) -> list[dict]:
    if not isinstance(items, list) or not items:
        raise ApiError(ERROR_BAD_PARAMETERS, "Parameter items must be a non-empty list")
    result = []
    for item in items:
        if not isinstance(item, dict):
            raise ApiError(ERROR_BAD_PARAMETERS, "Each item must be an object")
        name = text_param(item, "name", required=True)
        gross = number_param(item, "price_brutto")
        quantity = int_param(item, "quantity", required=True)
        rate = number_param(item, "tax_rate")
        if gross is None:
            raise ApiError(ERROR_BAD_PARAMETERS, "Missing required parameter: price_brutto")
        rate = DEFAULT_TAX_RATE if rate is None else rate
        result.append({"name": name, "sku": str(item.get("sku", "")), "ean": str(item.get("ean", "")),
                       "price_brutto": gross, "price_netto": round(gross / (1 + rate / 100), 4),
                       "tax_rate": rate, "quantity": quantity})
    return result
