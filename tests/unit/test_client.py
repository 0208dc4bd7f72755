"""BaseLinkerClient without a network: form encoding, error mapping, retry policy.

A fake session stands in for ``requests.Session``: it returns scripted responses or raises
the same exception objects requests raises (built the way requests/urllib3 build them), so
the classification of "may have executed" is tested against the real exception shapes.
"""

from __future__ import annotations

import datetime
import http.client
import json
import threading
import time
import urllib.parse
from zoneinfo import ZoneInfo

import pytest
import requests
import urllib3.exceptions
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.baselinker import client as client_mod
from agent.baselinker.client import (
    CREATE_METHODS,
    REPEATABLE_WRITES,
    BaseLinkerClient,
    classify_error,
    encode_form,
    parse_block_until,
    pdf_data_uri,
)
from agent.baselinker.errors import ApiRefusal, AuthError, BlockedError, TransportError
from agent.errors import Cancelled, ConfigError, RunAborted

WARSAW = ZoneInfo("Europe/Warsaw")
TOKEN = "SECRET-TOKEN-123"
URL = "https://api.example.invalid/connector.php"


# -- fakes -----------------------------------------------------------------------------------

def response(body, status: int = 200) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return r


def refused() -> requests.ConnectionError:
    pool_reason = urllib3.exceptions.NewConnectionError(
        None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.ConnectionError(
        urllib3.exceptions.MaxRetryError(None, URL, reason=pool_reason))


def dns_failure() -> requests.ConnectionError:
    reason = urllib3.exceptions.NameResolutionError("api.example.invalid", None,
                                                    OSError("Name or service not known"))
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, URL, reason=reason))


def dropped() -> requests.ConnectionError:
    return requests.ConnectionError(urllib3.exceptions.ProtocolError(
        "Connection aborted.",
        http.client.RemoteDisconnected("Remote end closed connection without response")))


def reset() -> requests.ConnectionError:
    return requests.ConnectionError(urllib3.exceptions.ProtocolError(
        "Connection aborted.", ConnectionResetError(104, "Connection reset by peer")))


class FakeSession:
    def __init__(self, *script):
        self.script = list(script)
        self.requests: list[dict] = []

    def post(self, url, **kwargs):
        self.requests.append({"url": url, **kwargs})
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(item, BaseException):
            raise item
        if callable(item):
            return item()
        return item


class FakeLimiter:
    def __init__(self):
        self.acquired = 0
        self.released = 0
        self.blocks: list[float] = []
        self.cancels: list = []

    def acquire(self, cancel=None):
        self.cancels.append(cancel)
        self.acquired += 1
        return object()

    def release(self, slot):
        self.released += 1

    def block_until(self, epoch):
        self.blocks.append(epoch)


def make(session, **kw):
    sleeps: list[float] = []
    limiter = kw.pop("limiter", None) or FakeLimiter()
    c = BaseLinkerClient(TOKEN, URL, limiter, session=session, sleep=sleeps.append, **kw)
    return c, limiter, sleeps


OK = response({"status": "SUCCESS", "invoices": []})


def warsaw_text(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, WARSAW).strftime("%Y-%m-%d %H:%M:%S")


# -- form encoding ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(method=st.text(min_size=1, max_size=20),
       params=st.dictionaries(st.text(max_size=10), json_values, max_size=5))
def test_encode_form_round_trips_any_json(method, params) -> None:
    body = encode_form(method, params)
    body.decode("ascii")  # pure ASCII on the wire
    fields = urllib.parse.parse_qs(body.decode("ascii"), keep_blank_values=True,
                                   strict_parsing=True)
    assert fields["method"] == [method]
    assert json.loads(fields["parameters"][0]) == params


def test_encode_form_percent_encodes_plus_slash_equals_and_percent() -> None:
    body = encode_form("addOrderInvoiceFile", {"file": "data:ab+c/d==%"})
    assert b"+" not in body
    assert b"%2B" in body and b"%2F" in body and b"%3D" in body and b"%25" in body
    params = json.loads(urllib.parse.parse_qs(body.decode())["parameters"][0])
    assert params["file"] == "data:ab+c/d==%"


