"""What counts as "this order has no receipt" in getReceipt's answer (issue 9, item 3).

Nobody has published the real answer; only a not-found ERROR or a SUCCESS without a receipt id
may mean "none" (anything else could lead to a second receipt). The same cases run over HTTP
against the sandbox in tests/integration/test_exactly_once.py.
"""

import pytest

from agent.baselinker.errors import ApiRefusal
from agent.export.orders import OrderBook, says_not_found


@pytest.mark.parametrize("code, message", [
    ("ERROR_RECEIPT_NOT_FOUND", "Receipt not found"),
    ("ERROR_NOT_FOUND", ""),
    ("", "Receipt does not exist"),
    ("ERROR_RECEIPT_NOT_EXIST", "x"),
    ("ERROR", "Paragon nie istnieje"),
    ("ERROR", "Nie znaleziono paragonu"),
])
def test_not_found_answers(code, message):
    assert says_not_found(code, message)


@pytest.mark.parametrize("code, message", [
    ("ERROR_DB", "Database temporarily unavailable"),
    ("ERROR_BAD_PARAMETERS", "Give receipt_id or order_id"),
    ("ERROR_INTERNAL", "Found two receipts"),
    (None, None),
])
def test_other_errors_are_not_none(code, message):
    assert not says_not_found(code, message)


class Client:
    def __init__(self, answer):
        self.answer = answer

    def call(self, method, **params):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.parametrize("answer", [{}, {"receipt_id": 0}, {"receipt_id": ""}, {"receipt_id": None, "order_id": 5}])
def test_success_without_a_receipt_id_means_none(answer):
    assert OrderBook(Client(answer)).documents("receipt", 5) == []


def test_a_receipt_of_another_order_is_refused_not_taken_as_none():
    with pytest.raises(ApiRefusal):
        OrderBook(Client({"receipt_id": 700001, "order_id": 6})).documents("receipt", 5)


def test_an_unknown_error_propagates():
    with pytest.raises(ApiRefusal):
        OrderBook(Client(ApiRefusal("Database temporarily unavailable", code="ERROR_DB"))).documents("receipt", 5)
