"""SandboxState without the HTTP layer: data model, execute(), numbering, rate limit, seeding."""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.sandbox import CallRecord, Fault, SandboxState, block_message

WARSAW = ZoneInfo("Europe/Warsaw")
TOKEN = "t"


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_state(**kwargs) -> SandboxState:
    kwargs.setdefault("clock", Clock(datetime(2026, 3, 10, 12, 0, tzinfo=WARSAW).timestamp()))
    state = SandboxState(token=TOKEN, **kwargs)
    state.add_series(1, "INVOICE", "FV", "%N/%M/%Y")
    state.add_series(2, "RECEIPT", "PAR", "PAR/%N/%Y")
    state.add_series(3, "CORRECTION", "KOR", "KOR/%N/%Y")
    state.add_order_status(1, "Nowe")
    return state


def api(state: SandboxState, method: str, token: str | None = TOKEN, **params) -> dict:
    return state.execute(method, json.dumps(params), token)


def test_constructor_validates_settings():
    with pytest.raises(ValueError):
        SandboxState(duplicate_documents="sometimes")
    with pytest.raises(ValueError):
        SandboxState(requests_per_minute=0)
    with pytest.raises(ValueError):
        SandboxState(block_seconds=-1)


def test_seeding_validates_its_input():
    state = make_state()
    with pytest.raises(ValueError):
        state.add_series(9, "PROFORMA", "X", "%N")
    with pytest.raises(ValueError):
        state.add_series(9, "INVOICE", "X", "no counter")
    with pytest.raises(KeyError):
        state.add_invoice(123, 1)
    order_id = state.add_order()
    with pytest.raises(KeyError):
        state.add_invoice(order_id, 2)  # a RECEIPT series
    with pytest.raises(KeyError):
        state.add_receipt(order_id, 1)
    with pytest.raises(ValueError):
        state.add_order(order_id)  # duplicate id


def test_order_ids_increase_and_skip_past_explicit_ids():
    state = make_state()
    first = state.add_order()
    second = state.add_order()
    assert second == first + 1
    explicit = state.add_order(order_id=second + 100)
    assert state.add_order() == explicit + 1


def test_add_order_defaults_and_types():
    state = make_state()
    order_id = state.add_order(invoice_nip="123", custom_extra_fields={7: "B2B"},
                               products=[{"name": "A", "price_brutto": "9.99", "quantity": "3"}])
    order = state.get_order(order_id)
    assert order["want_invoice"] == "1" and order["confirmed"] is True
    assert order["date_confirmed"] == order["date_add"] == int(state.clock())
    assert order["order_status_id"] == 1
    assert order["custom_extra_fields"] == {"7": "B2B"}
    assert order["products"][0]["price_brutto"] == 9.99 and order["products"][0]["quantity"] == 3
    assert state.get_order(state.add_order(confirmed=False))["date_confirmed"] == 0


def test_execute_records_every_call():
    state = make_state()
    order_id = state.add_order(products=[{"name": "A", "price_brutto": 1, "quantity": 1}])
    api(state, "getSeries", token=None)
    api(state, "addInvoice", order_id=order_id, series_id=1)
    api(state, "addInvoice", order_id=order_id, series_id=99)
    api(state, "nope")
    assert [(c.method, c.status, c.error_code, c.executed, c.succeeded) for c in state.calls] == [
        ("getSeries", "ERROR", "ERROR_EMPTY_TOKEN", False, False),
        ("addInvoice", "SUCCESS", None, True, True),
        ("addInvoice", "ERROR", "ERROR_SERIES_NOT_FOUND", True, False),
        ("nope", "ERROR", "ERROR_UNKNOWN_METHOD", False, False),
    ]
    assert [c.method for c in state.write_calls()] == ["addInvoice"]
    assert isinstance(state.calls[0], CallRecord)
    assert state.calls[1].to_dict()["time"] == state.clock()


