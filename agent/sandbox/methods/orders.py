"""getOrders, setOrderFields, setOrderStatus."""

from __future__ import annotations

import copy
from typing import Any

from ..account import Account, PAGE_SIZE
from ..errors import ERROR_BAD_PARAMETERS, ApiError
from ..params import flag_param, int_param, number_param, text_param

# Length limits (characters) documented by BaseLinker.
MAX_EXTRA_FIELD = 50
MAX_ADMIN_COMMENTS = 200

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


def get_orders(account: Account, params: dict) -> dict:
    order_id = int_param(params, "order_id")
    id_from = int_param(params, "id_from")
    date_confirmed_from = int_param(params, "date_confirmed_from")
    date_from = int_param(params, "date_from")
    status_id = int_param(params, "status_id")
    unconfirmed = flag_param(params, "get_unconfirmed_orders", False)
    email = text_param(params, "filter_email")
    with_custom = flag_param(params, "include_custom_extra_fields", False)
    found = []
    for oid in sorted(account.orders):
        o = account.orders[oid]
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


def set_order_fields(account: Account, params: dict) -> dict:
    order = account.order_from(params)
    changes: dict[str, Any] = {}
    for name, value in params.items():
        if name == "order_id":
            continue
        if value is None:
            raise ApiError(ERROR_BAD_PARAMETERS, f"Parameter {name} must not be null")
        if name in _ORDER_TEXT_FIELDS:
            changes[name] = text_param(params, name, max_len=_ORDER_TEXT_LIMITS.get(name))
        elif name in _ORDER_NUMBER_FIELDS:
            changes[name] = number_param(params, name)
        elif name in _ORDER_FLAG_FIELDS:
            changes[name] = "1" if flag_param(params, name, False) else "0"
        elif name == "custom_extra_fields":
            changes[name] = _custom_fields_change(account, value)
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


def _custom_fields_change(account: Account, value: Any) -> dict[str, str]:
    if value == []:
        return {}
    if not isinstance(value, dict):
        raise ApiError(ERROR_BAD_PARAMETERS, "Parameter custom_extra_fields must be an object {id: value}")
    change: dict[str, str] = {}
    for key, text in value.items():
        if not str(key).isdigit() or int(key) not in account.extra_fields:
            raise ApiError(ERROR_BAD_PARAMETERS, f"Extra field {key} does not exist")
        if isinstance(text, bool) or not isinstance(text, (str, int, float)):
            raise ApiError(ERROR_BAD_PARAMETERS, f"custom_extra_fields[{key}] must be a string")
        change[str(int(key))] = str(text)
    return change


def set_order_status(account: Account, params: dict) -> dict:
    order = account.order_from(params)
    status_id = int_param(params, "status_id", required=True)
    if status_id not in account.statuses:
        raise ApiError(ERROR_BAD_PARAMETERS, f"Order status {status_id} does not exist")
    order["order_status_id"] = status_id
    order["date_in_status"] = int(account.clock())
    return {}
