"""The document kinds the agent exports, as data: one row per kind.

Everything that differs between an invoice (FS) and a receipt (PA) is here — which BaseLinker
method creates, lists, looks up and attaches a file to it, its id and external-number fields,
the external number's length limit, which setting holds its numbering series, and its Polish
name in the cases our messages need. The protocol (protocol.py), the order book (orders.py)
and the run (run.py) read these rows instead of branching on the document type.

A new kind (corrections, KS, via ``addInvoiceCorrection``) is a new row here plus whatever
steps of its own it needs; nothing else should have to learn its name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PolishName:
    """A kind's name in the forms our messages use (agreement with the grammatical gender)."""

    nominative: str   # "faktura" pojawi się
    accusative: str   # utworzy "fakturę", ma już "fakturę"
    genitive: str     # utworzenie "faktury"
    genitive_plural: str  # seria numeracji "faktur"
    created: str      # "utworzona" / "utworzony" wcześniej
    vanished: str     # "zniknęła" / "zniknął" z zamówienia


@dataclass(frozen=True)
class DocumentKind:
    doc_type: str              # RaksSQL's document type: "FS", "PA"
    name: str                  # BaseLinker's name, also OrderBook's cache key: "invoice", "receipt"
    create_method: str         # addInvoice / addReceipt
    id_key: str                # the id field of the create's answer and of list rows
    attach_method: str         # uploads the PDF as the document's external file
    external_number_param: str  # the attach call's / rows' external number field
    max_external_number: int   # BaseLinker's limit for that number
    list_method: str           # pages of up to 100 documents, ``id_from`` / ``date_from``
    list_key: str              # the list answer's key
    lookup_method: str         # the per-order lookup whose "none" the API documents
    lookup_is_list: bool       # getInvoices(order_id) answers a list; getReceipt one document
    number_fields: tuple[str, ...]  # BaseLinker's own number, first non-empty field
    series_setting: str        # the BaseLinker settings field holding the numbering series
    series_required: bool      # the create documents series_id as required (no default)
    prefetched: bool           # list rows tell the file state, so a batch may be prefetched
    pl: PolishName
    invoice_type: str = "normal"  # getInvoices rows of this kind (``type``); receipts have none
    corrects: str | None = None   # the kind this one corrects (its original must be in BaseLinker)

    @property
    def series_setting_key(self) -> str:
        """The settings key a message names, e.g. ``baselinker.invoice_series_id``."""
        return f"baselinker.{self.series_setting}"


INVOICE = DocumentKind(
    doc_type="FS", name="invoice",
    create_method="addInvoice", id_key="invoice_id",
    attach_method="addOrderInvoiceFile", external_number_param="external_invoice_number",
    max_external_number=30,
    list_method="getInvoices", list_key="invoices",
    lookup_method="getInvoices", lookup_is_list=True,
    number_fields=("number",),
    series_setting="invoice_series_id", series_required=True,
    prefetched=True,
    pl=PolishName("faktura", "fakturę", "faktury", "faktur", "utworzona", "zniknęła"),
)

RECEIPT = DocumentKind(
    doc_type="PA", name="receipt",
    create_method="addReceipt", id_key="receipt_id",
    attach_method="addOrderReceiptFile", external_number_param="external_receipt_number",
    max_external_number=20,
    list_method="getReceipts", list_key="receipts",
    lookup_method="getReceipt", lookup_is_list=False,
    number_fields=("receipt_full_nr", "number"),
    series_setting="receipt_series_id", series_required=False,
    # getReceipts rows carry no external_receipt_number: a receipt's file state is never read
    # from a list, so receipts are not prefetched at all.
    prefetched=False,
    pl=PolishName("paragon", "paragon", "paragonu", "paragonów", "utworzony", "zniknął"),
)

# A correction (KS) is a BaseLinker invoice of type "correcting" pointing at the order's normal
# invoice (correcting_to_invoice_id). It shares the invoices' list, lookup and file upload; the
# steps of its own (find the original, create with addInvoiceCorrection, keep the order's number
# field) are in protocol.py, keyed on ``corrects``.
CORRECTION = DocumentKind(
    doc_type="KS", name="correction",
    create_method="addInvoiceCorrection", id_key="invoice_id",
    attach_method="addOrderInvoiceFile", external_number_param="external_invoice_number",
    max_external_number=30,
    list_method="getInvoices", list_key="invoices",
    lookup_method="getInvoices", lookup_is_list=True,
    number_fields=("number",),
    series_setting="correction_series_id", series_required=True,
    prefetched=False,
    pl=PolishName("korekta", "korektę", "korekty", "korekt", "utworzona", "zniknęła"),
    invoice_type="correcting", corrects=INVOICE.name,
)

#: Kinds by RaksSQL document type, in the order runs report them.
KINDS: dict[str, DocumentKind] = {k.doc_type: k for k in (INVOICE, RECEIPT, CORRECTION)}
#: Kinds by BaseLinker name.
BY_NAME: dict[str, DocumentKind] = {k.name: k for k in KINDS.values()}


def kind_of(doc_type: str) -> DocumentKind:
    return KINDS[doc_type]
