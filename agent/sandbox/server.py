"""HTTP transport of the sandbox: ``POST /connector.php`` plus the control endpoints.

Stdlib only (:class:`http.server.ThreadingHTTPServer`, HTTP/1.1 keep-alive). The handler reads
the body by ``Content-Length`` (or chunked), decodes the form with :func:`urllib.parse.parse_qs`
(so ``%2B`` becomes ``+`` and a literal ``+`` becomes a space, exactly like PHP), asks the
:class:`~.state.SandboxState` for an envelope and plays the transport faults
(:mod:`.faults`). Request logging goes to the ``logging`` module at DEBUG level only.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .faults import NOT_EXECUTED_KINDS, Fault
from .account import UNDOCUMENTED_VARIANTS
from .state import SandboxState

log = logging.getLogger(__name__)

API_PATH = "/connector.php"
DEFAULT_MAX_BODY = 128 * 1024 * 1024  # far above a 20 MB PDF in base64 (~27 MB)

_HTML_5XX = (
    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_FILE_PATH = re.compile(r"^/_file/(invoice|receipt)/(\d+)$")


def php_json(payload: Any) -> bytes:
    """JSON the way PHP's json_encode writes it: ASCII only, slashes escaped (``2\\/9\\/2021``)."""
    # "/" can only occur inside JSON strings, where "\/" is a valid escape of it.
    return json.dumps(payload, ensure_ascii=True).replace("/", "\\/").encode("ascii")


