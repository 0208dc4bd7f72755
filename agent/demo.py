"""The bundled demo: a demo company database, a local BaseLinker sandbox, one export.

``raksbl demo`` (and ``./demo.sh``) builds, in ``<data dir>/demo``:

* ``F00001.fdb`` — an embedded Firebird database, WIN1250, default layout, with about twenty
  documents with Polish names: invoices and receipts ready to send, and a few with the problems
  shop owners meet (no PDF, empty PDF, a scan instead of a PDF, no order number, an order that
  does not exist, a number too long, a document that belongs to another order);
* a BaseLinker sandbox on 127.0.0.1 with the matching orders, series, statuses and a custom
  order field, one order already carrying an invoice issued by a BaseLinker automation;
* ``raksbl.toml`` pointing at both,

then runs one export and a second one (which must find nothing left to do) and hands every line
it has to say to its caller (only the CLI prints).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from decimal import Decimal
from pathlib import Path
from typing import Callable

from agent import paths, secrets
from agent.notify_policy import plural

DEMO_TOKEN = "demo-token-0000"
DEMO_PASSWORD = "masterkey"
INVOICE_SERIES = 15
CORRECTION_SERIES = 40
RECEIPT_SERIES = 61178
NUMBER_FIELD_ID = 135
STATUS_SENT_ORDER = 3001

BUYERS = [
    ("Zakład Usług Źródlanych „Ślęża” Sp. z o.o.", "8992736151"),
    ("Pracownia Ceramiki Łączna", "5213870274"),
    ("Hurtownia Żółć i Spółka", "7751001452"),
    ("Grzegorz Brzęczyszczykiewicz", ""),
    ("Małgorzata Świętokrzyska", ""),
    ("Księgarnia Ósemka s.c.", "6762468712"),
    ("Piekarnia Kłos — Jędrzejów", "6561551525"),
    ("Ewa Żądło-Nowak", ""),
]


def _order_fields(name: str, nip: str, total: Decimal, order_date: int) -> dict:
    return {
        "invoice_fullname": name if not nip else "",
        "invoice_company": name if nip else "",
        "invoice_nip": nip,
        "email": "klient@example.pl",
        "currency": "PLN",
        "order_status_id": 3000,
        "date_add": order_date,
        "date_confirmed": order_date,
        "want_invoice": "1" if nip else "0",
        "delivery_price": 0,
        "products": [{"name": "Towar demonstracyjny", "sku": "DEMO-1", "price_brutto": float(total), "quantity": 1,
                      "tax_rate": 23}],
    }


def build_demo(base: Path):
    """Create the database, the sandbox state and the settings file; return (settings_path, state, expectations)."""
    from agent.sandbox import SandboxState
    from agent.raks import schema
    from agent.settings import write_default_settings

    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    db_path = base / "F00001.fdb"
    schema.create_company_database(str(db_path), "SYSDBA", DEMO_PASSWORD)

    state = SandboxState(token=DEMO_TOKEN, requests_per_minute=100)
    state.add_series(INVOICE_SERIES, "INVOICE", "Faktury", "%N/%M/%Y")
    state.add_series(RECEIPT_SERIES, "RECEIPT", "Paragony", "PAR/%N/%Y")
    state.add_series(CORRECTION_SERIES, "CORRECTION", "Korekty", "KOR/%N/%M/%Y")
    state.add_order_status(3000, "Nowe zamówienie")
    state.add_order_status(STATUS_SENT_ORDER, "Dokument wysłany")
    state.add_extra_field(NUMBER_FIELD_ID, "Numer dokumentu RaksSQL")

    today = dt.date.today()
    month = f"{today.month:02d}/{today.year}"
    now = int(time.time()) - 86400
    conn = schema.connect(str(db_path), "SYSDBA", DEMO_PASSWORD)
    notes: list[str] = []
    try:
        def doc(doc_type, nr, buyer, total, *, order=True, status=2, pdf="default", sygnatura=None, number=None,
                order_total=None):
            name, nip = buyer
            number = number or f"{doc_type} {nr}/{month}/MAG"
            order_id = None
            if order:
                order_id = state.add_order(**_order_fields(name, nip, order_total or total, now))
            kwargs = {}
            if pdf != "default":
                kwargs["pdf"] = pdf
            doc.last_id = schema.add_document(
                conn, doc_type=doc_type, number=number, status_id=status,
                sygnatura=sygnatura if sygnatura is not None else (f"BL {order_id}" if order_id else ""),
                issue_date=today, buyer_name=name, buyer_nip=nip if doc_type == "FS" else "",
                total_gross=Decimal(total), **kwargs,
            )
            return order_id

        for i in range(7):
            doc("FS", i + 1, BUYERS[i % len(BUYERS)], f"{129 + 37 * i}.99")
            if i == 0:  # a return: its correction (KS) goes after the invoice, to the same order
                schema.insert_correction(conn, invoice_id=doc.last_id, number=f"KOR 1/{month}/MAG",
                                         issue_date=today, total_gross=Decimal("-129.99"))
        for i in range(5):
            doc("PA", i + 1, BUYERS[(i + 3) % len(BUYERS)], f"{19 + 11 * i}.50")
        auto = doc("FS", 8, BUYERS[5], "1450.00")
        state.add_invoice(auto, INVOICE_SERIES)  # issued by a BaseLinker automation: adopted, not duplicated
        notes.append(f"zamówienie {auto} miało już fakturę BaseLinker (automat) — PDF dołączono do niej")
        doc("FS", 9, BUYERS[6], "310.00", pdf=None)
        doc("FS", 10, BUYERS[0], "99.00", pdf=b"")
        doc("FS", 11, BUYERS[1], "88.00", pdf=b"\xff\xd8\xff\xe0 skan faktury w JPEG")
        doc("FS", 12, BUYERS[2], "77.00", order=False, sygnatura="do uzupełnienia")
        doc("FS", 13, BUYERS[3], "66.00", order=False, sygnatura="BL 9999999")
        doc("FS", 14, BUYERS[4], "55.00", number=f"FS 14/{month}/MAGAZYN-CENTRALNY-ŁÓDŹ")
        doc("FS", 15, BUYERS[5], "512.00", order_total=Decimal("1999.00"))
        doc("FS", 16, BUYERS[6], "44.00", status=1)  # status "Nowy": not for sending
        doc("PA", 6, BUYERS[7], "12.00", status=3)  # already sent earlier
    finally:
        conn.close()

    settings_path = base / "raksbl.toml"
    write_default_settings(
        settings_path,
        **{
            "raks.database": str(db_path),
            "baselinker.invoice_series_id": INVOICE_SERIES,
            "baselinker.receipt_series_id": RECEIPT_SERIES,
            "baselinker.correction_series_id": CORRECTION_SERIES,
            "raks.document_types": ["FS", "PA", "KS"],
            "baselinker.number_field": f"custom:{NUMBER_FIELD_ID}",
            "baselinker.order_status_on_success": STATUS_SENT_ORDER,
        },
    )
    return settings_path, state, notes


def run_demo(say: Callable[[str], None], keep_running: bool = False, base: Path | None = None) -> int:
    """Build the demo, run two exports, pass each line to ``say`` as it happens; 0 when all went well."""
    from agent.sandbox import SandboxServer
    from agent.export.report import format_result_line, format_summary
    from agent.export.journal import Journal
    from agent.export.run import run_export
    from agent.settings import load_settings, update_settings

    base = base or paths.data_dir() / "demo"
    say(f"Tworzę firmę demonstracyjną w {base} ...")
    settings_path, state, notes = build_demo(base)
    os.environ[secrets.env_var(secrets.BASELINKER_TOKEN)] = DEMO_TOKEN
    os.environ[secrets.env_var(secrets.RAKS_PASSWORD)] = DEMO_PASSWORD
    with SandboxServer(state).start() as server:
        settings = update_settings(settings_path, {"baselinker.api_url": server.url})
        say(f"Piaskownica BaseLinker: {server.base_url} (stan: {server.base_url}/_state)")
        say(f"Baza RaksSQL (embedded): {settings.raks.database}\n")
        with Journal(base / "journal.sqlite3") as journal:
            say("== Wysyłka 1 ==")
            first = run_export(settings, trigger="cli", journal=journal)
            for result in first.results:
                say(format_result_line(result))
            say(format_summary(first))
            for note in notes:
                say(f"  • {note}")
            say("\n== Wysyłka 2 (nic nowego: nic nie powinno pójść drugi raz) ==")
            second = run_export(load_settings(settings_path), trigger="cli", journal=journal)
            for result in second.results:
                say(format_result_line(result))
            say(format_summary(second))
        snapshot = state.snapshot()
        invoices, receipts = snapshot.get("invoices", []), snapshot.get("receipts", [])
        say(f"\nW piaskownicy: {len(invoices)} {plural(len(invoices), 'faktura', 'faktury', 'faktur')}, "
              f"{len(receipts)} {plural(len(receipts), 'paragon', 'paragony', 'paragonów')}, "
              f"w tym faktury z PDF z RaksSQL: {sum(1 for i in invoices if i.get('external_invoice_number'))}.")
        say(f"Pliki demo: {base}  (ustawienia: {settings_path})")
        if keep_running:
            say(f"\nPiaskownica działa dalej: RAKSBL_CONFIG={settings_path} "
                  f"RAKSBL_BASELINKER_TOKEN={DEMO_TOKEN} RAKSBL_RAKS_PASSWORD={DEMO_PASSWORD} raksbl ...  "
                  "(Ctrl+C kończy)")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    duplicates = [o for o in {i["order_id"] for i in invoices}
                  if sum(1 for i in invoices if i["order_id"] == o and i.get("type", "normal") == "normal") > 1]
    sent_again = len(second.sent)
    ok = not duplicates and sent_again == 0 and len(first.sent) > 0
    say("\nWynik pokazu: " + ("OK — każdy poprawny dokument wysłany dokładnie raz, problemy opisane."
                                if ok else "COŚ POSZŁO NIE TAK (szczegóły wyżej)."))
    return 0 if ok else 1