def test_encode_form_across_chunk_boundaries() -> None:
    # '%' and '+' exactly around the 64 KiB chunk edges of the encoder
    edge = client_mod._ENCODE_CHUNK
    text = ("A" * (edge - 12)) + "%+/" * 10 + ("B" * edge) + "ą€😀"
    body = encode_form("m", {"t": text})
    assert json.loads(urllib.parse.parse_qs(body.decode())["parameters"][0])["t"] == text


def test_json_is_ascii_escaped_so_polish_letters_survive_any_charset() -> None:
    body = encode_form("setOrderFields", {"extra_field_1": "FS 1/2026/MAĄŻ"})
    raw = urllib.parse.unquote_to_bytes(body.split(b"parameters=")[1])
    assert raw == b'{"extra_field_1": "FS 1/2026/MA\\u0104\\u017b"}'


def test_pdf_data_uri() -> None:
    assert pdf_data_uri(b"\xfb\xff\xfe") == "data:+//+"


# -- block time parsing ----------------------------------------------------------------------

def test_block_until_is_warsaw_time_in_winter_and_summer() -> None:
    winter = datetime.datetime(2022, 1, 24, 14, 40, 1, tzinfo=datetime.timezone.utc)
    now = winter.timestamp() - 120
    # 15:40:01 in Warsaw in January (UTC+1) is 14:40:01 UTC
    assert parse_block_until("Query limit exceeded, token blocked until 2022-01-24 15:40:01",
                             now) == winter.timestamp()
    summer = datetime.datetime(2022, 7, 24, 12, 40, 1, tzinfo=datetime.timezone.utc)
    now = summer.timestamp() - 120
    assert parse_block_until("token blocked until 2022-07-24 14:40:01", now) == \
        summer.timestamp()


def test_block_until_defaults_and_clamps() -> None:
    now = datetime.datetime(2022, 3, 24, 12, 0, tzinfo=WARSAW).timestamp()
    assert parse_block_until("Query limit exceeded", now) == now + 300
    assert parse_block_until("blocked until 2022-13-45 99:99:99", now) == now + 300
    assert parse_block_until("blocked until 2031-03-24 14:40:01", now) == now + 3600
    # already past here (our clock ahead of the server's): wait a minute, not zero
    assert parse_block_until("blocked until 2022-03-24 11:59:00", now) == now + 60
    assert parse_block_until("blocked until 2022-03-24 12:10", now) == now + 600


@pytest.mark.parametrize("code,message,kind", [
    ("ERROR_BLOCKED_TOKEN", "Query limit exceeded, token blocked until 2022-03-24 14:40:01",
     "blocked"),
    ("ERROR_USER_ACCOUNT_BLOCKED", "Account blocked", "blocked"),
    ("ERROR_SOMETHING_NEW", "Query limit exceeded, token blocked until 2022-03-24 14:40:01",
     "blocked"),
    ("ERROR_EMPTY_TOKEN", "No token", "auth"),
    ("ERROR_AUTH_TOKEN", "Invalid token", "auth"),
    ("ERROR_USER_ACCOUNT_INACTIVE", "Inactive", "auth"),
    ("ERROR_ACCOUNT_SUSPENDED", "x", "auth"),
    ("ERROR_UNKNOWN_METHOD", "Unknown method", "refusal"),
    ("ERROR_ORDER_NOT_FOUND", "Zamówienie nie istnieje", "refusal"),
    ("", "", "refusal"),
])
def test_classify_error(code, message, kind) -> None:
    assert classify_error(code, message) == kind


# -- envelope parsing ------------------------------------------------------------------------

def test_success_body_is_returned_without_status_and_escaped_slashes_decode() -> None:
    raw = b'{"status":"SUCCESS","invoices":[{"invoice_id":1818929,"number":"2\\/9\\/2021"}]}'
    c, lim, _ = make(FakeSession(response(raw)))
    assert c.call("getInvoices", order_id=10905553) == {
        "invoices": [{"invoice_id": 1818929, "number": "2/9/2021"}]}
    assert (lim.acquired, lim.released) == (1, 1)


