"""getSeries, getOrderStatusList, getOrderExtraFields: the account's series and order fields."""

from __future__ import annotations

import copy

from ..account import Account


def get_series(account: Account, params: dict) -> dict:
    # Real answers carry the id as a string ("id": "15"), as in the official sample.
    return {"series": [{**account.series[k], "id": str(k)} for k in sorted(account.series)]}


def get_order_status_list(account: Account, params: dict) -> dict:
    return {"statuses": [dict(account.statuses[k]) for k in sorted(account.statuses)]}


def get_order_extra_fields(account: Account, params: dict) -> dict:
    return {"extra_fields": [copy.deepcopy(account.extra_fields[k]) for k in sorted(account.extra_fields)]}
