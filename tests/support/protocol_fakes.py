"""Fast stand-ins for the protocol's two sides, for in-process tests (tests/unit/test_protocol.py)
and the state machine over real HTTP (tests/integration/test_protocol_state_machine.py).

* :class:`FakeRaks` — RaksSQL as a dict: documents, their status and PDF, and the claim contract
  of :class:`agent.raks.repository.RaksRepository` (a row lock per document: a second claim while
  one is held raises ``RowLocked``; the status is set in the claim and lost on rollback).
* :class:`InProcessClient` — ``BaseLinkerClient.call``'s contract over the sandbox's account
  state, without HTTP: parameters travel as the same JSON, answers are parsed into the same
  exceptions. A shared :class:`Wire` decides which answers get lost and which creates BaseLinker
  carries out only later (after the client gave up waiting).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal

from agent.baselinker.client import CREATE_METHODS, classify_error
from agent.baselinker.errors import ApiRefusal, AuthError, TransportError
from agent.raks.errors import RowLocked
from agent.raks.repository import Document

TO_SEND, SENT = 2, 3


class FakeClaim:
    def __init__(self, raks: "FakeRaks", doc: Document):
        self.raks, self.doc = raks, doc
        self.new_status: int | None = None
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self.closed:
            self.rollback()

    @property
    def still_to_send(self) -> bool:
        return self.raks.status[self.doc.key] == TO_SEND

    def set_status(self, status: int) -> bool:
        if not self.still_to_send:
            return False
        self.new_status = status
        return True

    def commit(self) -> None:
        if self.new_status is not None:
            self.raks.status[self.doc.key] = self.new_status
        self._release()

    def rollback(self) -> None:
        self.new_status = None
        self._release()

    def _release(self) -> None:
        self.closed = True
        if self.raks.locks.get(self.doc.key) is self:
            del self.raks.locks[self.doc.key]


class FakeRaks:
    """RaksSQL's side of the protocol: documents, their status and PDF, row locks."""

    def __init__(self):
        self.docs: dict[tuple[str, int], Document] = {}
        self.status: dict[tuple[str, int], int] = {}
        self.pdf: dict[tuple[str, int], bytes] = {}
        self.locks: dict[tuple[str, int], FakeClaim] = {}

    def add(self, doc_type: str, raks_id: int, order_id: int) -> Document:
        pdf = b"%PDF-1.4 " + f"{doc_type} {raks_id}".encode()
        doc = Document(raks_id, doc_type, f"{doc_type} {raks_id}/12/2026", dt.date(2026, 12, 1), f"BL {order_id}",
                       order_id, TO_SEND, "Firma", "", Decimal("123.00"), "PLN", True, len(pdf))
        self.docs[doc.key], self.status[doc.key], self.pdf[doc.key] = doc, TO_SEND, pdf
        return doc

    def claim(self, doc: Document) -> FakeClaim:
        if doc.key in self.locks:
            raise RowLocked(f"dokument {doc.number} jest otwarty w RaksSQL — spróbuję przy następnym uruchomieniu")
        claim = self.locks[doc.key] = FakeClaim(self, doc)
        return claim

    def read_pdf(self, doc: Document) -> bytes:
        return self.pdf[doc.key]

    def pending(self) -> list[Document]:
        return [d for k, d in sorted(self.docs.items()) if self.status[k] == TO_SEND]

    pending_documents = pending


@dataclass
class Wire:
    """What happens between the agents and BaseLinker (shared by every client of one account)."""

    lose_answer: set[str] = field(default_factory=set)  # next call of these: runs, answer lost
    run_late: set[str] = field(default_factory=set)  # next create of these: runs only later
    held: list[tuple[str, str]] = field(default_factory=list)  # (method, JSON) not run yet

    def release(self, state, token: str) -> None:
        """BaseLinker carries out the held creates (long after the client gave up)."""
        for method, body in self.held:
            state.execute(method, body, token)
        self.held.clear()


class InProcessClient:
    """``BaseLinkerClient.call`` over a :class:`SandboxState`, in process."""

    def __init__(self, state, token: str, wire: Wire | None = None):
        self.state, self.token = state, token
        self.wire = wire or Wire()
        self.calls = 0

    def call(self, method: str, **params) -> dict:
        self.calls += 1
        body = json.dumps(params, ensure_ascii=True, allow_nan=False)  # as encode_form writes it
        if method in CREATE_METHODS and method in self.wire.run_late:
            self.wire.run_late.discard(method)
            self.wire.held.append((method, body))
            raise TransportError("Przekroczono czas oczekiwania na odpowiedź BaseLinker", may_have_executed=True,
                                 may_still_run=True, method=method)
        envelope = self.state.execute(method, body, self.token)
        if method in self.wire.lose_answer:
            self.wire.lose_answer.discard(method)
            raise TransportError("Połączenie z BaseLinker zerwane przed odpowiedzią", may_have_executed=True,
                                 method=method)
        return parse_envelope(method, envelope)


def parse_envelope(method: str, envelope: dict) -> dict:
    """The SUCCESS body without "status", or the client's exception for an ERROR answer."""
    body = dict(envelope)
    if body.pop("status") == "SUCCESS":
        return body
    code = str(body.get("error_code") or "") or None
    message = str(body.get("error_message") or "") or "(brak opisu błędu)"
    if classify_error(code or "", message) == "auth":
        raise AuthError(message, code=code, method=method)
    raise ApiRefusal(message, code=code, method=method)
