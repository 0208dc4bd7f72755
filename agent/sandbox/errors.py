"""The sandbox's error answers: the ``ERROR`` envelope and the error codes it uses."""

from __future__ import annotations

from typing import Any

# Error codes (see docs/DESIGN.md, "Sandbox error codes").
ERROR_EMPTY_TOKEN = "ERROR_EMPTY_TOKEN"
ERROR_AUTH_TOKEN = "ERROR_AUTH_TOKEN"
ERROR_BLOCKED_TOKEN = "ERROR_BLOCKED_TOKEN"
ERROR_UNKNOWN_METHOD = "ERROR_UNKNOWN_METHOD"
ERROR_BAD_PARAMETERS = "ERROR_BAD_PARAMETERS"
ERROR_ORDER_NOT_FOUND = "ERROR_ORDER_NOT_FOUND"
ERROR_INVOICE_NOT_FOUND = "ERROR_INVOICE_NOT_FOUND"
ERROR_RECEIPT_NOT_FOUND = "ERROR_RECEIPT_NOT_FOUND"
ERROR_SERIES_NOT_FOUND = "ERROR_SERIES_NOT_FOUND"
ERROR_FIELD_TOO_LONG = "ERROR_FIELD_TOO_LONG"
ERROR_FILE = "ERROR_FILE"
# Only with duplicate_documents="refuse" (what the real API does here is undocumented).
ERROR_INVOICE_EXISTS = "ERROR_INVOICE_EXISTS"
ERROR_RECEIPT_EXISTS = "ERROR_RECEIPT_EXISTS"


class ApiError(Exception):
    """An ERROR envelope: ``{"status": "ERROR", "error_code": code, "error_message": message}``."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def envelope(self) -> dict[str, Any]:
        return {"status": "ERROR", "error_code": self.code, "error_message": self.message}

