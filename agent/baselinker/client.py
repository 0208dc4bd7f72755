"""HTTP client of the BaseLinker API: one method, ``call(method, **params) -> dict``.

Wire format (docs/DESIGN.md, "BaseLinker wire contract"): ``POST {api_url}`` with an
``application/x-www-form-urlencoded`` body of two fields, ``method`` and ``parameters`` (a JSON
string), header ``X-BLToken``. Every answer is HTTP 200 + a JSON envelope
``{"status": "SUCCESS", ...}`` or ``{"status": "ERROR", "error_code": .., "error_message": ..}``.

What this module decides
------------------------
* Error mapping: auth codes -> :class:`AuthError`, block -> :class:`BlockedError` (with the
  parsed ``until``), other ERROR envelopes -> :class:`ApiRefusal`, everything without a usable
  envelope -> :class:`TransportError` with ``may_have_executed`` False only when the request
  certainly never left this machine (connection refused, DNS failure, connect timeout).
* Retries: see :meth:`BaseLinkerClient.call`. Create methods are never re-sent once they may
  have executed: BaseLinker has no idempotency keys, the caller looks the outcome up instead.
* Throttling: every attempt takes a slot from the shared :class:`RateLimiter`.
* Secrets: the token is kept out of logs, exception texts and ``repr``; parameters (which
  carry whole PDFs) are never logged.
* Memory: the form body is encoded once, as bytes, in bounded chunks (a 20 MB PDF is ~27 MB
  of base64; the standard ``urlencode`` path would build a list of one pointer per byte).
"""

from __future__ import annotations

import base64
import collections
import datetime
import io
import json
import logging
import re
import threading
import time
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
import urllib3.exceptions

from agent import __version__
from agent.baselinker import tls
from agent.baselinker.errors import (
    AccountBlockedError,
    ApiRefusal,
    AuthError,
    BaseLinkerError,
    BlockedError,
    TransportError,
)
from agent.baselinker.ratelimit import RateLimiter
from agent.errors import Cancelled, ConfigError

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.baselinker.com/connector.php"
USER_AGENT = f"raksbl/{__version__}"

#: Creating methods: not idempotent, never re-sent after they may have executed.
CREATE_METHODS = frozenset({"addInvoice", "addReceipt", "addInvoiceCorrection"})
#: Writes whose repetition gives the same result: retried like reads.
REPEATABLE_WRITES = frozenset(
    {"addOrderInvoiceFile", "addOrderReceiptFile", "setOrderFields", "setOrderStatus"}
)
#: Blocked answers accepted per call (each followed by a wait); the last one is raised.
MAX_BLOCKS = 3
#: The one wait granted to ERROR_USER_ACCOUNT_BLOCKED (an account block has lasted over a day).
ACCOUNT_BLOCK_WAIT_SECONDS = 60.0
ACCOUNT_BLOCKED = "ERROR_USER_ACCOUNT_BLOCKED"
#: Pauses before the 2nd and 3rd attempt after a TransportError.
TRANSPORT_BACKOFF = (1.0, 3.0)

#: Block length assumed when the message carries no readable time.
DEFAULT_BLOCK_SECONDS = 300.0
#: Longest block we believe (a garbage time must not stop the agent for days).
MAX_BLOCK_SECONDS = 3600.0
#: Wait used when the named time is already past here (our clock runs ahead of BaseLinker's).
PAST_BLOCK_SECONDS = 60.0

BLOCK_CODES = frozenset({"ERROR_BLOCKED_TOKEN", "ERROR_USER_ACCOUNT_BLOCKED"})
#: HTTP statuses after which the request may still be running at the origin (gateway timeouts,
#: Cloudflare's 520 unknown error, 522 connection timed out, 524 origin timeout).
MAY_STILL_RUN_STATUSES = frozenset({504, 520, 522, 524})
_BLOCKED_UNTIL_RE = re.compile(
    r"blocked\s+until\s+(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2}(?::\d{2})?)", re.IGNORECASE
)
_TOKEN_CHARS_RE = re.compile(r"[\x21-\x7e]*")

try:
    _WARSAW: ZoneInfo | None = ZoneInfo("Europe/Warsaw")
except ZoneInfoNotFoundError:  # pragma: no cover - tzdata is a dependency on Windows
    _WARSAW = None


# -- form encoding --------------------------------------------------------------------------

