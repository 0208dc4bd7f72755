"""The BaseLinker sandbox over real HTTP on 127.0.0.1 (raw ``requests``, no client, no mocks)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import requests

from agent.sandbox import Fault, SandboxServer, SandboxState

TOKEN = "sandbox-token"
WARSAW = ZoneInfo("Europe/Warsaw")
REPO = Path(__file__).resolve().parents[2]


class Clock:
    """A hand-driven wall clock for the sandbox."""

    def __init__(self, when: datetime):
        self.now = when.timestamp()

    def __call__(self) -> float:
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += seconds


def warsaw(*args: int) -> datetime:
    return datetime(*args, tzinfo=WARSAW)


@pytest.fixture
def clock() -> Clock:
    return Clock(warsaw(2026, 11, 27, 21, 38, 1))


@pytest.fixture
def state(clock: Clock) -> SandboxState:
    st = SandboxState(token=TOKEN, requests_per_minute=10_000, block_seconds=120, clock=clock)
    st.add_series(15, "INVOICE", "FV", "%N/%M/%Y")
    st.add_series(16, "INVOICE", "FV roczna", "%N/%Y")
    st.add_series(30, "RECEIPT", "Paragony", "PAR/%N/%Y")
    st.add_series(40, "CORRECTION", "Korekty", "KOR/%N/%M/%Y")
    st.add_order_status(1, "Nowe")
    st.add_order_status(2, "Wysłane", color="#0000ff")
    st.add_extra_field(135, "Typ klienta", editor_type="radio", options=["B2B", "B2C"])
    st.add_extra_field(136, "Numer Raks")
    return st


@pytest.fixture
def server(state: SandboxState):
    with SandboxServer(state, host="127.0.0.1", port=0).start() as srv:
        yield srv


def post(srv: SandboxServer, method: str, params=None, *, token: str | None = TOKEN, timeout: float = 30):
    headers = {"X-BLToken": token} if token is not None else {}
    body = {"method": method, "parameters": json.dumps({} if params is None else params)}
    return requests.post(srv.url, data=body, headers=headers, timeout=timeout)


def call(srv: SandboxServer, method: str, params=None, **kwargs) -> dict:
    response = post(srv, method, params, **kwargs)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    return response.json()


def ok(srv: SandboxServer, method: str, params=None, **kwargs) -> dict:
    result = call(srv, method, params, **kwargs)
    assert result["status"] == "SUCCESS", result
    return result


def error_code(srv: SandboxServer, method: str, params=None, **kwargs) -> str:
    result = call(srv, method, params, **kwargs)
    assert result["status"] == "ERROR", result
    assert result["error_message"]
    return result["error_code"]


def new_order(state: SandboxState, **fields) -> int:
    defaults = dict(
        invoice_fullname="Jan Kowalski", invoice_company="Kowalski sp. z o.o.", invoice_nip="5260250995",
        email="jan@example.com", currency="PLN", order_status_id=1,
        products=[{"name": "Kubek", "sku": "K-1", "price_brutto": 24.6, "quantity": 2, "tax_rate": 23}],
        delivery_price=15.0,
    )
    defaults.update(fields)
    return state.add_order(**defaults)


def data_url(data: bytes) -> str:
    return "data:" + base64.b64encode(data).decode("ascii")


PDF_WITH_PLUS = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
assert "+" in base64.b64encode(PDF_WITH_PLUS).decode()


# ------------------------------------------------------------------------------ contract


def test_missing_token_is_error_empty_token_and_nothing_runs(server, state):
    order_id = new_order(state)
    assert error_code(server, "addInvoice", {"order_id": order_id, "series_id": 15}, token=None) == "ERROR_EMPTY_TOKEN"
    assert error_code(server, "getSeries", token="") == "ERROR_EMPTY_TOKEN"
    assert state.invoices_for_order(order_id) == []
    assert [c.executed for c in state.calls] == [False, False]


def test_wrong_token_is_error_auth_token(server, state):
    order_id = new_order(state)
    result = call(server, "addInvoice", {"order_id": order_id, "series_id": 15}, token="wrong")
    assert result == {"status": "ERROR", "error_code": "ERROR_AUTH_TOKEN", "error_message": "Invalid user token"}
    assert state.invoices_for_order(order_id) == []


def test_deprecated_token_form_field_is_not_accepted(server):
    response = requests.post(server.url, data={"token": TOKEN, "method": "getSeries", "parameters": "{}"}, timeout=10)
    assert response.json()["error_code"] == "ERROR_EMPTY_TOKEN"


def test_unknown_method(server):
    assert error_code(server, "getEverything") == "ERROR_UNKNOWN_METHOD"
    response = requests.post(server.url, data={"parameters": "{}"}, headers={"X-BLToken": TOKEN}, timeout=10)
    assert response.json()["error_code"] == "ERROR_UNKNOWN_METHOD"


@pytest.mark.parametrize("parameters", ["{not json", "[1, 2]", '"text"', "42"])
def test_parameters_that_are_not_a_json_object_are_bad_parameters(server, parameters):
    response = requests.post(server.url, data={"method": "getSeries", "parameters": parameters},
                             headers={"X-BLToken": TOKEN}, timeout=10)
    assert response.json()["error_code"] == "ERROR_BAD_PARAMETERS"


@pytest.mark.parametrize("parameters", ["{}", "[]", ""])
def test_empty_parameters_are_accepted(server, parameters):
    response = requests.post(server.url, data={"method": "getSeries", "parameters": parameters},
                             headers={"X-BLToken": TOKEN}, timeout=10)
    assert response.json()["status"] == "SUCCESS"


def test_wrong_parameter_types_are_bad_parameters(server, state):
    order_id = new_order(state)
    assert error_code(server, "addInvoice", {"order_id": "abc", "series_id": 15}) == "ERROR_BAD_PARAMETERS"
    assert error_code(server, "addInvoice", {"order_id": order_id, "series_id": None}) == "ERROR_BAD_PARAMETERS"
    assert error_code(server, "addInvoice", {"order_id": [order_id], "series_id": 15}) == "ERROR_BAD_PARAMETERS"
    assert error_code(server, "addInvoice", {"series_id": 15}) == "ERROR_BAD_PARAMETERS"
    assert error_code(server, "getInvoices", {"get_external_invoices": "maybe"}) == "ERROR_BAD_PARAMETERS"
    assert error_code(server, "getInvoices", {"order_id": "--5"}) == "ERROR_BAD_PARAMETERS"
    assert state.invoices_for_order(order_id) == []
    # ids as digit strings are fine (PHP-like), as the official samples send them
    assert ok(server, "addInvoice", {"order_id": str(order_id), "series_id": "15"})["invoice_id"] > 0


def test_responses_escape_slashes_like_php(server, state):
    order_id = new_order(state)
    ok(server, "addInvoice", {"order_id": order_id, "series_id": 15})
    raw = post(server, "getInvoices", {"order_id": order_id}).text
    assert '"1\\/11\\/2026"' in raw
    assert json.loads(raw)["invoices"][0]["number"] == "1/11/2026"


# ------------------------------------------------------------------------- read methods


def test_get_series_ids_are_strings_as_in_real_answers(server):
    series = ok(server, "getSeries")["series"]
    assert series == [
        {"id": "15", "type": "INVOICE", "name": "FV", "format": "%N/%M/%Y"},
        {"id": "16", "type": "INVOICE", "name": "FV roczna", "format": "%N/%Y"},
        {"id": "30", "type": "RECEIPT", "name": "Paragony", "format": "PAR/%N/%Y"},
        {"id": "40", "type": "CORRECTION", "name": "Korekty", "format": "KOR/%N/%M/%Y"},
    ]


def test_get_order_status_list_and_extra_fields(server):
    statuses = ok(server, "getOrderStatusList")["statuses"]
    assert [(s["id"], s["name"], s["color"]) for s in statuses] == [(1, "Nowe", "#00aa00"), (2, "Wysłane", "#0000ff")]
    assert all("name_for_customer" in s for s in statuses)
    fields = ok(server, "getOrderExtraFields")["extra_fields"]
    assert fields == [
        {"extra_field_id": 135, "name": "Typ klienta", "editor_type": "radio", "options": ["B2B", "B2C"]},
        {"extra_field_id": 136, "name": "Numer Raks", "editor_type": "text"},
    ]


def test_get_orders_fields_and_types(server, state):
    b2b = new_order(state, custom_extra_fields={135: "B2B"}, extra_field_1="x")
    b2c = new_order(state, invoice_nip="", invoice_company="")
    orders = ok(server, "getOrders")["orders"]
    assert [o["order_id"] for o in orders] == [b2b, b2c]
    first = orders[0]
    assert first["want_invoice"] == "1" and orders[1]["want_invoice"] == "0"
    assert first["invoice_nip"] == "5260250995" and first["email"] == "jan@example.com"
    assert first["extra_field_1"] == "x" and first["delivery_price"] == 15.0
    assert first["products"][0]["name"] == "Kubek" and first["products"][0]["price_brutto"] == 24.6
    assert first["products"][0]["quantity"] == 2 and first["products"][0]["tax_rate"] == 23
    assert "custom_extra_fields" not in first
    with_custom = ok(server, "getOrders", {"order_id": b2b, "include_custom_extra_fields": True})["orders"]
    assert with_custom[0]["custom_extra_fields"] == {"135": "B2B"}


def test_get_orders_filters(server, state, clock):
    t0 = int(clock())
    early = new_order(state, date_add=t0 - 1000, date_confirmed=t0 - 900, email="a@x.pl")
    late = new_order(state, date_add=t0, date_confirmed=t0 + 10, email="B@x.pl", order_status_id=2)
    unconfirmed = new_order(state, confirmed=False)

    def ids(**params):
        return [o["order_id"] for o in ok(server, "getOrders", params)["orders"]]

    assert ids() == [early, late]
    assert ids(get_unconfirmed_orders=True) == [early, late, unconfirmed]
    assert ids(order_id=late) == [late]
    assert ids(order_id=unconfirmed) == []
    assert ids(order_id=unconfirmed, get_unconfirmed_orders=True) == [unconfirmed]
    assert ids(id_from=late, get_unconfirmed_orders=True) == [late, unconfirmed]
    assert ids(date_confirmed_from=t0) == [late]
    assert ids(date_from=t0 - 1) == [late]
    assert ids(status_id=2) == [late]
    assert ids(filter_email="b@x.pl") == [late]


def test_get_orders_pages_of_100_with_inclusive_id_from(server, state):
    created = [state.add_order(products=[]) for _ in range(250)]
    seen, id_from, pages = [], 0, []
    while True:
        page = ok(server, "getOrders", {"id_from": id_from})["orders"]
        if not page:
            break
        pages.append(len(page))
        seen += [o["order_id"] for o in page]
        id_from = page[-1]["order_id"] + 1
    assert pages == [100, 100, 50]
    assert seen == created == sorted(created)


def test_get_invoices_pages_of_100(server, state):
    order_id = new_order(state)
    created = [state.add_invoice(order_id, 15) for _ in range(130)]
    first = ok(server, "getInvoices")["invoices"]
    assert [i["invoice_id"] for i in first] == created[:100]
    rest = ok(server, "getInvoices", {"id_from": first[-1]["invoice_id"] + 1})["invoices"]
    assert [i["invoice_id"] for i in rest] == created[100:]


# ---------------------------------------------------------------------------- order writes


def test_set_order_fields_changes_only_given_fields(server, state):
    order_id = new_order(state, extra_field_1="keep", extra_field_2="old", admin_comments="c")
    ok(server, "setOrderFields", {"order_id": order_id, "extra_field_2": "FS 1/11/2026/MAG"})
    order = state.get_order(order_id)
    assert order["extra_field_2"] == "FS 1/11/2026/MAG"
    assert order["extra_field_1"] == "keep" and order["admin_comments"] == "c"
    assert order["invoice_fullname"] == "Jan Kowalski"


def test_set_order_fields_length_limits_name_the_field(server, state):
    order_id = new_order(state)
    ok(server, "setOrderFields", {"order_id": order_id, "extra_field_1": "ż" * 50})  # characters, not bytes
    assert state.get_order(order_id)["extra_field_1"] == "ż" * 50
    for name, limit in (("extra_field_1", 50), ("extra_field_2", 50), ("admin_comments", 200)):
        result = call(server, "setOrderFields", {"order_id": order_id, "extra_field_2": "new", name: "x" * (limit + 1)})
        assert result["error_code"] == "ERROR_FIELD_TOO_LONG"
        assert name in result["error_message"]
    order = state.get_order(order_id)
    assert order["extra_field_1"] == "ż" * 50 and order["extra_field_2"] == ""  # nothing half-applied


def test_set_order_fields_custom_extra_fields(server, state):
    order_id = new_order(state, custom_extra_fields={"135": "B2B"})
    ok(server, "setOrderFields", {"order_id": order_id, "custom_extra_fields": {"136": "FS 7/2026"}})
    assert state.get_order(order_id)["custom_extra_fields"] == {"135": "B2B", "136": "FS 7/2026"}
    ok(server, "setOrderFields", {"order_id": order_id, "custom_extra_fields": {"135": ""}})
    assert state.get_order(order_id)["custom_extra_fields"] == {"136": "FS 7/2026"}
    code = error_code(server, "setOrderFields", {"order_id": order_id, "custom_extra_fields": {"999": "x"}})
    assert code == "ERROR_BAD_PARAMETERS"
    assert state.get_order(order_id)["custom_extra_fields"] == {"136": "FS 7/2026"}


def test_set_order_fields_refuses_null_unknown_field_and_missing_order(server, state):
    order_id = new_order(state)
    assert error_code(server, "setOrderFields", {"order_id": order_id, "extra_field_1": None}) == "ERROR_BAD_PARAMETERS"
    assert error_code(server, "setOrderFields", {"order_id": order_id, "extra_field_3": "x"}) == "ERROR_BAD_PARAMETERS"
    assert error_code(server, "setOrderFields", {"order_id": 1, "extra_field_1": "x"}) == "ERROR_ORDER_NOT_FOUND"


def test_set_order_status(server, state):
    order_id = new_order(state)
    ok(server, "setOrderStatus", {"order_id": order_id, "status_id": 2})
    assert state.get_order(order_id)["order_status_id"] == 2
    assert error_code(server, "setOrderStatus", {"order_id": order_id, "status_id": 77}) == "ERROR_BAD_PARAMETERS"
    assert error_code(server, "setOrderStatus", {"order_id": 5, "status_id": 1}) == "ERROR_ORDER_NOT_FOUND"
    assert state.get_order(order_id)["order_status_id"] == 2


# ------------------------------------------------------------------------------- invoices


def test_add_invoice_copies_buyer_items_and_totals(server, state, clock):
    order_id = new_order(state)
    invoice_id = ok(server, "addInvoice", {"order_id": order_id, "series_id": 15})["invoice_id"]
    assert isinstance(invoice_id, int)
    [inv] = ok(server, "getInvoices", {"invoice_id": invoice_id})["invoices"]
    assert inv["order_id"] == order_id and inv["series_id"] == 15 and inv["type"] == "normal"
    assert inv["number"] == "1/11/2026" and (inv["year"], inv["month"], inv["sub_id"]) == (2026, 11, 1)
    assert inv["date_add"] == int(clock())
    assert inv["invoice_nip"] == "5260250995" and inv["invoice_fullname"] == "Jan Kowalski"
    assert inv["total_price_brutto"] == 64.2  # 2 × 24.60 + 15.00 delivery
    assert inv["currency"] == "PLN" and inv["external_invoice_number"] == ""
    assert inv["external_id"] == str(invoice_id) and inv["correcting_to_invoice_id"] == 0
    assert [(i["name"], i["quantity"]) for i in inv["items"]] == [("Kubek", 2), ("Kurier", 1)]


def test_add_invoice_validations(server, state):
    order_id = new_order(state)
    assert error_code(server, "addInvoice", {"order_id": order_id, "series_id": 999}) == "ERROR_SERIES_NOT_FOUND"
    assert error_code(server, "addInvoice", {"order_id": order_id, "series_id": 30}) == "ERROR_SERIES_NOT_FOUND"
    assert error_code(server, "addInvoice", {"order_id": order_id}) == "ERROR_BAD_PARAMETERS"
    assert error_code(server, "addInvoice", {"order_id": 123, "series_id": 15}) == "ERROR_ORDER_NOT_FOUND"
    assert error_code(server, "addInvoice", {"order_id": order_id, "series_id": 15, "vat_rate": "X"}) == "ERROR_BAD_PARAMETERS"
    assert state.invoices_for_order(order_id) == []
    assert state.write_calls() == []


def test_second_add_invoice_creates_a_duplicate_by_default(server, state):
    order_id = new_order(state)
    first = ok(server, "addInvoice", {"order_id": order_id, "series_id": 15})["invoice_id"]
    second = ok(server, "addInvoice", {"order_id": order_id, "series_id": 15})["invoice_id"]
    assert first != second
    assert [i["number"] for i in state.invoices_for_order(order_id)] == ["1/11/2026", "2/11/2026"]


def test_second_add_invoice_is_refused_when_configured(server, state):
    state.configure(duplicate_documents="refuse")
    order_id = new_order(state)
    existing = state.add_invoice(order_id, 15)  # e.g. made by a BaseLinker automation
    result = call(server, "addInvoice", {"order_id": order_id, "series_id": 15})
    assert result["status"] == "ERROR" and result["error_code"] not in ("ERROR_AUTH_TOKEN", "ERROR_BLOCKED_TOKEN")
    assert str(existing) in result["error_message"]
    assert len(state.invoices_for_order(order_id)) == 1


def test_numbering_per_series_per_month_and_year_in_warsaw_time(server, state, clock):
    a, b = new_order(state), new_order(state)

    def add(order_id, series_id):
        invoice_id = ok(server, "addInvoice", {"order_id": order_id, "series_id": series_id})["invoice_id"]
        return ok(server, "getInvoices", {"invoice_id": invoice_id})["invoices"][0]["number"]

    clock.set(warsaw(2026, 1, 31, 12, 0))
    assert [add(a, 15), add(b, 15), add(a, 16)] == ["1/1/2026", "2/1/2026", "1/2026"]
    # 23:30 UTC on 31 January is already 1 February in Warsaw: a new monthly counter
    clock.set(datetime(2026, 1, 31, 23, 30, tzinfo=ZoneInfo("UTC")))
    assert [add(a, 15), add(b, 16)] == ["1/2/2026", "2/2026"]
    clock.set(warsaw(2027, 1, 2, 9, 0))
    assert [add(a, 15), add(a, 16)] == ["1/1/2027", "1/2027"]
    clock.set(warsaw(2026, 1, 31, 13, 0))  # back in an old month: the counter continues there
    assert add(b, 15) == "3/1/2026"


def test_get_invoices_filters(server, state, clock):
    a, b = new_order(state), new_order(state)
    i1 = state.add_invoice(a, 15)
    clock.advance(100)
    i2 = state.add_invoice(b, 16)
    i3 = state.add_invoice(b, 15)

    def ids(**params):
        return [i["invoice_id"] for i in ok(server, "getInvoices", params)["invoices"]]

    assert ids() == [i1, i2, i3]
    assert ids(order_id=b) == [i2, i3]
    assert ids(invoice_id=i2) == [i2]
    assert ids(series_id=15) == [i1, i3]
    assert ids(id_from=i2) == [i2, i3]
    assert ids(date_from=int(clock())) == [i2, i3]


def test_get_external_invoices_false_hides_invoices_with_a_file(server, state):
    order_id = new_order(state)
    done = state.add_invoice(order_id, 15)
    todo = state.add_invoice(order_id, 15)
    ok(server, "addOrderInvoiceFile", {"invoice_id": done, "file": data_url(b"%PDF-1"), "external_invoice_number": "FS 1"})

    def ids(**params):
        return [i["invoice_id"] for i in ok(server, "getInvoices", params)["invoices"]]

    assert ids(get_external_invoices=False) == [todo]
    assert ids(get_external_invoices=True) == [done, todo]
    assert ids() == [done, todo]


def test_add_order_invoice_file_stores_bytes_and_number(server, state):
    order_id = new_order(state)
    invoice_id = state.add_invoice(order_id, 15)
    ok(server, "addOrderInvoiceFile", {"invoice_id": invoice_id, "file": data_url(PDF_WITH_PLUS),
                                       "external_invoice_number": "FS 12/11/2026/MAGAZYN-ŁÓDŹ"})
    assert state.invoice_file(invoice_id) == PDF_WITH_PLUS
    [inv] = ok(server, "getInvoices", {"invoice_id": invoice_id})["invoices"]
    assert inv["external_invoice_number"] == "FS 12/11/2026/MAGAZYN-ŁÓDŹ"
    downloaded = requests.get(f"{server.base_url}/_file/invoice/{invoice_id}", timeout=10)
    assert downloaded.status_code == 200 and downloaded.content == PDF_WITH_PLUS
    # a second upload replaces file and number
    ok(server, "addOrderInvoiceFile", {"invoice_id": invoice_id, "file": data_url(b"%PDF-2"),
                                       "external_invoice_number": "FS 13"})
    assert state.invoice_file(invoice_id) == b"%PDF-2"
    assert state.invoices_for_order(order_id)[0]["external_invoice_number"] == "FS 13"


@pytest.mark.parametrize("file_value", [
    base64.b64encode(b"%PDF").decode(),      # no data: prefix
    "data:application/pdf;base64," + base64.b64encode(b"%PDF").decode(),
    "data:%%%not base64",
    "data:QUJD=",                            # bad padding
    "data:",                                 # empty
])
def test_add_order_invoice_file_refuses_bad_files(server, state, file_value):
    order_id = new_order(state)
    invoice_id = state.add_invoice(order_id, 15)
    code = error_code(server, "addOrderInvoiceFile", {"invoice_id": invoice_id, "file": file_value,
                                                      "external_invoice_number": "FS 1"})
    assert code == "ERROR_FILE"
    assert state.invoice_file(invoice_id) is None
    assert state.invoices_for_order(order_id)[0]["external_invoice_number"] == ""


def test_add_order_invoice_file_validations(server, state):
    invoice_id = state.add_invoice(new_order(state), 15)
    params = {"invoice_id": invoice_id, "file": data_url(b"%PDF"), "external_invoice_number": "x" * 31}
    result = call(server, "addOrderInvoiceFile", params)
    assert result["error_code"] == "ERROR_FIELD_TOO_LONG" and "external_invoice_number" in result["error_message"]
    assert state.invoice_file(invoice_id) is None
    ok(server, "addOrderInvoiceFile", {**params, "external_invoice_number": "x" * 30})
    assert error_code(server, "addOrderInvoiceFile", {**params, "invoice_id": 1}) == "ERROR_INVOICE_NOT_FOUND"


def test_add_invoice_correction(server, state):
    order_id = new_order(state)
    original = state.add_invoice(order_id, 15)
    correction = ok(server, "addInvoiceCorrection", {"original_invoice_id": original, "series_id": 40})["invoice_id"]
    [inv] = ok(server, "getInvoices", {"invoice_id": correction})["invoices"]
    assert inv["type"] == "correcting" and inv["correcting_to_invoice_id"] == original
    assert inv["number"] == "KOR/1/11/2026" and inv["order_id"] == order_id
    assert inv["invoice_nip"] == "5260250995"
    assert error_code(server, "addInvoiceCorrection", {"original_invoice_id": original, "series_id": 15}) == "ERROR_SERIES_NOT_FOUND"
    assert error_code(server, "addInvoiceCorrection", {"original_invoice_id": 3, "series_id": 40}) == "ERROR_INVOICE_NOT_FOUND"
    assert error_code(server, "addInvoiceCorrection", {"original_invoice_id": original, "correcting_reason": 10}) \
        == "ERROR_BAD_PARAMETERS"
    assert len(state.invoices_for_order(order_id)) == 2


# ------------------------------------------------------------------------------- receipts


def test_receipt_flow(server, state, clock):
    order_id = new_order(state, invoice_nip="")
    receipt_id = ok(server, "addReceipt", {"order_id": order_id, "series_id": 30})["receipt_id"]
    receipt = ok(server, "getReceipt", {"receipt_id": receipt_id})
    assert receipt["receipt_id"] == receipt_id and receipt["order_id"] == order_id
    assert receipt["series_id"] == 30 and receipt["receipt_full_nr"] == "PAR/1/2026"
    assert (receipt["year"], receipt["month"], receipt["sub_id"]) == (2026, 11, 1)
    assert receipt["date_add"] == int(clock()) and receipt["total_price_brutto"] == 64.2
    assert receipt["external_receipt_number"] == "" and len(receipt["items"]) == 2
    assert ok(server, "getReceipt", {"order_id": order_id})["receipt_id"] == receipt_id

    ok(server, "addOrderReceiptFile", {"receipt_id": receipt_id, "file": data_url(PDF_WITH_PLUS),
                                       "external_receipt_number": "PA 1/11/2026"})
    assert state.receipt_file(receipt_id) == PDF_WITH_PLUS
    assert ok(server, "getReceipt", {"receipt_id": receipt_id})["external_receipt_number"] == "PA 1/11/2026"
    assert requests.get(f"{server.base_url}/_file/receipt/{receipt_id}", timeout=10).content == PDF_WITH_PLUS


def test_receipt_validations(server, state):
    order_id = new_order(state)
    assert error_code(server, "addReceipt", {"order_id": order_id, "series_id": 15}) == "ERROR_SERIES_NOT_FOUND"
    assert error_code(server, "addReceipt", {"order_id": 9, "series_id": 30}) == "ERROR_ORDER_NOT_FOUND"
    assert error_code(server, "getReceipt", {"order_id": order_id}) == "ERROR_RECEIPT_NOT_FOUND"
    assert error_code(server, "getReceipt", {"receipt_id": 1}) == "ERROR_RECEIPT_NOT_FOUND"
    assert error_code(server, "getReceipt") == "ERROR_BAD_PARAMETERS"
    receipt_id = ok(server, "addReceipt", {"order_id": order_id})["receipt_id"]  # default RECEIPT series
    result = call(server, "addOrderReceiptFile", {"receipt_id": receipt_id, "file": data_url(b"%PDF"),
                                                  "external_receipt_number": "x" * 21})
    assert result["error_code"] == "ERROR_FIELD_TOO_LONG" and "external_receipt_number" in result["error_message"]
    assert state.receipt_file(receipt_id) is None
    assert error_code(server, "addOrderReceiptFile", {"receipt_id": 5, "file": data_url(b"%PDF")}) == "ERROR_RECEIPT_NOT_FOUND"


def test_receipt_duplicate_policy(server, state):
    order_id = new_order(state)
    ok(server, "addReceipt", {"order_id": order_id, "series_id": 30})
    ok(server, "addReceipt", {"order_id": order_id, "series_id": 30})
    assert [r["receipt_full_nr"] for r in state.receipts_for_order(order_id)] == ["PAR/1/2026", "PAR/2/2026"]
    state.configure(duplicate_documents="refuse")
    assert call(server, "addReceipt", {"order_id": order_id, "series_id": 30})["status"] == "ERROR"
    assert len(state.receipts_for_order(order_id)) == 2


def test_get_receipts_filters_and_paging(server, state, clock):
    state.add_series(31, "RECEIPT", "Paragony 2", "P2/%N/%M/%Y")
    order_id = new_order(state)
    t0 = int(clock())
    first = [state.add_receipt(order_id, 30) for _ in range(105)]
    clock.advance(50)
    other = state.add_receipt(order_id, 31)

    def ids(**params):
        return [r["receipt_id"] for r in ok(server, "getReceipts", params)["receipts"]]

    assert ids() == first[:100]
    assert ids(id_from=first[100]) == first[100:] + [other]
    assert ids(series_id=31) == [other]
    assert ids(date_from=t0 + 1) == [other]
    assert ids(date_to=t0, id_from=first[99]) == first[99:]


# ----------------------------------------------------------------------- base64 and bodies


def test_plus_in_base64_survives_when_the_form_is_properly_encoded(server, state):
    invoice_id = state.add_invoice(new_order(state), 15)
    parameters = json.dumps({"invoice_id": invoice_id, "file": data_url(PDF_WITH_PLUS), "external_invoice_number": "FS 1"})
    body = "method=addOrderInvoiceFile&parameters=" + quote(parameters, safe="")
    assert "%2B" in body
    response = requests.post(server.url, data=body, timeout=10, headers={
        "X-BLToken": TOKEN, "Content-Type": "application/x-www-form-urlencoded"})
    assert response.json()["status"] == "SUCCESS"
    assert state.invoice_file(invoice_id) == PDF_WITH_PLUS


def test_raw_plus_in_base64_is_corrupted_like_on_the_real_api(server, state):
    invoice_id = state.add_invoice(new_order(state), 15)
    parameters = json.dumps({"invoice_id": invoice_id, "file": data_url(PDF_WITH_PLUS), "external_invoice_number": "FS 1"})
    body = "method=addOrderInvoiceFile&parameters=" + quote(parameters, safe="+")  # '+' left raw
    assert "+" in body
    response = requests.post(server.url, data=body, timeout=10, headers={
        "X-BLToken": TOKEN, "Content-Type": "application/x-www-form-urlencoded"})
    assert response.json()["error_code"] == "ERROR_FILE"
    assert state.invoice_file(invoice_id) != PDF_WITH_PLUS


def test_twenty_megabyte_pdf_round_trips(server, state):
    invoice_id = state.add_invoice(new_order(state), 15)
    pdf = b"%PDF-1.7\n" + os.urandom(20 * 1024 * 1024)
    ok(server, "addOrderInvoiceFile", {"invoice_id": invoice_id, "file": data_url(pdf), "external_invoice_number": "FS big"},
       timeout=120)
    stored = state.invoice_file(invoice_id)
    assert stored is not None and hashlib.sha256(stored).digest() == hashlib.sha256(pdf).digest()
    assert state.snapshot()["invoices"][0]["file"] == {"size": len(pdf), "sha256": hashlib.sha256(pdf).hexdigest()}


def test_chunked_body_is_read(server, state):
    order_id = new_order(state)
    body = f"method=addInvoice&parameters={quote(json.dumps({'order_id': order_id, 'series_id': 15}))}".encode()
    chunks = iter([body[:10], body[10:]])
    response = requests.post(server.url, data=chunks, timeout=10, headers={
        "X-BLToken": TOKEN, "Content-Type": "application/x-www-form-urlencoded"})
    assert response.json()["status"] == "SUCCESS"
    assert len(state.invoices_for_order(order_id)) == 1


# ---------------------------------------------------------------------------- rate limit


def parse_block_message(message: str) -> float:
    prefix = "Query limit exceeded, token blocked until "
    assert message.startswith(prefix), message
    return datetime.strptime(message[len(prefix):], "%Y-%m-%d %H:%M:%S").replace(tzinfo=WARSAW).timestamp()


def test_rate_limit_blocks_the_request_over_the_limit_until_block_ends(server, state, clock):
    state.configure(requests_per_minute=5, block_seconds=120)
    order_id = new_order(state)
    for _ in range(5):
        clock.advance(1)
        ok(server, "getSeries")
    clock.advance(1)
    blocked_at = clock()
    result = call(server, "addInvoice", {"order_id": order_id, "series_id": 15})
    assert result["error_code"] == "ERROR_BLOCKED_TOKEN"
    assert result["error_message"] == "Query limit exceeded, token blocked until 2026-11-27 21:40:07"
    until = parse_block_message(result["error_message"])
    assert until == blocked_at + 120
    assert state.invoices_for_order(order_id) == []  # not executed

    clock.set(datetime.fromtimestamp(until - 1, WARSAW))
    assert error_code(server, "addInvoice", {"order_id": order_id, "series_id": 15}) == "ERROR_BLOCKED_TOKEN"
    assert state.invoices_for_order(order_id) == []
    assert state.snapshot()["blocked_until"] == until

    clock.set(datetime.fromtimestamp(until, WARSAW))
    ok(server, "addInvoice", {"order_id": order_id, "series_id": 15})
    assert len(state.invoices_for_order(order_id)) == 1
    assert [c.status for c in state.calls] == ["SUCCESS"] * 5 + ["ERROR", "ERROR", "SUCCESS"]


def test_rate_limit_window_slides(server, state, clock):
    state.configure(requests_per_minute=5)
    t0 = clock()
    ok(server, "getSeries")
    clock.advance(30)
    for _ in range(4):
        ok(server, "getSeries")
    clock.now = t0 + 60  # the first request has left the window
    ok(server, "getSeries")
    clock.now = t0 + 89  # the four at t0+30 are still inside
    assert error_code(server, "getSeries") == "ERROR_BLOCKED_TOKEN"


def test_block_message_uses_warsaw_summer_time(server, state, clock):
    state.configure(requests_per_minute=1, block_seconds=60)
    clock.set(datetime(2026, 7, 1, 10, 0, 0, tzinfo=ZoneInfo("UTC")))
    ok(server, "getSeries")
    message = call(server, "getSeries")["error_message"]
    assert message == "Query limit exceeded, token blocked until 2026-07-01 12:01:00"


def test_requests_with_a_wrong_token_do_not_count(server, state):
    state.configure(requests_per_minute=2)
    for _ in range(5):
        error_code(server, "getSeries", token="bad")
    ok(server, "getSeries")
    ok(server, "getSeries")


# -------------------------------------------------------------------------------- faults


def test_drop_after_commit_executes_but_never_answers(server, state):
    order_id = new_order(state)
    state.add_fault(Fault("addInvoice", "drop_after_commit"))
    with pytest.raises(requests.ConnectionError):
        post(server, "addInvoice", {"order_id": order_id, "series_id": 15})
    [invoice] = state.invoices_for_order(order_id)
    record = state.calls[-1]
    assert (record.status, record.executed, record.succeeded, record.fault) == ("DROPPED", True, True, "drop_after_commit")
    assert [c.method for c in state.write_calls()] == ["addInvoice"]
    # the fault is used up: the lookup works
    assert ok(server, "getInvoices", {"order_id": order_id})["invoices"][0]["invoice_id"] == invoice["invoice_id"]


def test_http_500_answers_html_and_does_not_execute(server, state):
    order_id = new_order(state)
    state.add_fault(Fault("addInvoice", "http_500"))
    response = post(server, "addInvoice", {"order_id": order_id, "series_id": 15})
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/html") and "<html>" in response.text
    assert state.invoices_for_order(order_id) == []
    assert state.calls[-1].status == "HTTP500" and not state.calls[-1].executed
    ok(server, "addInvoice", {"order_id": order_id, "series_id": 15})
    assert len(state.invoices_for_order(order_id)) == 1


def test_http_502_status_can_be_chosen(server, state):
    state.add_fault(Fault("*", "http_500", http_status=502))
    assert post(server, "getSeries").status_code == 502


def test_reset_before_does_not_execute(server, state):
    order_id = new_order(state)
    state.add_fault(Fault("addInvoice", "reset_before"))
    with pytest.raises(requests.ConnectionError):
        post(server, "addInvoice", {"order_id": order_id, "series_id": 15})
    assert state.invoices_for_order(order_id) == []
    assert (state.calls[-1].status, state.calls[-1].executed) == ("DROPPED", False)
    assert state.write_calls() == []


def test_latency_delays_then_answers(server, state):
    state.add_fault(Fault("getSeries", "latency", seconds=0.3))
    started = time.monotonic()
    ok(server, "getSeries")
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    ok(server, "getSeries")
    assert time.monotonic() - started < 0.3


def test_timeout_executes_after_the_client_gave_up(server, state):
    order_id = new_order(state)
    state.add_fault(Fault("addInvoice", "timeout", seconds=1.0))
    with pytest.raises(requests.Timeout):
        post(server, "addInvoice", {"order_id": order_id, "series_id": 15}, timeout=0.3)
    assert state.invoices_for_order(order_id) == []  # not yet
    deadline = time.monotonic() + 5
    while not state.invoices_for_order(order_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(state.invoices_for_order(order_id)) == 1


def test_block_fault_blocks_the_token(server, state, clock):
    order_id = new_order(state)
    state.add_fault(Fault("addInvoice", "block", seconds=300))
    result = call(server, "addInvoice", {"order_id": order_id, "series_id": 15})
    assert result["error_code"] == "ERROR_BLOCKED_TOKEN"
    assert parse_block_message(result["error_message"]) == clock() + 300
    assert error_code(server, "getSeries") == "ERROR_BLOCKED_TOKEN"  # really blocked, any method
    assert state.invoices_for_order(order_id) == []
    clock.advance(300)
    ok(server, "getSeries")


def test_fault_after_and_times(server, state):
    fault = Fault("getSeries", "http_500", times=2, after=1)
    state.set_faults([fault])
    statuses = [post(server, "getSeries").status_code for _ in range(4)]
    assert statuses == [200, 500, 500, 200]
    assert post(server, "getOrderStatusList").status_code == 200  # other methods untouched
    assert (fault.seen, fault.hits) == (4, 2)


def test_fault_forever_and_clear(server, state):
    state.set_faults([Fault("*", "http_500", times=0)])
    assert [post(server, m).status_code for m in ("getSeries", "getOrders", "getSeries")] == [500, 500, 500]
    state.clear_faults()
    assert post(server, "getSeries").status_code == 200


# ---------------------------------------------------------------------- control endpoints


def test_seed_state_calls_and_reset_over_http(server, state):
    seed = {
        "series": [{"id": 77, "type": "INVOICE", "name": "FV2", "format": "%N/%Y/X"}],
        "statuses": [{"status_id": 9, "name": "Do wysyłki"}],
        "extra_fields": [{"extra_field_id": 5, "name": "Uwagi"}],
        "orders": [{"order_id": 4242, "invoice_nip": "1", "products": [{"name": "A", "price_brutto": 10, "quantity": 1}]}],
        "invoices": [{"order_id": 4242, "series_id": 77, "external_invoice_number": "FS 9", "file": data_url(b"%PDF-seed")}],
        "receipts": [{"order_id": 4242, "series_id": 30}],
    }
    response = requests.post(f"{server.base_url}/_seed", json=seed, timeout=10)
    assert response.status_code == 200
    created = response.json()
    assert created["order_ids"] == [4242] and len(created["invoice_ids"]) == 1 and len(created["receipt_ids"]) == 1
    [invoice] = ok(server, "getInvoices", {"order_id": 4242})["invoices"]
    assert invoice["number"] == "1/2026/X" and invoice["external_invoice_number"] == "FS 9"
    assert requests.get(f"{server.base_url}/_file/invoice/{invoice['invoice_id']}", timeout=10).content == b"%PDF-seed"

    snapshot = requests.get(f"{server.base_url}/_state", timeout=10).json()
    assert [o["order_id"] for o in snapshot["orders"]] == [4242]
    assert snapshot["invoices"][0]["file"]["size"] == len(b"%PDF-seed")
    assert snapshot["call_counts"]["by_method"]["getInvoices"] == {"SUCCESS": 1}
    calls = requests.get(f"{server.base_url}/_calls", timeout=10).json()
    assert [(c["method"], c["status"], c["executed"]) for c in calls] == [("getInvoices", "SUCCESS", True)]

    assert requests.post(f"{server.base_url}/_reset", timeout=10).json()["status"] == "SUCCESS"
    snapshot = requests.get(f"{server.base_url}/_state", timeout=10).json()
    assert snapshot["orders"] == [] and snapshot["series"] == [] and snapshot["call_counts"]["total"] == 0
    assert requests.get(f"{server.base_url}/_file/invoice/{invoice['invoice_id']}", timeout=10).status_code == 404


def test_bad_seed_is_refused_without_partial_changes(server, state):
    before = state.snapshot()["orders"]
    seed = {"orders": [{"order_id": 1}], "invoices": [{"order_id": 1, "series_id": 999}]}
    response = requests.post(f"{server.base_url}/_seed", json=seed, timeout=10)
    assert response.status_code == 400 and "999" in response.json()["error_message"]
    assert state.snapshot()["orders"] == before


def test_faults_over_http(server, state):
    order_id = new_order(state)
    faults = [{"method": "addInvoice", "kind": "drop_after_commit"}, {"kind": "latency", "seconds": 0.01}]
    response = requests.post(f"{server.base_url}/_faults", json=faults, timeout=10)
    assert response.json() == {"status": "SUCCESS", "faults": 2}
    with pytest.raises(requests.ConnectionError):
        post(server, "addInvoice", {"order_id": order_id, "series_id": 15})
    assert len(state.invoices_for_order(order_id)) == 1
    assert [f["hits"] for f in requests.get(f"{server.base_url}/_state", timeout=10).json()["faults"]] == [1, 0]
    bad = requests.post(f"{server.base_url}/_faults", json=[{"kind": "explode"}], timeout=10)
    assert bad.status_code == 400
    assert len(state.faults) == 2  # unchanged
    requests.post(f"{server.base_url}/_faults", json=[], timeout=10)
    assert state.faults == []


def test_config_over_http(server, state):
    response = requests.post(f"{server.base_url}/_config", json={"duplicate_documents": "refuse"}, timeout=10)
    assert response.status_code == 200 and state.duplicate_documents == "refuse"
    assert requests.post(f"{server.base_url}/_config", json={"duplicate_documents": "x"}, timeout=10).status_code == 400


def test_control_endpoints_need_no_token_but_the_api_does(server):
    assert requests.get(f"{server.base_url}/_state", timeout=10).status_code == 200
    assert requests.get(f"{server.base_url}/nope", timeout=10).status_code == 404
    assert requests.post(server.url, timeout=10).json()["error_code"] == "ERROR_EMPTY_TOKEN"


# ----------------------------------------------------------------------- server lifecycle


def test_concurrent_add_invoice_gives_unique_ids_and_numbers(server, state):
    orders = [new_order(state) for _ in range(50)]
    results: list[int] = []

    def worker(order_id: int) -> None:
        results.append(ok(server, "addInvoice", {"order_id": order_id, "series_id": 15})["invoice_id"])

    threads = [threading.Thread(target=worker, args=(o,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 50
    numbers = [inv["sub_id"] for inv in state.snapshot()["invoices"]]
    assert sorted(numbers) == list(range(1, 51))


def test_stop_releases_the_port_even_with_idle_keep_alive_and_sleeping_faults(state):
    srv = SandboxServer(state).start()
    port = srv.port
    session = requests.Session()
    assert session.post(srv.url, data={"method": "getSeries", "parameters": "{}"},
                        headers={"X-BLToken": TOKEN}, timeout=10).json()["status"] == "SUCCESS"
    state.add_fault(Fault("getSeries", "latency", seconds=60))
    outcome: list[object] = []

    def sleeper_call() -> None:
        try:
            outcome.append(post(srv, "getSeries"))
        except requests.RequestException as error:
            outcome.append(error)

    sleeper = threading.Thread(target=sleeper_call)
    sleeper.start()
    time.sleep(0.2)
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 5
    sleeper.join(5)
    assert not sleeper.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], requests.ConnectionError)
    assert (state.calls[-1].method, state.calls[-1].status, state.calls[-1].executed) == ("getSeries", "DROPPED", False)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    srv.stop()  # idempotent


def test_command_line_runs_in_the_foreground(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"series": [{"id": 1, "type": "INVOICE", "name": "FV", "format": "%N/%Y"}]}))
    process = subprocess.Popen(
        [sys.executable, "-m", "agent.sandbox", "--port", "0", "--token", "T", "--rpm", "3",
         "--seed", str(seed)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(4)]
        url = next(line.split(": ", 1)[1].strip() for line in lines if line.startswith("BaseLinker sandbox:"))
        assert any(line.strip() == "Token: T" for line in lines)
        response = requests.post(url, data={"method": "getSeries", "parameters": "{}"}, headers={"X-BLToken": "T"}, timeout=10)
        assert response.json()["series"][0]["id"] == "1"  # real answers carry series ids as strings
        for _ in range(2):
            requests.post(url, data={"method": "getSeries", "parameters": "{}"}, headers={"X-BLToken": "T"}, timeout=10)
        blocked = requests.post(url, data={"method": "getSeries", "parameters": "{}"}, headers={"X-BLToken": "T"}, timeout=10)
        assert blocked.json()["error_code"] == "ERROR_BLOCKED_TOKEN"  # --rpm 3 applied
    finally:
        process.send_signal(2)  # SIGINT, like Ctrl+C
        assert process.wait(10) == 0
        assert process.stderr.read() == ""


def test_command_line_plays_an_undocumented_variant(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"orders": [{"order_id": 5, "products": [{"name": "A", "price_brutto": 1}]}]}))
    process = subprocess.Popen(
        [sys.executable, "-m", "agent.sandbox", "--port", "0", "--token", "T",
         "--variant", "no-receipt-success", "--seed", str(seed)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(4)]
        url = next(line.split(": ", 1)[1].strip() for line in lines if line.startswith("BaseLinker sandbox:"))
        response = requests.post(url, data={"method": "getReceipt", "parameters": '{"order_id": 5}'},
                                 headers={"X-BLToken": "T"}, timeout=10)
        assert response.json() == {"status": "SUCCESS"}  # no receipt: SUCCESS without receipt fields
    finally:
        process.send_signal(2)
        assert process.wait(10) == 0


def test_receipt_list_rows_have_the_documented_shape(server, state):
    order_id = new_order(state)
    receipt_id = state.add_receipt(order_id, 30, external_receipt_number="KASA/1", file=b"%PDF-x")
    row = ok(server, "getReceipts")["receipts"][0]
    assert row["receipt_id"] == receipt_id and "products" in row
    assert "external_receipt_number" not in row and "items" not in row
    assert ok(server, "getReceipt", {"receipt_id": receipt_id})["external_receipt_number"] == "KASA/1"
