"""The API methods the sandbox serves, one module per family, as ``method name → function``.

Each function takes the account (:class:`~agent.sandbox.account.Account`) and the decoded
``parameters`` dict, validates all its input before changing anything, and returns the fields
of a SUCCESS envelope or raises :class:`~agent.sandbox.errors.ApiError`.
"""

from __future__ import annotations

from typing import Callable

from . import files, invoices, orders, receipts, series

METHODS: dict[str, Callable[..., dict]] = {
    "getSeries": series.get_series,
    "getOrderStatusList": series.get_order_status_list,
    "getOrderExtraFields": series.get_order_extra_fields,
    "getOrders": orders.get_orders,
    "setOrderFields": orders.set_order_fields,
    "setOrderStatus": orders.set_order_status,
    "addInvoice": invoices.add_invoice,
    "getInvoices": invoices.get_invoices,
    "addInvoiceCorrection": invoices.add_invoice_correction,
    "addOrderInvoiceFile": files.add_order_invoice_file,
    "addReceipt": receipts.add_receipt,
    "getReceipt": receipts.get_receipt,
    "getReceipts": receipts.get_receipts,
    "addOrderReceiptFile": files.add_order_receipt_file,
}
