"""addOrderInvoiceFile, addOrderReceiptFile: a document's PDF and external number."""

from __future__ import annotations

import base64
import binascii

from ..account import Account
from ..errors import ERROR_FILE, ERROR_INVOICE_NOT_FOUND, ERROR_RECEIPT_NOT_FOUND, ApiError
from ..params import int_param, text_param

# Length limits (characters) documented by BaseLinker.
MAX_EXTERNAL_INVOICE_NUMBER = 30
MAX_EXTERNAL_RECEIPT_NUMBER = 20


def add_order_invoice_file(account: Account, params: dict) -> dict:
    invoice_id = int_param(params, "invoice_id", required=True)
    if invoice_id not in account.invoices:
        raise ApiError(ERROR_INVOICE_NOT_FOUND, f"Invoice {invoice_id} not found")
    number = text_param(params, "external_invoice_number", max_len=MAX_EXTERNAL_INVOICE_NUMBER)
    data = _decode_file(params)
    account.invoice_files[invoice_id] = data
    if number is not None:
        account.invoices[invoice_id]["external_invoice_number"] = number
    return {}


def add_order_receipt_file(account: Account, params: dict) -> dict:
    receipt_id = int_param(params, "receipt_id", required=True)
    if receipt_id not in account.receipts:
        raise ApiError(ERROR_RECEIPT_NOT_FOUND, f"Receipt {receipt_id} not found")
    number = text_param(params, "external_receipt_number", max_len=MAX_EXTERNAL_RECEIPT_NUMBER)
    data = _decode_file(params)
    account.receipt_files[receipt_id] = data
    if number is not None:
        account.receipts[receipt_id]["external_receipt_number"] = number
    return {}


def _decode_file(params: dict) -> bytes:
    """``file`` = ``"data:"`` + strict base64; a '+' that became a space fails here."""
    value = text_param(params, "file", required=True)
    assert value is not None
    if not value.startswith("data:"):
        raise ApiError(ERROR_FILE, "Invalid file: the content must start with 'data:' followed by base64")
    try:
        payload = value[5:].encode("ascii")
        data = binascii.a2b_base64(payload, strict_mode=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        data = None
    # strict: only the canonical encoding (alphabet, padding, nothing extra) is accepted
    if data is None or base64.b64encode(data) != payload:
        raise ApiError(ERROR_FILE, "Invalid file: the content is not valid base64")
    if not data:
        raise ApiError(ERROR_FILE, "Invalid file: the file is empty")
    return data