# application/x-www-form-urlencoded: everything but the RFC 3986 unreserved characters is
# percent-encoded, in particular '+' (-> %2B, else the server reads a space), '/', '=', '&'.
_SAFE_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~-"
_PERCENT = {b: b"%%%02X" % b for b in range(256)}
_ENCODE_CHUNK = 1 << 16


def _quote_into(out: io.BytesIO, text: str) -> None:
    """Percent-encode ``text`` (as UTF-8) into ``out`` in bounded 64 KiB chunks.

    Per chunk, the distinct unsafe characters are found with ``bytes.translate`` and each is
    replaced with ``bytes.replace`` ('%' first): all in C, no per-byte Python objects (the
    stdlib ``quote_from_bytes`` builds a list with one entry per input byte).
    """
    for start in range(0, len(text), _ENCODE_CHUNK):
        piece = text[start:start + _ENCODE_CHUNK].encode("utf-8")
        unsafe = set(piece.translate(None, _SAFE_BYTES))
        if 0x25 in unsafe:  # '%' before the others: their replacements contain '%'
            piece = piece.replace(b"%", b"%25")
            unsafe.discard(0x25)
        for byte in unsafe:
            piece = piece.replace(bytes((byte,)), _PERCENT[byte])
        out.write(piece)


def encode_form(method: str, params: dict[str, Any]) -> bytes:
    """The request body: ``method=<method>&parameters=<JSON>``, urlencoded, as bytes.

    The JSON is written with ``ensure_ascii=True``: non-ASCII text (Polish letters in numbers
    and names) travels as ``\\uXXXX`` escapes, which any JSON parser decodes to the same
    string, so the result does not depend on which charset the server assumes for the
    percent-decoded form; and a pure ASCII body lets us encode it in fast bounded chunks.
    """
    out = io.BytesIO()
    out.write(b"method=")
    _quote_into(out, method)
    out.write(b"&parameters=")
    encoder = json.JSONEncoder(ensure_ascii=True, allow_nan=False)
    for chunk in encoder.iterencode(params):
        _quote_into(out, chunk)
    return out.getvalue()


def pdf_data_uri(pdf: bytes) -> str:
    """The ``file`` parameter of addOrderInvoiceFile/addOrderReceiptFile: ``"data:" + base64``."""
    return "data:" + base64.b64encode(pdf).decode("ascii")


# -- answers ---------------------------------------------------------------------------------

def parse_block_until(message: str, now: float) -> float:
    """The epoch until which BaseLinker blocks us, from its message.

    The time in "... token blocked until 2022-03-24 14:40:01" is Europe/Warsaw local time.
    Unreadable -> now + 5 min; a time more than an hour ahead -> now + 1 h; a time already
    past (our clock is ahead of the server's) -> now + 1 min.
    """
    match = _BLOCKED_UNTIL_RE.search(message or "")
    until: float | None = None
    if match and _WARSAW is not None:
        day, clock = match.groups()
        fmt = "%Y-%m-%d %H:%M:%S" if clock.count(":") == 2 else "%Y-%m-%d %H:%M"
        try:
            local = datetime.datetime.strptime(f"{day} {clock}", fmt)
            until = local.replace(tzinfo=_WARSAW).timestamp()
        except ValueError:
            until = None
    if until is None:
        return now + DEFAULT_BLOCK_SECONDS
    if until > now + MAX_BLOCK_SECONDS:
        return now + MAX_BLOCK_SECONDS
    if until <= now:
        return now + PAST_BLOCK_SECONDS
    return until


def classify_error(code: str, message: str) -> str:
    """``"blocked"``, ``"auth"`` or ``"refusal"`` for an ERROR envelope."""
    upper = (code or "").upper()
    if upper in BLOCK_CODES or "blocked until" in (message or "").lower():
        return "blocked"
    if "TOKEN" in upper or "AUTH" in upper or "ACCOUNT" in upper:
        return "auth"
    return "refusal"


