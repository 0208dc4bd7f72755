"""addReceipt, getReceipt, getReceipts."""

from __future__ import annotations

import copy

from ..account import Account, PAGE_SIZE
from ..errors import ERROR_BAD_PARAMETERS, ERROR_RECEIPT_EXISTS, ERROR_RECEIPT_NOT_FOUND, ApiError
from ..params import int_param


def add_receipt(account: Account, params: dict) -> dict:
    order = account.order_from(params)
    series = account.pick_series(params, "RECEIPT", required=False)
    existing = [r for r, rec in sorted(account.receipts.items()) if rec["order_id"] == order["order_id"]]
    account.refuse_duplicate(existing, ERROR_RECEIPT_EXISTS, "a receipt")
    return {"receipt_id": account.create_receipt(order, series)}


def get_receipt(account: Account, params: dict) -> dict:
    receipt_id = int_param(params, "receipt_id")
    order_id = int_param(params, "order_id")
    if receipt_id is None and order_id is None:
        raise ApiError(ERROR_BAD_PARAMETERS, "Give receipt_id or order_id")
    if receipt_id is not None:
        receipt = account.receipts.get(receipt_id)
    else:  # the oldest receipt of the order
        receipt = next((account.receipts[r] for r in sorted(account.receipts)
                        if account.receipts[r]["order_id"] == order_id), None)
    if receipt is None:
        if order_id is not None and receipt_id is None and account.no_receipt == "success_empty":
            return {}  # the variant: SUCCESS without any receipt fields
        raise ApiError(ERROR_RECEIPT_NOT_FOUND, "Receipt not found")
    return copy.deepcopy(receipt)


_RECEIPT_ROW_FIELDS = ("receipt_id", "series_id", "receipt_full_nr", "year", "month", "sub_id",
                       "order_id", "date_add", "payment_method", "nip", "currency",
                       "total_price_brutto")


def get_receipts(account: Account, params: dict) -> dict:
    series_id = int_param(params, "series_id")
    id_from = int_param(params, "id_from")
    date_from = int_param(params, "date_from")
    date_to = int_param(params, "date_to")
    found = []
    for rid in account.listed(account.receipts, False):
        rec = account.receipts[rid]
        if series_id is not None and rec["series_id"] != series_id:
            continue
        if id_from is not None and rid < id_from:
            continue
        if date_from is not None and rec["date_add"] < date_from:
            continue
        if date_to is not None and rec["date_add"] > date_to:
            continue
        row = {k: copy.deepcopy(rec[k]) for k in _RECEIPT_ROW_FIELDS if k in rec}
        row["products"] = copy.deepcopy(rec["items"])
        found.append(row)
        if len(found) == PAGE_SIZE:
            break
    return {"receipts": found}