def test_write_calls_ignore_reads_and_failures():
    state = make_state()
    order_id = state.add_order()
    api(state, "getOrders")
    api(state, "setOrderFields", order_id=order_id, extra_field_1="x" * 51)
    assert state.write_calls() == []
    api(state, "setOrderFields", order_id=order_id, extra_field_1="ok")
    api(state, "setOrderStatus", order_id=order_id, status_id=1)
    assert [c.method for c in state.write_calls()] == ["setOrderFields", "setOrderStatus"]


def test_snapshot_is_json_and_has_file_digests():
    state = make_state()
    order_id = state.add_order(products=[{"name": "A", "price_brutto": 5, "quantity": 1}])
    invoice_id = state.add_invoice(order_id, 1, external_invoice_number="FS 1", file=b"%PDF")
    state.add_receipt(order_id, 2)
    api(state, "getSeries")
    snapshot = json.loads(json.dumps(state.snapshot()))
    assert snapshot["invoices"][0]["invoice_id"] == invoice_id
    assert snapshot["invoices"][0]["file"]["size"] == 4 and len(snapshot["invoices"][0]["file"]["sha256"]) == 64
    assert snapshot["receipts"][0]["file"] is None
    assert snapshot["call_counts"] == {"total": 1, "writes": 0, "by_method": {"getSeries": {"SUCCESS": 1}}}
    assert snapshot["settings"]["duplicate_documents"] == "allow"
    assert snapshot["blocked_until"] is None
    assert state.invoice_file(invoice_id) == b"%PDF"


def test_views_are_copies():
    state = make_state()
    order_id = state.add_order()
    state.get_order(order_id)["email"] = "changed"
    assert state.get_order(order_id)["email"] == ""
    state.add_invoice(order_id, 1)
    state.invoices_for_order(order_id)[0]["number"] = "X"
    assert state.invoices_for_order(order_id)[0]["number"] == "1/3/2026"


def test_seed_is_all_or_nothing_and_accepts_settings():
    state = make_state()
    created = state.seed({
        "settings": {"duplicate_documents": "refuse"},
        "orders": [{"order_id": 5}, {}],
        "invoices": [{"order_id": 5, "series_id": 1, "file": base64.b64encode(b"x").decode()}],
    })
    assert created["order_ids"][0] == 5 and len(created["order_ids"]) == 2
    assert state.invoice_file(created["invoice_ids"][0]) == b"x"
    assert state.duplicate_documents == "refuse"
    before = state.snapshot()
    with pytest.raises(KeyError):
        state.seed({"settings": {"duplicate_documents": "allow"}, "orders": [{"order_id": 6}],
                    "invoices": [{"order_id": 6, "series_id": 42}]})
    assert state.snapshot() == before
    with pytest.raises(ValueError):
        state.seed({"ordrs": []})


def test_reset_clears_data_calls_faults_and_block():
    state = make_state(requests_per_minute=1)
    state.add_order()
    state.add_fault(Fault("*", "latency"))
    api(state, "getSeries")
    api(state, "getSeries")
    assert state.blocked_until is not None
    state.reset()
    assert state.snapshot()["orders"] == [] and state.calls == [] and state.faults == []
    assert state.blocked_until is None
    assert api(state, "getSeries")["status"] == "SUCCESS"


def test_block_message_format_in_winter_and_summer():
    winter = datetime(2026, 11, 27, 20, 40, 1, tzinfo=ZoneInfo("UTC")).timestamp()
    summer = datetime(2026, 7, 1, 20, 40, 1, tzinfo=ZoneInfo("UTC")).timestamp()
    assert block_message(winter) == "Query limit exceeded, token blocked until 2026-11-27 21:40:01"
    assert block_message(summer) == "Query limit exceeded, token blocked until 2026-07-01 22:40:01"


def test_block_end_is_rounded_up_to_a_whole_second():
    clock = Clock(1_800_000_000.4)
    state = make_state(requests_per_minute=1, block_seconds=10, clock=clock)
    api(state, "getSeries")
    assert api(state, "getSeries")["error_code"] == "ERROR_BLOCKED_TOKEN"
    assert state.blocked_until == 1_800_000_011.0