def _never_reached_server(exc: BaseException) -> bool:
    """True if the failure happened before a connection existed (refused, DNS, connect timeout).

    requests wraps urllib3's exceptions (``ConnectionError(MaxRetryError(reason=...))``), so the
    chain of args / reason / cause is searched for urllib3's connect-phase errors.
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    # NewConnectionError and NameResolutionError derive from ConnectTimeoutError.
    return any(isinstance(item, urllib3.exceptions.ConnectTimeoutError) for item in tls.exception_chain(exc))


class BaseLinkerClient:
    """Sends BaseLinker API calls through the shared rate limiter, with the retry policy.

    ``sleep`` (the back-off pause after a TransportError when no ``cancel`` Event is given)
    and ``wall_clock`` (reference for block times) exist for tests.
    """

    def __init__(
        self,
        token: str,
        api_url: str,
        limiter: RateLimiter,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        cancel: threading.Event | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], object] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
    ):
        token = (token or "").strip()  # a pasted token often carries a newline
        if not _TOKEN_CHARS_RE.fullmatch(token):
            # Never echo the value: it is a secret even when malformed.
            raise ConfigError("Token BaseLinker zawiera niedozwolone znaki (spacje, "
                              "polskie litery lub znaki sterujące).", key="baselinker.token")
        if not str(api_url).lower().startswith(("http://", "https://")):
            raise ConfigError(f"Adres API BaseLinker musi zaczynać się od https://: {api_url!r}",
                              key="baselinker.api_url")
        self.__token = token
        self.api_url = str(api_url)
        self.limiter = limiter
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.cancel = cancel
        if session is None:
            # the OS trust store (antivirus/proxy roots); retries are decided here, not in urllib3
            session = tls.new_session(max_retries=0)
        self._session = session
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._stats_lock = threading.Lock()
        self.calls = 0
        self.calls_by_method: collections.Counter[str] = collections.Counter()

    def __repr__(self) -> str:
        return f"<BaseLinkerClient {self.api_url} token=***>"

    __str__ = __repr__

    # -- the one entry point --------------------------------------------------------------

    def call(self, method: str, **params: Any) -> dict:
        """Call ``method``; return the SUCCESS body without ``"status"``.

        Raises AuthError, ApiRefusal, BlockedError (after ``MAX_BLOCKS`` blocked answers),
        TransportError, or Cancelled (the cancel Event was set while waiting).

        Retry policy:
        * blocked -> ``limiter.block_until(until)``, then the same request again (a blocked
          request was not executed; the limiter holds every caller until the block ends);
        * account blocked (``ERROR_USER_ACCOUNT_BLOCKED``) -> one wait of at most
          ``ACCOUNT_BLOCK_WAIT_SECONDS``, then :class:`AccountBlockedError` (ends the run);
        * TransportError on ``get*`` and repeatable writes, and on any method when the request
          certainly never reached the server -> up to 2 more attempts after 1 s and 3 s;
        * TransportError that may have executed a create method -> raised at once;
        * AuthError, ApiRefusal -> raised at once.
        """
        body = encode_form(method, params)
        blocks = 0
        account_blocks = 0
        transport_failures = 0
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(method, body, attempt)
            except BlockedError as exc:
                if (exc.code or "").upper() == ACCOUNT_BLOCKED:
                    # One capped wait, then the run ends with a plain message.
                    if account_blocks:
                        raise AccountBlockedError(exc.message, until=exc.until, code=exc.code,
                                                  method=method) from None
                    account_blocks += 1
                    self.limiter.block_until(min(exc.until, self._wall_clock() + ACCOUNT_BLOCK_WAIT_SECONDS))
                    log.warning("BaseLinker %s: the account is blocked; one more try after a short wait",
                                method)
                    continue
                blocks += 1
                self.limiter.block_until(exc.until)
                if blocks >= MAX_BLOCKS:
                    raise
                log.info("BaseLinker %s: token blocked, the request will be sent again "
                         "after the block (%d/%d)", method, blocks, MAX_BLOCKS)
            except TransportError as exc:
                if not self._transport_retry_allowed(method, exc):
                    raise
                if transport_failures >= len(TRANSPORT_BACKOFF):
                    raise
                delay = TRANSPORT_BACKOFF[transport_failures]
                transport_failures += 1
                log.info("BaseLinker %s: %s; retrying in %g s", method, exc.message, delay)
                self._pause(delay)

    # -- thin typed helpers (the protocol may call ``call`` directly just as well) ---------

    # -- internals ------------------------------------------------------------------------

    @staticmethod
    def _transport_retry_allowed(method: str, exc: TransportError) -> bool:
        if not exc.may_have_executed:
            return True  # never reached BaseLinker: repeating cannot duplicate anything
        if method in CREATE_METHODS:
            return False
        return method.startswith("get") or method in REPEATABLE_WRITES

    def _pause(self, seconds: float) -> None:
        if self.cancel is not None:
            if self.cancel.wait(seconds):
                raise Cancelled()
        else:
            self._sleep(seconds)

    def _scrub(self, text: str) -> str:
        token = self.__token
        return text.replace(token, "***") if token else text

    def _attempt(self, method: str, body: bytes, attempt: int) -> dict:
        slot = self.limiter.acquire(self.cancel)
        started = time.perf_counter()
        outcome = "?"
        try:
            result = self._send(method, body)
            outcome = "SUCCESS"
            return result
        except BaseLinkerError as exc:
            outcome = type(exc).__name__ + (f" {exc.code}" if exc.code else "")
            if isinstance(exc, TransportError) and not exc.may_have_executed:
                outcome += " (not sent)"
            raise
        except Exception as exc:
            outcome = type(exc).__name__
            raise
        finally:
            self.limiter.release(slot)
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            log.debug("BaseLinker %s: %s in %.0f ms (attempt %d)",
                      method, outcome, elapsed_ms, attempt)

    def _count(self, method: str) -> None:
        with self._stats_lock:
            self.calls += 1
            self.calls_by_method[method] += 1

    def _send(self, method: str, body: bytes) -> dict:
        headers = {
            "X-BLToken": self.__token,
            "User-Agent": USER_AGENT,
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        try:
            response = self._session.post(
                self.api_url,
                data=body,
                headers=headers,
                timeout=(self.connect_timeout, self.timeout),
                allow_redirects=False,
            )
        except requests.exceptions.RequestException as exc:
            # a refused certificate fails the TLS handshake: no byte of the request was sent
            executed = not (_never_reached_server(exc) or tls.certificate_problem(exc) is not None)
            if executed:
                self._count(method)
            raise TransportError(self._describe(exc), may_have_executed=executed,
                                 may_still_run=isinstance(exc, requests.exceptions.ReadTimeout),
                                 method=method) from None
        self._count(method)
        return self._parse(method, response)

    def _describe(self, exc: requests.exceptions.RequestException) -> str:
        certificate = tls.certificate_problem(exc)
        if certificate is not None:
            return certificate
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            what = "przekroczony czas nawiązywania połączenia"
        elif isinstance(exc, requests.exceptions.ReadTimeout):
            what = "przekroczony czas oczekiwania na odpowiedź"
        elif isinstance(exc, requests.exceptions.SSLError):
            what = "błąd SSL"
        elif isinstance(exc, requests.exceptions.ConnectionError):
            what = ("nie można połączyć się z serwerem" if _never_reached_server(exc)
                    else "połączenie zerwane")
        else:
            what = "błąd połączenia"
        detail = self._scrub(f"{type(exc).__name__}: {exc}")
        if len(detail) > 300:
            detail = detail[:300] + "…"
        return f"Brak odpowiedzi BaseLinker: {what} ({detail})"

    def _parse(self, method: str, response: requests.Response) -> dict:
        status = response.status_code
        content = response.content
        if status >= 500:
            # The API sits behind Cloudflare: a gateway timeout (504, 524 = the origin did not
            # answer within 100 s), 520/522 or any HTML error page come from the proxy while
            # the origin may still be executing the request: never a clean refusal.
            html = b"<html" in content[:1024].lower() or "html" in response.headers.get("Content-Type", "").lower()
            raise TransportError(f"Błąd serwera BaseLinker (HTTP {status})",
                                 may_have_executed=True, may_still_run=status in MAY_STILL_RUN_STATUSES or html,
                                 method=method)
        try:
            body = json.loads(content)
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("status") not in ("SUCCESS", "ERROR"):
            kind = "nie jest JSON" if body is None else "nie jest kopertą API"
            raise TransportError(
                f"Nieoczekiwana odpowiedź BaseLinker (HTTP {status}, treść {kind})",
                may_have_executed=True, method=method)
        if body["status"] == "SUCCESS":
            body.pop("status")
            return body
        code = self._scrub(str(body.get("error_code") or "")) or None
        message = self._scrub(str(body.get("error_message") or "")) or "(brak opisu błędu)"
        kind = classify_error(code or "", message)
        if kind == "blocked":
            until = parse_block_until(message, self._wall_clock())
            raise BlockedError(message, until=until, code=code, method=method)
        if kind == "auth":
            raise AuthError(message, code=code, method=method)
        raise ApiRefusal(message, code=code, method=method)
