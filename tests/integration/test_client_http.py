"""BaseLinkerClient over real HTTP (127.0.0.1, real sockets) against a tiny scripted stub.

The stub answers each request with the next scripted action: a JSON envelope, an HTTP error
with an HTML body, a connection closed (or reset) after reading the request, or a pause past
the client's read timeout. It records every request's headers and form fields, decoding the
form the way PHP does (``+`` -> space), so a badly encoded base64 ``+`` would show up here.
"""

from __future__ import annotations

import base64
import datetime
import http.server
import json
import logging
import os
import socket
import struct
import threading
import time
import traceback
import urllib.parse
from zoneinfo import ZoneInfo

import pytest
import requests

from agent.baselinker.client import BaseLinkerClient, pdf_data_uri
from agent.baselinker.errors import (
    ApiRefusal,
    AuthError,
    BaseLinkerError,
    BlockedError,
    TransportError,
)
from agent.baselinker.ratelimit import BLOCK_MARGIN, RateLimiter
from agent.errors import RunAborted

TOKEN = "SECRET-TOKEN-123"
WARSAW = ZoneInfo("Europe/Warsaw")


# -- the stub server -------------------------------------------------------------------------

def php_form_decode(raw: bytes) -> dict[str, bytes]:
    """Decode an x-www-form-urlencoded body byte-exactly, as PHP's $_POST does."""
    fields = {}
    for pair in raw.split(b"&"):
        key, _, value = pair.partition(b"=")
        fields[urllib.parse.unquote_to_bytes(key.replace(b"+", b" ")).decode()] = \
            urllib.parse.unquote_to_bytes(value.replace(b"+", b" "))
    return fields


