"""The document-kinds table: every difference between FS and PA is read from one row."""

from agent.export.kinds import BY_NAME, INVOICE, KINDS, RECEIPT
from agent.export.orders import document_from_api


def test_every_kind_is_found_by_raks_type_and_by_baselinker_name():
    assert KINDS["FS"] is INVOICE and KINDS["PA"] is RECEIPT
    for kind in KINDS.values():
        assert BY_NAME[kind.name] is kind
        # the external number must fit BaseLinker's order fields (50 characters) too
        assert 0 < kind.max_external_number <= 50


def test_rows_are_read_with_each_kinds_own_fields():
    invoice = document_from_api(INVOICE, {"invoice_id": "5", "order_id": 7, "number": "FV/1",
                                          "external_invoice_number": "FS 1/2026", "series_id": "3"})
    assert (invoice.kind, invoice.id, invoice.order_id, invoice.number, invoice.external_number,
            invoice.series_id) == ("invoice", 5, 7, "FV/1", "FS 1/2026", 3)
    receipt = document_from_api(RECEIPT, {"receipt_id": 9, "order_id": 7, "receipt_full_nr": "PAR/2",
                                          "number": "2", "external_receipt_number": "PA 2"})
    assert (receipt.kind, receipt.id, receipt.number, receipt.external_number) == ("receipt", 9, "PAR/2", "PA 2")
    # a receipt without its full number falls back to the short one
    assert document_from_api(RECEIPT, {"receipt_id": 9, "number": "2"}).number == "2"


def test_polish_forms_agree_with_the_kinds_gender():
    assert f"{INVOICE.pl.nominative} {INVOICE.pl.created} wcześniej {INVOICE.pl.vanished}" == \
        "faktura utworzona wcześniej zniknęła"
    assert f"{RECEIPT.pl.nominative} {RECEIPT.pl.created} wcześniej {RECEIPT.pl.vanished}" == \
        "paragon utworzony wcześniej zniknął"
    assert (INVOICE.pl.accusative, RECEIPT.pl.accusative) == ("fakturę", "paragon")
    assert (INVOICE.pl.genitive, RECEIPT.pl.genitive) == ("faktury", "paragonu")
    assert INVOICE.series_setting_key == "baselinker.invoice_series_id"
