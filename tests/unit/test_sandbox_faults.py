"""Fault: validation, matching, after/times counting, JSON form."""

from __future__ import annotations

import pytest

from agent.sandbox import FAULT_KINDS, Fault


def test_all_documented_kinds_exist():
    assert set(FAULT_KINDS) == {"http_500", "latency", "drop_after_commit", "reset_before", "timeout", "block",
                                "account_block", "api_error", "held", "timeout_lost"}


@pytest.mark.parametrize("kwargs", [
    {"method": "addInvoice", "kind": "explode"},
    {"method": "", "kind": "latency"},
    {"method": "*", "kind": "latency", "times": -1},
    {"method": "*", "kind": "latency", "after": 1.5},
    {"method": "*", "kind": "latency", "seconds": -0.1},
    {"method": "*", "kind": "http_500", "http_status": 404},
])
def test_invalid_faults_are_rejected(kwargs):
    with pytest.raises(ValueError):
        Fault(**kwargs)


def test_after_then_times():
    fault = Fault("addInvoice", "http_500", times=2, after=1)
    assert [fault.observe("addInvoice", already_fired=False) for _ in range(5)] == [False, True, True, False, False]
    assert fault.exhausted and (fault.seen, fault.hits) == (5, 2)


def test_times_zero_is_forever_and_star_matches_everything():
    fault = Fault("*", "latency", times=0)
    assert all(fault.observe(m, already_fired=False) for m in ["getSeries", "addInvoice"] * 50)
    assert not fault.exhausted


def test_other_methods_are_not_counted():
    fault = Fault("addInvoice", "block")
    assert not fault.observe("getInvoices", already_fired=False)
    assert fault.seen == 0
    assert fault.observe("addInvoice", already_fired=False)


def test_a_call_already_hit_by_another_fault_is_counted_but_not_hit():
    fault = Fault("*", "latency")
    assert not fault.observe("getSeries", already_fired=True)
    assert (fault.seen, fault.hits) == (1, 0)


def test_dict_round_trip():
    fault = Fault.from_dict({"kind": "timeout", "seconds": 2, "times": 3})
    assert (fault.method, fault.kind, fault.seconds, fault.times, fault.after) == ("*", "timeout", 2.0, 3, 0)
    data = fault.to_dict()
    assert data["seen"] == 0 and data["hits"] == 0
    del data["seen"], data["hits"]
    again = Fault.from_dict(data)
    assert again.to_dict() == fault.to_dict()


@pytest.mark.parametrize("data", [[], {"method": "x"}, {"kind": "latency", "bogus": 1}])
def test_from_dict_rejects_bad_input(data):
    with pytest.raises(ValueError):
        Fault.from_dict(data)
