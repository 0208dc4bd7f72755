"""A local BaseLinker: the API methods raksbl uses, served on 127.0.0.1 over real HTTP.

A product of its own next to the client (``agent.baselinker`` never imports it): the demo,
the tests, the benchmarks and ``raksbl sandbox`` use it. Its parts:

* :mod:`.account` — the account's data (series, statuses, extra fields, orders, invoices,
  receipts, files), seeding, document numbering, the switches for undocumented behaviour;
* :mod:`.gate` — token, block and rate window, injected faults, the call log;
* :mod:`.methods` — the API methods, one module per family (orders, invoices incl.
  ``addInvoiceCorrection``, receipts, series and order fields, files);
* :mod:`.faults` — the fault kinds; :mod:`.errors`, :mod:`.params` — error envelope and
  PHP-lenient parameter decoding; :mod:`.state` — :class:`SandboxState`, the parts together;
* :mod:`.server` — the HTTP transport and the command line.

Used by the demo, the tests, the benchmarks and by users who want to try the agent without
touching their real account::

    state = SandboxState(token="sandbox-token", requests_per_minute=100)
    state.add_series(15, "INVOICE", "FV", "%N/%M/%Y")
    order_id = state.add_order(invoice_fullname="Jan Kowalski", products=[...])
    with SandboxServer(state).start() as server:
        ...  # POST server.url with form fields method/parameters and header X-BLToken

Command line: ``python -m agent.sandbox --port 8765 --token T --rpm 100
[--block-seconds 120] [--duplicates allow|refuse] [--variant NAME] [--seed file.json]``.

Wire contract: ``POST /connector.php``, ``application/x-www-form-urlencoded`` fields ``method``
and ``parameters`` (JSON), header ``X-BLToken``. Always HTTP 200 + JSON envelope, except
injected 5xx faults. Control endpoints (no token): ``GET /_state``, ``GET /_calls``,
``GET /_file/invoice/<id>``, ``GET /_file/receipt/<id>``, ``POST /_seed``, ``POST /_faults``,
``POST /_config``, ``POST /_reset``.

Behaviour BaseLinker does not document, and what the sandbox chooses (client code must not
depend on any of it):

* Second ``addInvoice``/``addReceipt`` on an order that already has one: ``duplicate_documents``
  = ``"allow"`` (default) creates another document, so tests can *detect* duplicates;
  ``"refuse"`` answers ``ERROR_INVOICE_EXISTS`` / ``ERROR_RECEIPT_EXISTS``. Switch with
  ``SandboxState(duplicate_documents=...)``, ``state.configure(...)``, ``POST /_config`` or
  ``--duplicates``. Corrections are never refused (several corrections of one invoice are legal).
* The other unknowns are switchable the same ways (``configure``/``POST /_config``), and
  ``UNDOCUMENTED_VARIANTS`` names the combinations the protocol tests run under:
  ``no_receipt`` — ``getReceipt(order_id)`` for an order without a receipt answers ``"error"``
  (``ERROR_RECEIPT_NOT_FOUND``, default) or ``"success_empty"`` (SUCCESS, no receipt fields);
  ``list_date_field`` — ``getInvoices`` ``date_from`` filters on ``"date_add"`` (default) or
  ``"date_sell"``; ``list_lag_seconds`` — list calls (not per-id/per-order lookups) omit
  documents younger than this; ``list_order`` — list pages ``"asc"`` (default) or ``"desc"``.
* Documented shapes kept as real answers have them: ``getSeries`` ids as strings (``"15"``),
  ``custom_extra_fields`` absent from ``getOrders`` when empty, ``""`` for empty numbers,
  ``getReceipts`` rows with only ``receipt_id, series_id, receipt_full_nr, order_id,
  date_add, payment_method, nip, ...`` and items under ``products`` — no
  ``external_receipt_number`` (only ``getReceipt`` tells a receipt's file state).
* ``addOrderInvoiceFile``/``addOrderReceiptFile``: ``file`` must be ``"data:"`` + strict base64
  (no MIME type, no whitespace) of a non-empty file, else ``ERROR_FILE``; a second upload
  replaces the file (and the external number when given); the external number is optional;
  an overlong number gives ``ERROR_FIELD_TOO_LONG`` naming the field; no size limit except
  the body limit of the server (128 MB). A ``+`` sent unencoded arrives as a space (form
  decoding, as on the real API) and is *not* repaired: the upload fails with ``ERROR_FILE``.
* Rate limit: a sliding 60 s window over the arrival times of requests carrying the valid
  token that were let through. The request that would be number ``requests_per_minute + 1``
  blocks the token for ``block_seconds`` (rounded up to a whole second, so the Warsaw time in
  the message is exact) and is answered ``ERROR_BLOCKED_TOKEN``; so is every request until the
  block ends. Blocked requests are not executed and not counted; the window starts empty after
  a block. Bad-token requests and fault-stopped requests do not count.
* Order of checks: token (``ERROR_EMPTY_TOKEN`` / ``ERROR_AUTH_TOKEN``), block / rate limit,
  method (``ERROR_UNKNOWN_METHOD``), then ``parameters`` (``ERROR_BAD_PARAMETERS``). The
  deprecated ``token`` form field is ignored, so a client relying on it fails loudly.
* Parameter types are PHP-lenient: ids may be ints or digit strings, flags ``true``/``false``,
  ``0``/``1`` or ``"0"``/``"1"``; ``null`` and other types are ``ERROR_BAD_PARAMETERS``;
  ``parameters=[]`` means no parameters. Unknown parameters are ignored, except in
  ``setOrderFields``, where a field BaseLinker does not document is refused.
* ``getOrders`` returns only confirmed orders unless ``get_unconfirmed_orders`` is true, also
  when ``order_id`` is given. Lists are sorted by ascending id, at most 100 items;
  ``id_from`` is inclusive.
* Invoice/receipt numbering: ``%N`` counts per series per year (per month when the format has
  ``%M``), ``%M`` is the month without a leading zero, ``%Y`` the year, all in Europe/Warsaw
  time of ``date_add``. Items and totals are copied from the order (products plus a delivery
  line when ``delivery_price`` > 0). ``external_id`` is the invoice id as a string.
* ``addReceipt``/``addInvoiceCorrection`` without ``series_id`` use the lowest-id series of the
  right type. ``getReceipt(order_id=...)`` returns the order's oldest receipt.
* Errors for which BaseLinker publishes no code use the codes listed in docs/DESIGN.md
  (e.g. an unknown status id in ``setOrderStatus`` is ``ERROR_BAD_PARAMETERS``).
* A bug inside the sandbox answers ``ERROR_SANDBOX_INTERNAL`` (and logs the traceback) rather
  than dropping the connection, so it cannot be mistaken for an injected fault.
* Responses are JSON written like PHP's json_encode: ASCII with ``\\uXXXX`` escapes and
  escaped slashes (``"2\\/9\\/2021"``).
* Automatic ids: orders from 10000001, invoices from 500001, receipts from 700001, so mixing
  one kind of id with another gives "not found" instead of touching the wrong object.
"""

from .account import UNDOCUMENTED_VARIANTS
from .faults import FAULT_KINDS, Fault
from .gate import CallRecord, block_message
from .server import API_PATH, SandboxServer, main
from .state import SandboxState

__all__ = [
    "API_PATH", "FAULT_KINDS", "UNDOCUMENTED_VARIANTS", "CallRecord", "Fault", "SandboxServer", "SandboxState",
    "block_message", "main",
]