def test_unblock():
    state = make_state(requests_per_minute=1)
    api(state, "getSeries")
    assert api(state, "getSeries")["error_code"] == "ERROR_BLOCKED_TOKEN"
    state.unblock()
    assert api(state, "getSeries")["status"] == "SUCCESS"


def test_rate_limit_is_per_token_request_not_per_method():
    clock = Clock(1_800_000_000.0)
    state = make_state(requests_per_minute=3, clock=clock)
    for method in ("getSeries", "getOrders", "nope"):  # unknown methods count too
        api(state, method)
    assert api(state, "getOrderStatusList")["error_code"] == "ERROR_BLOCKED_TOKEN"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([1, 4]), st.integers(0, 30)), min_size=1, max_size=25))
def test_numbering_is_gapless_per_series_and_period(steps):
    """Whatever the order of days and series, %N runs 1..n within each series and period."""
    clock = Clock(0)
    state = make_state(clock=clock)
    state.add_series(4, "INVOICE", "Roczna", "%N/%Y")
    order_id = state.add_order()
    start = datetime(2026, 12, 20, 12, 0, tzinfo=WARSAW).timestamp()
    for series_id, day in steps:
        clock.now = start + day * 86400
        assert api(state, "addInvoice", order_id=order_id, series_id=series_id)["status"] == "SUCCESS"
    per_period: dict[tuple, list[int]] = {}
    for inv in state.invoices_for_order(order_id):
        monthly = inv["series_id"] == 1
        key = (inv["series_id"], inv["year"], inv["month"] if monthly else 0)
        per_period.setdefault(key, []).append(inv["sub_id"])
        expected = f"{inv['sub_id']}/{inv['month']}/{inv['year']}" if monthly else f"{inv['sub_id']}/{inv['year']}"
        assert inv["number"] == expected
    for subs in per_period.values():
        assert subs == list(range(1, len(subs) + 1))
    assert sum(len(s) for s in per_period.values()) == len(steps)


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=1, max_size=2000))
def test_any_file_round_trips_through_add_order_invoice_file(data):
    state = make_state()
    invoice_id = state.add_invoice(state.add_order(), 1)
    result = api(state, "addOrderInvoiceFile", invoice_id=invoice_id,
                 file="data:" + base64.b64encode(data).decode(), external_invoice_number="FS 1")
    assert result == {"status": "SUCCESS"}
    assert state.invoice_file(invoice_id) == data


def test_take_fault_fires_first_armed_fault_and_counts_the_others():
    state = make_state()
    first = Fault("getSeries", "latency", after=1)
    second = Fault("*", "http_500", times=0)
    state.set_faults([first, second])
    fired = [state.take_fault("getSeries") for _ in range(3)]
    assert fired == [second, first, second]
    assert (first.seen, first.hits, second.seen, second.hits) == (3, 1, 3, 2)
    assert state.take_fault("getOrders") is second


def test_block_fault_without_seconds_uses_block_seconds():
    clock = Clock(1_800_000_000.0)
    state = make_state(block_seconds=90, clock=clock)
    fault = Fault("*", "block")
    state.add_fault(fault)
    assert state.take_fault("getSeries") is fault
    envelope = state.record_fault_without_execution("getSeries", fault)
    assert envelope["error_code"] == "ERROR_BLOCKED_TOKEN"
    assert state.blocked_until == 1_800_000_090.0
    assert state.calls[-1].fault == "block" and not state.calls[-1].executed


def test_drop_after_commit_record_counts_as_a_write():
    state = make_state()
    order_id = state.add_order()
    fault = Fault("addInvoice", "drop_after_commit")
    state.execute("addInvoice", json.dumps({"order_id": order_id, "series_id": 1}), TOKEN, fault=fault)
    [record] = state.calls
    assert (record.status, record.executed, record.succeeded) == ("DROPPED", True, True)
    assert state.write_calls() == [record]