class _BodyError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 resets bursts of parallel clients
    # On Windows SO_REUSEADDR lets a second server bind the same port silently: don't.
    allow_reuse_address = os.name != "nt"

    def __init__(self, address: tuple[str, int], sandbox: "SandboxServer"):
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address):  # type: ignore[override]
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):  # type: ignore[override]
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake handler threads blocked on idle keep-alive connections."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):  # type: ignore[override]
        # Clients hanging up (timeouts, faults, shutdown) are normal here: no stderr tracebacks.
        log.debug("sandbox: error while serving %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "BaseLinkerSandbox/1.0"
    sys_version = ""
    timeout = 300  # idle keep-alive connections end after this many seconds
    server: _HTTPServer

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("sandbox %s: " + format, self.address_string(), *args)

    # ------------------------------------------------------------------------- plumbing

    @property
    def state(self) -> SandboxState:
        return self.server.sandbox.state

    def _read_body(self) -> bytes:
        limit = self.server.sandbox.max_body_bytes
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return b""
        try:
            length = int(length_header)
        except ValueError:
            raise _BodyError(400, "Bad Content-Length") from None
        if length < 0:
            raise _BodyError(400, "Bad Content-Length")
        if length > limit:
            raise _BodyError(413, f"Body larger than {limit} bytes")
        return self._read_exactly(length)

    def _read_exactly(self, length: int) -> bytes:
        chunks = []
        remaining = length
        while remaining:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                raise _BodyError(400, "Body shorter than Content-Length")
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _read_chunked(self, limit: int) -> bytes:
        chunks = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _BodyError(400, "Bad chunk size") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > limit:
                raise _BodyError(413, f"Body larger than {limit} bytes")
            chunks.append(self._read_exactly(size))
            self.rfile.readline(1024)

    def _send(self, status: int, body: bytes, content_type: str, *, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: int, payload: Any, *, close: bool = False) -> None:
        self._send(status, php_json(payload), "application/json", close=close)

    def _drop(self, *, reset: bool) -> None:
        """Close the connection without a response (``reset``: with a TCP RST)."""
        self.close_connection = True
        if reset:
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        # wfile must stay empty; socketserver closes the socket after handle() returns.

    # ------------------------------------------------------------------------- dispatch

    def do_GET(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        state = self.state
        if path == "/_state":
            self._send_json(200, state.snapshot())
        elif path == "/_calls":
            self._send_json(200, [c.to_dict() for c in state.calls])
        elif (match := _FILE_PATH.match(path)) is not None:
            kind, doc_id = match.group(1), int(match.group(2))
            data = state.invoice_file(doc_id) if kind == "invoice" else state.receipt_file(doc_id)
            if data is None:
                self._send_json(404, {"status": "ERROR", "error_message": f"No file for {kind} {doc_id}"})
            else:
                self._send(200, data, "application/octet-stream")
        elif path in ("/", "/_help"):
            text = (
                "BaseLinker sandbox\n"
                f"API: POST {API_PATH} (form fields method, parameters; header X-BLToken)\n"
                "Control: GET /_state, GET /_calls, GET /_file/invoice/<id>, GET /_file/receipt/<id>,\n"
                "         POST /_seed, POST /_faults, POST /_config, POST /_reset\n"
            )
            self._send(200, text.encode(), "text/plain; charset=utf-8")
        elif path == API_PATH:
            self._send_json(405, {"status": "ERROR", "error_code": "ERROR_BAD_PARAMETERS",
                                  "error_message": "Use POST"})
        else:
            self._send_json(404, {"status": "ERROR", "error_message": f"No such endpoint: {path}"})

    do_HEAD = do_GET

    def do_POST(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        try:
            body = self._read_body()
        except _BodyError as error:
            self._send_json(error.status, {"status": "ERROR", "error_message": str(error)}, close=True)
            return
        if path == API_PATH:
            self._api(body)
        elif path in ("/_seed", "/_faults", "/_reset", "/_config"):
            self._control(path, body)
        else:
            self._send_json(404, {"status": "ERROR", "error_message": f"No such endpoint: {path}"})

    def _control(self, path: str, body: bytes) -> None:
        state = self.state
        try:
            data = json.loads(body.decode("utf-8")) if body.strip() else None
            if path == "/_reset":
                state.reset()
                result: dict[str, Any] = {}
            elif path == "/_seed":
                result = state.seed(data if data is not None else {})
            elif path == "/_config":
                if not isinstance(data, dict):
                    raise ValueError("expected a JSON object")
                state.configure(**data)
                result = {}
            else:  # /_faults
                if not isinstance(data, list):
                    raise ValueError("expected a JSON list of faults")
                faults = [Fault.from_dict(item) for item in data]
                state.set_faults(faults)
                result = {"faults": len(faults)}
        except (ValueError, TypeError, KeyError) as error:
            self._send_json(400, {"status": "ERROR", "error_message": str(error)})
            return
        self._send_json(200, {"status": "SUCCESS", **result})

    def _api(self, body: bytes) -> None:
        state = self.state
        sandbox = self.server.sandbox
        method, parameters, form_error = self._decode_form(body)
        token = self.headers.get("X-BLToken")

        fault = state.take_fault(method)
        kind = fault.kind if fault else None
        if fault is not None and kind in NOT_EXECUTED_KINDS:
            envelope = state.record_fault_without_execution(method, fault)
            if kind == "http_500":
                reason = self.responses.get(fault.http_status, ("Server Error",))[0]
                html = _HTML_5XX.format(code=fault.http_status, reason=reason).encode()
                self._send(fault.http_status, html, "text/html", close=True)
            elif kind == "reset_before":
                self._drop(reset=True)
            else:  # block, account_block
                self._send_json(200, envelope)
            return
        if fault is not None and kind in ("latency", "timeout", "timeout_lost"):
            if sandbox.wait(fault.seconds) or kind == "timeout_lost":
                state.record_unanswered(method, fault)
                self._drop(reset=True)  # the server is stopping / the request never runs
                return
        if fault is not None and kind == "held":
            if not sandbox.wait_for(fault._released):
                state.record_unanswered(method, fault)
                self._drop(reset=True)  # the server is stopping
                return

        envelope = state.execute(method, parameters, token, fault=fault, form_error=form_error)
        if kind == "held":
            fault._executed.set()
        if kind == "drop_after_commit":
            self._drop(reset=False)
            return
        self._send_json(200, envelope)

    def _decode_form(self, body: bytes) -> tuple[str, str | None, str | None]:
        """Return (method, parameters JSON, error) from an x-www-form-urlencoded body."""
        content_type = self.headers.get("Content-Type", "").lower()
        if content_type.startswith("multipart/"):
            return "", None, "multipart/form-data is not supported; send application/x-www-form-urlencoded"
        try:
            text = body.decode("utf-8")
            form = parse_qs(text, keep_blank_values=True, encoding="utf-8", errors="strict")
        except (UnicodeDecodeError, ValueError):
            return "", None, "The request body is not valid UTF-8 form data"
        method = form.get("method", [""])[-1]  # PHP keeps the last value of a repeated field
        parameters = form.get("parameters", [None])[-1]
        return method, parameters, None


class SandboxServer:
    """The sandbox listening on ``host:port`` (0 = any free port) in a daemon thread."""

    def __init__(self, state: SandboxState | None = None, host: str = "127.0.0.1", port: int = 0, *,
                 max_body_bytes: int = DEFAULT_MAX_BODY):
        self.state = state if state is not None else SandboxState()
        self.host = host
        self.max_body_bytes = max_body_bytes
        self._requested_port = port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # ------------------------------------------------------------------------- lifecycle

    def _bind(self) -> _HTTPServer:
        if self._httpd is not None:
            raise RuntimeError("the sandbox server is already running")
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self._requested_port), self)
        return self._httpd

    def start(self) -> "SandboxServer":
        """Bind and serve in a daemon thread; returns self (raises OSError if the port is taken)."""
        httpd = self._bind()
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"bl-sandbox-{self.port}", daemon=True,
        )
        self._thread.start()
        log.debug("sandbox listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving, end open connections and release the port. Idempotent."""
        httpd = self._httpd
        if httpd is None:
            return
        self._stopping.set()
        if self._thread is not None:
            httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        httpd.close_connections()
        httpd.server_close()  # joins the handler threads (they were all woken above)
        self._httpd = None
        log.debug("sandbox stopped")

    def wait(self, seconds: float) -> bool:
        """Sleep for a fault; returns True early when the server is stopping."""
        return self._stopping.wait(seconds)

    def wait_for(self, event) -> bool:
        """Wait until ``event`` is set (True) or the server stops (False)."""
        while not event.wait(0.05):
            if self._stopping.is_set():
                return False
        return True

    def __enter__(self) -> "SandboxServer":
        if self._httpd is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the sandbox server is not running")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return self.base_url + API_PATH


# ------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """Run the sandbox in the foreground until Ctrl+C (``python -m agent.sandbox``)."""
    parser = argparse.ArgumentParser(
        prog="python -m agent.sandbox",
        description="Local BaseLinker API emulator for trying raksbl safely.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port (default 8765)")
    parser.add_argument("--token", default="sandbox-token")
    parser.add_argument("--rpm", type=int, default=100, help="requests per minute before blocking")
    parser.add_argument("--block-seconds", type=float, default=120)
    parser.add_argument("--duplicates", choices=("allow", "refuse"), default="allow",
                        help="what addInvoice/addReceipt do when the order already has one")
    parser.add_argument("--variant", choices=sorted(UNDOCUMENTED_VARIANTS), default="defaults",
                        help="how to play the behaviour BaseLinker does not document (see the package docs)")
    parser.add_argument("--seed", metavar="FILE", help="JSON seed file (same format as POST /_seed)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)

    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(message)s")
    try:
        state = SandboxState(token=args.token, requests_per_minute=args.rpm,
                             block_seconds=args.block_seconds, duplicate_documents=args.duplicates)
        state.configure(**UNDOCUMENTED_VARIANTS[args.variant])
    except ValueError as error:
        print(f"Invalid option: {error}", file=sys.stderr)
        return 2
    if args.seed:
        try:
            with open(args.seed, encoding="utf-8") as handle:
                created = state.seed(json.load(handle))
        except (OSError, ValueError, TypeError, KeyError) as error:
            print(f"Cannot load seed {args.seed}: {error}", file=sys.stderr)
            return 2
        print(f"Seeded: {len(created['order_ids'])} orders, {len(created['invoice_ids'])} invoices, "
              f"{len(created['receipt_ids'])} receipts")
    try:
        server = SandboxServer(state, args.host, args.port).start()
    except OSError as error:
        print(f"Cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    print(f"BaseLinker sandbox: {server.url}")
    print(f"Token: {args.token}")
    print(f"State: {server.base_url}/_state   (Ctrl+C to stop)", flush=True)
    try:
        while True:
            time.sleep(0.5)  # interruptible by Ctrl+C on every platform
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