class StubServer:
    """Scripted BaseLinker stand-in. ``script`` items are consumed one per request; when one
    item is left it answers every further request."""

    def __init__(self, port: int = 0):
        self.script: list[tuple] = [("json", {"status": "SUCCESS"})]
        self.received: list[dict] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                with stub._lock:
                    stub.received.append({
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "raw": raw,
                        "fields": php_form_decode(raw),
                        "time": time.monotonic(),
                    })
                    action = stub.script.pop(0) if len(stub.script) > 1 else stub.script[0]
                self.perform(action)

            def perform(self, action):
                kind = action[0]
                if kind == "json":
                    body = action[1] if isinstance(action[1], bytes) else \
                        json.dumps(action[1]).encode()
                    self.answer(200, body, "application/json")
                elif kind == "status":
                    self.answer(action[1], action[2], "text/html")
                elif kind == "drop":  # read the request, then close without answering
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                elif kind == "reset":  # read the request, then RST
                    self.close_connection = True
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    self.connection.close()
                elif kind == "sleep":  # answer late (after the client gave up)
                    time.sleep(action[1])
                    try:
                        self.perform(action[2])
                    except OSError:
                        pass
                else:  # pragma: no cover
                    raise AssertionError(kind)

            def answer(self, status, body, ctype):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):  # dropped sockets: expected
                pass

        self.httpd = Server(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/connector.php"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def params(self, i: int) -> dict:
        return json.loads(self.received[i]["fields"]["parameters"])


@pytest.fixture
def stub():
    server = StubServer()
    yield server
    server.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeTime:
    """Monotonic + wall clock that only move when slept; wall starts at the real now."""

    def __init__(self):
        self.offset = 0.0
        self.wall_start = time.time()
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.offset

    def time(self) -> float:
        return self.wall_start + self.offset

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.offset += seconds


def make_client(url, *, limiter=None, sleeps=None, fake: FakeTime | None = None, **kw):
    if limiter is None:
        limiter = RateLimiter(1000) if fake is None else RateLimiter(
            100, clock=fake.monotonic, wall_clock=fake.time, sleep=fake.sleep)
    sleeps = [] if sleeps is None else sleeps
    kw.setdefault("sleep", sleeps.append)
    if fake is not None:
        kw.setdefault("wall_clock", fake.time)
    return BaseLinkerClient(TOKEN, url, limiter, **kw)


def warsaw_text(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, WARSAW).strftime("%Y-%m-%d %H:%M:%S")


def blocked(until_epoch: float) -> tuple:
    return ("json", {"status": "ERROR", "error_code": "ERROR_BLOCKED_TOKEN",
                     "error_message": "Query limit exceeded, token blocked until "
                                      + warsaw_text(until_epoch)})


# -- envelopes and the wire format -----------------------------------------------------------

def test_success_envelope_headers_and_form(stub) -> None:
    stub.script = [("json", b'{"status":"SUCCESS","invoices":[{"invoice_id":1818929,'
                            b'"number":"2\\/9\\/2021","external_id":""}]}')]
    c = make_client(stub.url)
    result = c.call("getInvoices", order_id=10905553, get_external_invoices=False)
    assert result == {"invoices": [{"invoice_id": 1818929, "number": "2/9/2021",
                                    "external_id": ""}]}
    req = stub.received[0]
    assert req["path"] == "/connector.php"
    assert req["headers"]["x-bltoken"] == TOKEN
    assert req["headers"]["user-agent"].startswith("raksbl/")
    assert req["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert req["fields"]["method"] == b"getInvoices"
    assert stub.params(0) == {"order_id": 10905553, "get_external_invoices": False}
    assert c.calls == 1 and c.calls_by_method == {"getInvoices": 1}


def test_base64_plus_and_slash_arrive_byte_exact(stub) -> None:
    # bytes chosen so the base64 is full of '+' and '/', plus a random tail
    pdf = b"%PDF-1.4\n" + bytes([0xFB, 0xEF, 0xBE, 0xFF]) * 5000 + os.urandom(200_000)
    file_param = pdf_data_uri(pdf)
    assert "+" in file_param and "/" in file_param
    stub.script = [("json", {"status": "SUCCESS"})]
    c = make_client(stub.url)
    assert c.call("addOrderInvoiceFile", invoice_id=1, file=file_param,
                  external_invoice_number="FS 12/11/2026/MAĄŻ") == {}
    raw = stub.received[0]["raw"]
    assert b"+" not in raw  # a raw '+' would be decoded as a space by the server
    params = stub.params(0)
    assert params["file"] == file_param
    assert base64.b64decode(params["file"][len("data:"):]) == pdf
    assert params["external_invoice_number"] == "FS 12/11/2026/MAĄŻ"


@pytest.mark.parametrize("code,exc_type", [
    ("ERROR_EMPTY_TOKEN", AuthError),
    ("ERROR_AUTH_TOKEN", AuthError),
    ("ERROR_USER_ACCOUNT_INACTIVE", AuthError),
    ("ERROR_UNKNOWN_METHOD", ApiRefusal),
    ("ERROR_ORDER_NOT_FOUND", ApiRefusal),
    ("ERROR_FIELD_TOO_LONG", ApiRefusal),
])
def test_error_envelopes(stub, code, exc_type) -> None:
    stub.script = [("json", {"status": "ERROR", "error_code": code,
                             "error_message": "Opis błędu \\/ z ukośnikiem"})]
    c = make_client(stub.url)
    with pytest.raises(exc_type) as info:
        c.call("addInvoice", order_id=1, series_id=15)
    assert info.value.code == code
    assert info.value.message == "Opis błędu \\/ z ukośnikiem"
    assert isinstance(info.value, RunAborted) == (exc_type is AuthError)
    assert len(stub.received) == 1  # never retried


def test_502_html_on_create_is_raised_once(stub) -> None:
    stub.script = [("status", 502, b"<html><body>Bad Gateway</body></html>")]
    sleeps: list[float] = []
    c = make_client(stub.url, sleeps=sleeps)
    with pytest.raises(TransportError) as info:
        c.call("addInvoice", order_id=1, series_id=15)
    assert info.value.may_have_executed is True
    assert "502" in str(info.value)
    assert len(stub.received) == 1 and sleeps == []


def test_non_json_200_is_transport_error(stub) -> None:
    stub.script = [("json", b"<html>maintenance</html>")]
    c = make_client(stub.url)
    with pytest.raises(TransportError) as info:
        c.call("addReceipt", order_id=1)
    assert info.value.may_have_executed is True
    assert len(stub.received) == 1


# -- dropped connections, timeouts, refused --------------------------------------------------

@pytest.mark.parametrize("failure", ["drop", "reset"])
@pytest.mark.parametrize("method", ["addInvoice", "addReceipt", "addInvoiceCorrection"])
def test_create_not_resent_after_lost_answer(stub, method, failure) -> None:
    stub.script = [(failure,), ("json", {"status": "SUCCESS", "invoice_id": 9})]
    sleeps: list[float] = []
    c = make_client(stub.url, sleeps=sleeps)
    with pytest.raises(TransportError) as info:
        c.call(method, order_id=1, series_id=15)
    assert info.value.may_have_executed is True
    assert len(stub.received) == 1, "a create call whose answer was lost was sent again"
    assert sleeps == []


def test_read_retried_after_drop_and_502(stub) -> None:
    stub.script = [("drop",), ("status", 502, b"<html>502</html>"),
                   ("json", {"status": "SUCCESS", "orders": [{"order_id": 1}]})]
    sleeps: list[float] = []
    c = make_client(stub.url, sleeps=sleeps)
    assert c.call("getOrders", order_id=1) == {"orders": [{"order_id": 1}]}
    assert len(stub.received) == 3
    assert sleeps == [1.0, 3.0]
    assert all(stub.params(i) == {"order_id": 1} for i in range(3))


def test_read_gives_up_after_three_attempts(stub) -> None:
    stub.script = [("reset",)]
    sleeps: list[float] = []
    c = make_client(stub.url, sleeps=sleeps)
    with pytest.raises(TransportError):
        c.call("getInvoices", order_id=1)
    assert len(stub.received) == 3 and sleeps == [1.0, 3.0]


def test_repeatable_write_retried_after_reset(stub) -> None:
    stub.script = [("reset",), ("json", {"status": "SUCCESS"})]
    c = make_client(stub.url)
    assert c.call("addOrderInvoiceFile", invoice_id=3, file="data:QUJD",
                  external_invoice_number="FS 1/2026") == {}
    assert len(stub.received) == 2


def test_read_timeout_is_enforced_and_create_not_resent(stub) -> None:
    stub.script = [("sleep", 2.0, ("json", {"status": "SUCCESS", "receipt_id": 1}))]
    sleeps: list[float] = []
    c = make_client(stub.url, sleeps=sleeps, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(TransportError) as info:
        c.call("addReceipt", order_id=1, series_id=2)
    elapsed = time.monotonic() - started
    assert elapsed < 1.5, "the read timeout was not applied"
    assert info.value.may_have_executed is True
    assert len(stub.received) == 1 and sleeps == []


def test_every_attempt_carries_both_timeouts(stub) -> None:
    seen: list = []

    class SpySession(requests.Session):
        def request(self, method, url, **kwargs):
            seen.append(kwargs.get("timeout"))
            return super().request(method, url, **kwargs)

    stub.script = [("drop",), ("drop",), ("json", {"status": "SUCCESS"})]
    c = make_client(stub.url, session=SpySession(), timeout=7.0, connect_timeout=2.0)
    c.call("setOrderStatus", order_id=1, status_id=5)
    assert seen == [(2.0, 7.0)] * 3


def test_connection_refused_on_create_is_retried_and_not_executed() -> None:
    url = f"http://127.0.0.1:{free_port()}/connector.php"  # nothing listens there
    sleeps: list[float] = []
    c = make_client(url, sleeps=sleeps)
    with pytest.raises(TransportError) as info:
        c.call("addInvoice", order_id=1, series_id=15)
    assert info.value.may_have_executed is False
    assert sleeps == [1.0, 3.0]  # retried: the request never reached the server
    assert c.calls == 0


def test_connection_refused_then_server_up_creates_exactly_once() -> None:
    port = free_port()
    servers: list[StubServer] = []

    def start_server_while_backing_off(seconds: float) -> None:
        if not servers:
            server = StubServer(port)
            server.script = [("json", {"status": "SUCCESS", "invoice_id": 42})]
            servers.append(server)

    c = make_client(f"http://127.0.0.1:{port}/connector.php",
                    sleep=start_server_while_backing_off)
    try:
        assert c.call("addInvoice", order_id=7, series_id=15) == {"invoice_id": 42}
        assert len(servers[0].received) == 1
        assert servers[0].params(0) == {"order_id": 7, "series_id": 15}
        assert c.calls == 1
    finally:
        for server in servers:
            server.stop()


# -- blocks ----------------------------------------------------------------------------------

def test_block_waits_until_the_named_time_then_resends(stub) -> None:
    fake = FakeTime()
    until = float(int(fake.time()) + 120)
    stub.script = [blocked(until), ("json", {"status": "SUCCESS", "invoice_id": 5})]
    c = make_client(stub.url, fake=fake)
    assert c.call("addInvoice", order_id=1, series_id=15) == {"invoice_id": 5}
    assert len(stub.received) == 2
    assert stub.received[0]["raw"] == stub.received[1]["raw"]  # the same request again
    # the re-send happened no earlier than the block end (+ margin), and not much later
    assert until + BLOCK_MARGIN <= fake.time() <= until + BLOCK_MARGIN + 1.0
    assert c.limiter.blocked_until is None


def test_block_holds_other_callers_of_the_same_limiter(stub) -> None:
    fake = FakeTime()
    base = float(int(fake.time()))
    stub.script = [blocked(base + 60), blocked(base + 120), blocked(base + 300)]
    c = make_client(stub.url, fake=fake)
    with pytest.raises(BlockedError):
        c.call("getOrders")
    assert len(stub.received) == 3
    assert c.limiter.blocked_until == base + 300  # the last block stays recorded
    assert fake.time() < base + 300
    # a second client sharing the limiter waits for that block before sending anything
    stub.script = [("json", {"status": "SUCCESS", "orders": []})]
    other = make_client(stub.url, limiter=c.limiter, fake=fake)
    assert other.call("getOrders") == {"orders": []}
    assert fake.time() >= base + 300 + BLOCK_MARGIN
    assert len(stub.received) == 4


def test_three_blocks_in_a_row_raise_blocked_error(stub) -> None:
    fake = FakeTime()
    stub.script = [blocked(fake.time() + 60), blocked(fake.time() + 200),
                   blocked(fake.time() + 400), ("json", {"status": "SUCCESS"})]
    c = make_client(stub.url, fake=fake)
    with pytest.raises(BlockedError) as info:
        c.call("getInvoices")
    assert len(stub.received) == 3
    assert info.value.until == float(int(fake.wall_start + 400))
    assert fake.time() >= int(fake.wall_start) + 200 + BLOCK_MARGIN  # waited through two


# -- the token never leaks -------------------------------------------------------------------

def _strings_of(exc: BaseException) -> list[str]:
    out = [str(exc), repr(exc), exc.user_message if isinstance(exc, BaseLinkerError) else "",
           "".join(traceback.format_exception(exc))]
    out += [repr(a) for a in exc.args]
    out += [repr(v) for v in vars(exc).values()]
    return out


def test_token_never_in_logs_exceptions_or_repr(stub, caplog) -> None:
    caplog.set_level(logging.DEBUG)  # root: includes requests/urllib3 debug output
    marker = "PDFCONTENTMARKER"
    raised: list[BaseException] = []
    fake = FakeTime()

    scripts = [
        [("json", {"status": "SUCCESS", "invoices": []})],
        [("json", {"status": "ERROR", "error_code": "ERROR_AUTH_TOKEN",
                   "error_message": f"Invalid token {TOKEN}"})],
        [("json", {"status": "ERROR", "error_code": "ERROR_EMPTY_TOKEN", "error_message": ""})],
        [("json", {"status": "ERROR", "error_code": "ERROR_BAD_PARAMETERS",
                   "error_message": f"bad X-BLToken: {TOKEN}"})],
        [blocked(fake.time() + 30)],
        [("status", 502, f"<html>{TOKEN}</html>".encode())],
        [("json", f"not json {TOKEN}".encode())],
        [("drop",)],
        [("reset",)],
        [("sleep", 1.0, ("json", {"status": "SUCCESS"}))],
    ]
    c = make_client(stub.url, fake=fake, timeout=0.3)
    for script in scripts:
        stub.script = script
        for method in ("getInvoices", "addInvoice", "addOrderInvoiceFile"):
            try:
                c.call(method, order_id=1, file=f"data:{marker}")
            except BaseLinkerError as exc:
                raised.append(exc)
    refused_client = make_client(f"http://127.0.0.1:{free_port()}/connector.php")
    with pytest.raises(TransportError) as info:
        refused_client.call("addInvoice", order_id=1)
    raised.append(info.value)
    with pytest.raises(Exception) as info:  # requests raising on a bad URL
        make_client("http://[::1/connector.php").call("getOrders")
    raised.append(info.value)

    kinds = {type(e) for e in raised}
    assert {AuthError, ApiRefusal, BlockedError, TransportError} <= kinds
    assert any(getattr(e, "may_have_executed", True) is False for e in raised)
    log_text = caplog.text + "".join(
        r.getMessage() + repr(r.args) for r in caplog.records)
    assert "getInvoices" in log_text  # the per-call debug line is there...
    assert TOKEN not in log_text  # ...but never the token
    assert marker not in log_text  # nor the parameters (PDF content)
    for exc in raised:
        for text in _strings_of(exc):
            assert TOKEN not in text, f"token leaked via {type(exc).__name__}"
    for obj in (c, refused_client):
        assert TOKEN not in repr(obj) and TOKEN not in str(obj)