def test_request_shape_headers_timeouts_body() -> None:
    session = FakeSession(OK)
    c, _, _ = make(session, timeout=12.5, connect_timeout=4.0)
    c.call("getInvoices", order_id=5)
    req = session.requests[0]
    assert req["url"] == URL
    assert req["timeout"] == (4.0, 12.5)
    assert req["allow_redirects"] is False
    assert req["headers"]["X-BLToken"] == TOKEN
    assert req["headers"]["User-Agent"].startswith("raksbl/")
    assert req["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert isinstance(req["data"], bytes)
    fields = urllib.parse.parse_qs(req["data"].decode())
    assert fields["method"] == ["getInvoices"]
    assert json.loads(fields["parameters"][0]) == {"order_id": 5}
    assert "token" not in fields  # the deprecated form field is not used


def test_no_params_sends_empty_object() -> None:
    session = FakeSession(response({"status": "SUCCESS", "series": []}))
    c, _, _ = make(session)
    assert c.call("getSeries") == {"series": []}
    assert urllib.parse.parse_qs(session.requests[0]["data"].decode())["parameters"] == ["{}"]


@pytest.mark.parametrize("resp", [
    response(b"<html>Bad gateway</html>", 502),
    response({"status": "SUCCESS"}, 503),
    response(b"<html>not json</html>", 200),
    response(b"", 200),
    response([1, 2], 200),
    response({"ok": True}, 200),
    response(b"<html>Forbidden</html>", 403),
])
def test_unusable_answers_are_transport_errors_that_may_have_executed(resp) -> None:
    c, _, _ = make(FakeSession(resp))
    with pytest.raises(TransportError) as info:
        c.call("addInvoice", order_id=1, series_id=2)
    assert info.value.may_have_executed is True
    assert info.value.method == "addInvoice"


def test_error_envelopes_map_to_types() -> None:
    def env(code, msg):
        return response({"status": "ERROR", "error_code": code, "error_message": msg})

    c, lim, _ = make(FakeSession(env("ERROR_AUTH_TOKEN", "Invalid token")))
    with pytest.raises(AuthError) as info:
        c.call("getOrders")
    assert isinstance(info.value, RunAborted)
    assert info.value.code == "ERROR_AUTH_TOKEN"

    c, lim, _ = make(FakeSession(env("ERROR_ORDER_NOT_FOUND", "Brak zamówienia")))
    with pytest.raises(ApiRefusal) as info:
        c.call("addInvoice", order_id=1)
    assert (info.value.code, info.value.message) == ("ERROR_ORDER_NOT_FOUND", "Brak zamówienia")
    assert "Brak zamówienia" in str(info.value)
    assert lim.acquired == 1  # never retried


# -- retry policy ----------------------------------------------------------------------------

TRANSPORT_FAILURES = {
    "refused": (refused, False),
    "dns": (dns_failure, False),
    "connect_timeout": (lambda: requests.ConnectTimeout("connect timed out"), False),
    "read_timeout": (lambda: requests.ReadTimeout("read timed out"), True),
    "dropped": (dropped, True),
    "reset": (reset, True),
    "502": (lambda: response(b"<html>502</html>", 502), True),
    "chunked": (lambda: requests.exceptions.ChunkedEncodingError("broken"), True),
}

READS = ["getInvoices", "getOrders", "getSeries", "getReceipt"]


@pytest.mark.parametrize("failure", sorted(TRANSPORT_FAILURES))
@pytest.mark.parametrize("method", READS[:1] + sorted(REPEATABLE_WRITES) + sorted(CREATE_METHODS)
                         + ["someFutureWrite"])
def test_transport_retry_table(method, failure) -> None:
    make_failure, executed = TRANSPORT_FAILURES[failure]
    session = FakeSession(make_failure)
    session.script = [lambda: _raise_or_return(make_failure())]
    c, lim, sleeps = make(session)
    with pytest.raises(TransportError) as info:
        c.call(method, order_id=1)
    assert info.value.may_have_executed is executed
    retryable = (not executed) or method.startswith("get") or method in REPEATABLE_WRITES
    if retryable:
        assert len(session.requests) == 3
        assert sleeps == [1.0, 3.0]
    else:
        assert len(session.requests) == 1, "a create call that may have executed was re-sent"
        assert sleeps == []
    assert lim.acquired == lim.released == len(session.requests)
    assert c.calls == (len(session.requests) if executed else 0)


@pytest.mark.parametrize("failure, still_running", [
    (lambda: requests.ReadTimeout("read timed out"), True),
    (lambda: response(b"<html>504 Gateway Time-out</html>", 504), True),
    (lambda: response(b"<html>502</html>", 502), True),  # an HTML error page: a proxy answered
    (lambda: response(b"", 520), True),  # Cloudflare: unknown error from the origin
    (lambda: response(b"", 522), True),  # Cloudflare: connection to the origin timed out
    (lambda: response(b"error code: 524", 524), True),  # Cloudflare: the origin ran over 100 s
    (lambda: response(b"<!DOCTYPE html><html><title>cloudflare</title></html>", 500), True),
    (lambda: response(b"Service Unavailable", 503), False),
    (dropped, False),
    (refused, False),
])
def test_transport_error_says_whether_the_request_may_still_run(failure, still_running) -> None:
    session = FakeSession(failure)
    session.script = [lambda: _raise_or_return(failure())]
    c, _, _ = make(session)
    with pytest.raises(TransportError) as info:
        c.call("addInvoice", order_id=1)
    assert info.value.may_still_run is still_running


def _raise_or_return(item):
    if isinstance(item, BaseException):
        raise item
    return item


def test_read_retry_succeeds_on_third_attempt() -> None:
    session = FakeSession(dropped(), response(b"x", 502), OK)
    c, lim, sleeps = make(session)
    assert c.call("getInvoices", order_id=1) == {"invoices": []}
    assert len(session.requests) == 3 and sleeps == [1.0, 3.0]
    assert c.calls == 3 and c.calls_by_method["getInvoices"] == 3


def test_create_retried_after_refused_then_succeeds_once() -> None:
    session = FakeSession(refused(), response({"status": "SUCCESS", "invoice_id": 77}))
    c, _, sleeps = make(session)
    assert c.call("addInvoice", order_id=1, series_id=15) == {"invoice_id": 77}
    assert len(session.requests) == 2 and sleeps == [1.0]
    assert c.calls == 1  # the refused attempt never reached BaseLinker
    assert c.calls_by_method == {"addInvoice": 1}


@pytest.mark.parametrize("envelope,exc_type", [
    ({"status": "ERROR", "error_code": "ERROR_AUTH_TOKEN", "error_message": "bad"}, AuthError),
    ({"status": "ERROR", "error_code": "ERROR_BAD_PARAMETERS", "error_message": "x"}, ApiRefusal),
])
@pytest.mark.parametrize("method", ["getInvoices", "setOrderStatus", "addInvoice"])
def test_auth_and_refusal_never_retried(envelope, exc_type, method) -> None:
    session = FakeSession(response(envelope), OK)
    c, lim, sleeps = make(session)
    with pytest.raises(exc_type):
        c.call(method, order_id=1)
    assert len(session.requests) == 1 and sleeps == [] and lim.acquired == 1


def blocked_response(until_text: str):
    return response({"status": "ERROR", "error_code": "ERROR_BLOCKED_TOKEN",
                     "error_message": f"Query limit exceeded, token blocked until {until_text}"})


def test_block_sets_limiter_and_resends_even_a_create() -> None:
    now = time.time()
    until = float(int(now) + 180)
    session = FakeSession(blocked_response(warsaw_text(until)),
                          response({"status": "SUCCESS", "invoice_id": 5}))
    c, lim, sleeps = make(session)
    assert c.call("addInvoice", order_id=1, series_id=2) == {"invoice_id": 5}
    assert lim.blocks == [until]
    assert len(session.requests) == 2
    assert sleeps == []  # the wait belongs to the limiter, not to a back-off


def test_three_blocks_in_a_row_raise() -> None:
    until = float(int(time.time()) + 120)
    session = FakeSession(blocked_response(warsaw_text(until)))
    c, lim, _ = make(session)
    with pytest.raises(BlockedError) as info:
        c.call("getOrders")
    assert info.value.until == until
    assert len(session.requests) == 3
    assert lim.blocks == [until] * 3


def test_each_attempt_passes_the_cancel_event_to_the_limiter() -> None:
    cancel = threading.Event()
    session = FakeSession(dropped(), OK)
    c, lim, _ = make(session, cancel=cancel)
    c.call("getOrders")  # back-off uses cancel.wait(1.0): takes a real second
    assert lim.cancels == [cancel, cancel]


def test_cancel_interrupts_the_backoff() -> None:
    cancel = threading.Event()
    session = FakeSession(dropped())
    c, lim, _ = make(session, cancel=cancel)
    threading.Timer(0.1, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        c.call("getOrders")
    assert time.monotonic() - started < 0.8
    assert len(session.requests) == 1


def test_limiter_slot_released_even_on_unexpected_exception() -> None:
    session = FakeSession(RuntimeError("boom"))
    c, lim, _ = make(session)
    with pytest.raises(RuntimeError):
        c.call("getOrders")
    assert lim.acquired == lim.released == 1


# -- secrets and configuration ---------------------------------------------------------------

def test_repr_and_str_hide_the_token() -> None:
    c, _, _ = make(FakeSession(OK))
    assert TOKEN not in repr(c) and TOKEN not in str(c)
    assert "***" in repr(c)


@pytest.mark.parametrize("bad", ["SECRET TOKEN", "SECRET\r\nX-Evil: 1", "tokęn"])
def test_malformed_token_rejected_without_echoing_it(bad) -> None:
    with pytest.raises(ConfigError) as info:
        BaseLinkerClient(bad, URL, FakeLimiter())
    assert bad not in str(info.value) and bad not in repr(info.value)
    assert info.value.key == "baselinker.token"


def test_token_whitespace_is_stripped() -> None:
    session = FakeSession(OK)
    c = BaseLinkerClient(f"  {TOKEN}\n", URL, FakeLimiter(), session=session)
    c.call("getInvoices")
    assert session.requests[0]["headers"]["X-BLToken"] == TOKEN


def test_api_url_must_be_http() -> None:
    with pytest.raises(ConfigError) as info:
        BaseLinkerClient(TOKEN, "api.baselinker.com/connector.php", FakeLimiter())
    assert info.value.key == "baselinker.api_url"


def test_server_message_echoing_the_token_is_scrubbed() -> None:
    session = FakeSession(response({"status": "ERROR", "error_code": "ERROR_AUTH_TOKEN",
                                    "error_message": f"Token {TOKEN} is invalid"}))
    c, _, _ = make(session)
    with pytest.raises(AuthError) as info:
        c.call("getOrders")
    assert TOKEN not in str(info.value) and TOKEN not in info.value.message


def account_blocked_response(message: str):
    return response({"status": "ERROR", "error_code": "ERROR_USER_ACCOUNT_BLOCKED", "error_message": message})


@pytest.mark.parametrize("message", ["User account blocked", "Account blocked until 2099-01-01 10:00:00"])
def test_account_block_gets_one_capped_wait_then_ends_the_run(message) -> None:
    from agent.baselinker import client as client_module
    from agent.baselinker.errors import AccountBlockedError
    from agent.errors import RunAborted

    session = FakeSession(account_blocked_response(message))
    c, lim, _ = make(session)
    before = time.time()
    with pytest.raises(AccountBlockedError) as info:
        c.call("getOrders")
    assert isinstance(info.value, RunAborted)
    assert len(session.requests) == 2  # one retry after one wait, not three long waits
    assert len(lim.blocks) == 1
    assert lim.blocks[0] <= time.time() + client_module.ACCOUNT_BLOCK_WAIT_SECONDS
    assert lim.blocks[0] >= before
    text = str(info.value)
    assert "konto BaseLinker jest zablokowane" in text and "następnym uruchomieniu" in text


def test_account_block_that_ends_within_the_wait_lets_the_call_through() -> None:
    session = FakeSession(account_blocked_response("User account blocked"), OK)
    c, lim, _ = make(session)
    assert c.call("getInvoices") == {"invoices": []}
    assert len(session.requests) == 2 and len(lim.blocks) == 1