def test_vat_rate_number_overrides_item_rates():
    state = make_state()
    order_id = state.add_order(products=[{"name": "A", "price_brutto": 108, "quantity": 1, "tax_rate": 23}])
    invoice_id = api(state, "addInvoice", order_id=order_id, series_id=1, vat_rate=8)["invoice_id"]
    [inv] = api(state, "getInvoices", invoice_id=invoice_id)["invoices"]
    assert inv["items"][0]["tax_rate"] == 8 and inv["total_price_netto"] == 100.0


def test_correction_without_series_uses_first_correction_series_and_given_items():
    state = make_state()
    original = state.add_invoice(state.add_order(products=[{"name": "A", "price_brutto": 10, "quantity": 1}]), 1)
    result = api(state, "addInvoiceCorrection", original_invoice_id=original, correcting_reason=2,
                 items=[{"name": "A", "price_brutto": -10, "quantity": 1, "tax_rate": 23}])
    [inv] = api(state, "getInvoices", invoice_id=result["invoice_id"])["invoices"]
    assert inv["number"] == "KOR/1/2026" and inv["total_price_brutto"] == -10.0
    assert inv["correcting_reason"] == "2"
    assert Counter(i["type"] for i in state.snapshot()["invoices"]) == {"normal": 1, "correcting": 1}


def test_add_receipt_without_any_receipt_series():
    state = SandboxState(token=TOKEN)
    order_id = state.add_order()
    assert api(state, "addReceipt", order_id=order_id)["error_code"] == "ERROR_SERIES_NOT_FOUND"


def _imported_modules(package_dir) -> list[tuple[str, str]]:
    import ast
    found = []
    for path in sorted(package_dir.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found += [(path.name, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append((path.name, node.module))
    return found


def test_the_sandbox_is_a_product_of_its_own():
    """The client never imports the sandbox, and the sandbox uses nothing of the agent."""
    from pathlib import Path

    import agent
    root = Path(agent.__file__).parent
    client_uses = [(f, m) for f, m in _imported_modules(root / "baselinker") if "sandbox" in m]
    assert client_uses == []
    sandbox_uses = [(f, m) for f, m in _imported_modules(root / "sandbox")
                    if m.split(".")[0] in ("agent", "ui") and not m.startswith("agent.sandbox")]
    assert sandbox_uses == []


def test_every_documented_method_is_served():
    """One module per family, one table: the methods raksbl and its tests rely on, addInvoiceCorrection kept."""
    from agent.sandbox.methods import METHODS

    assert sorted(METHODS) == sorted([
        "getSeries", "getOrderStatusList", "getOrderExtraFields", "getOrders", "setOrderFields",
        "setOrderStatus", "addInvoice", "getInvoices", "addInvoiceCorrection", "addOrderInvoiceFile",
        "addReceipt", "getReceipt", "getReceipts", "addOrderReceiptFile",
    ])
    state = make_state()
    for method in METHODS:
        assert state.execute(method, "{}", TOKEN).get("error_code") != "ERROR_UNKNOWN_METHOD"



def test_a_shorter_rate_window_lets_tests_cross_a_budget_quickly():
    clock = Clock(1_800_000_000.0)
    state = make_state(requests_per_minute=2, clock=clock)
    state.configure(window_seconds=6)
    api(state, "getSeries")
    api(state, "getSeries")
    clock.now += 5.9
    assert api(state, "getSeries")["error_code"] == "ERROR_BLOCKED_TOKEN"  # 3 in 6 s
    state.unblock()
    api(state, "getSeries")
    clock.now += 6.0
    assert api(state, "getSeries")["status"] == "SUCCESS"  # the first left the window
    assert api(state, "getSeries")["status"] == "SUCCESS"
    with pytest.raises(ValueError):
        state.configure(window_seconds=0)
