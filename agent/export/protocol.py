"""The export of one document: RaksSQL invoice/receipt → BaseLinker order, exactly once.

Algorithm (each numbered step ends at a durable recovery point in the journal)::

    0. claim the document row in RaksSQL (SELECT ... WITH LOCK, NO WAIT) and re-check that it
       is still in a "to send" status. The row lock keeps a second agent or run away from it;
       a lock held by a RaksSQL user defers the document to the next run.
       Validate locally: order id, number length, PDF present, non-empty, starts with %PDF-.
    1. the order exists in BaseLinker (and plausibly is this document's order);
    2. find or create the BaseLinker invoice (FS) / receipt (PA) on the order:
         - one carrying our external number          → ours, already attached: reuse
         - exactly one without an external file      → adopt it (automations issue them)
         - one with a *different* external number    → refuse, never overwrite
         - none                                      → journal "creating", then addInvoice /
                                                       addReceipt, journal "created" + id
       Lists (the batch prefetch) only *find* documents; "none" needs a per-order lookup
       (getInvoices(order_id) / getReceipt(order_id)) made right before the create. A receipt's
       file state comes only from getReceipt. Two documents carrying our number → in doubt.
       A create whose answer was lost is never re-sent blind: the order is looked up again and
       what appeared there is adopted. One that may still run at BaseLinker (timeout, gateway
       5xx) holds the document until a lookup sees its result or LATE_CREATE_QUARANTINE passed.
    3. attach the PDF under the RaksSQL number                      → journal "attached"
    4. write the number into the chosen order field, set the order status → "bl_done"
    5. set the RaksSQL status (conditional, same transaction as the lock), commit → "done"

Invariants: at most one BaseLinker invoice/receipt per document (whatever crashes, whatever
answer gets lost, whether or not the journal survives); a document is either done, visibly
failed / in doubt, or still pending in RaksSQL — never silently dropped. Steps 3–5 are
repeatable, so resuming after a crash simply repeats them.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
from decimal import Decimal

from agent.baselinker.client import pdf_data_uri
from agent.baselinker.errors import ApiRefusal, BaseLinkerError, TransportError
from agent.errors import RaksblError, RunAborted
from agent.export.dbkey import database_key
from agent.export.journal import Journal, JournalEntry
from agent.export.kinds import DocumentKind, kind_of
from agent.export.orders import BLDocument, OrderBook, order_total
from agent.export.results import Outcome
from agent.export.states import HAS_BL_DOCUMENT, State
from agent.notify_policy import documents, plural
from agent.raks.pdf_source import PdfFileProblem, PdfNotReady
from agent.raks.repository import Document, RowLocked
from agent.settings import Settings

log = logging.getLogger(__name__)

# BaseLinker's limits for the external number (kinds.py) are all below the order fields' 50
# characters, so a number that passes _validate always fits the number field too.


class DocumentFailure(RaksblError):
    """This document cannot be sent now; the message tells the shop owner why."""


class OriginalNotSent(DocumentFailure):
    """A correction whose invoice is not in BaseLinker yet: fails alone, retried next run."""


class DocumentInDoubt(RaksblError):
    """A state the agent cannot settle by itself; a person must look before a retry."""


def crash_point(name: str) -> None:
    """Test hook: ``RAKSBL_CRASH_AT=<name>[:<n>]`` kills the process at the n-th pass here."""
    spec = os.environ.get("RAKSBL_CRASH_AT")
    if not spec:
        return
    point, _, nth = spec.partition(":")
    if point != name:
        return
    count = crash_point.counts.get(name, 0) + 1  # type: ignore[attr-defined]
    crash_point.counts[name] = count  # type: ignore[attr-defined]
    if count >= int(nth or 1):
        log.warning("crash point %s reached: killing the process (test hook)", name)
        os.kill(os.getpid(), signal.SIGKILL)


crash_point.counts = {}  # type: ignore[attr-defined]


def _digits(text: str | None) -> str:
    return "".join(ch for ch in (text or "") if ch.isdigit())


class DocumentExporter:
    """Runs the protocol for documents of one run (shares the order cache and clients)."""

    def __init__(self, settings: Settings, repo, client, journal: Journal, *, run_id: str, dry_run: bool = False,
                 invoice_series_id: int | None = None, correction_series_id: int | None = None):
        self.settings = settings
        # addInvoice's series: the setting, or the account's first INVOICE series resolved for
        # invoice_series_id = 0 (account.py); never an addInvoice without series_id.
        self.invoice_series_id = invoice_series_id or settings.baselinker.invoice_series_id
        self.correction_series_id = correction_series_id or settings.baselinker.correction_series_id
        # KS: the BaseLinker id of the invoice each correction corrects (found in step 2).
        self._originals: dict[tuple[str, int], int] = {}
        # Dry run: invoices (number, order) this run would send, so their corrections would follow.
        self._dry_run_invoices: set[tuple[str, int | None]] = set()
        self.repo = repo
        self.client = client
        self.journal = journal
        self.run_id = run_id
        self.dry_run = dry_run
        self.orders = OrderBook(client)
        self.database_key = database_key(settings, repo, journal)
        # Orders confirmed to belong to their document in this run: the only ones whose status
        # we may change after a failure (never touch an order that may be someone else's).
        self._verified_orders: set[int] = set()

    def series_id(self, kind: DocumentKind) -> int | None:
        """The numbering series a create of ``kind`` sends (None/0: BaseLinker's default)."""
        if kind.series_setting == "invoice_series_id":
            return self.invoice_series_id  # resolved from the account when the setting is 0
        if kind.series_setting == "correction_series_id":
            return self.correction_series_id  # likewise
        return getattr(self.settings.baselinker, kind.series_setting)

    # -- entry points --------------------------------------------------------------------
    def precheck(self, doc: Document) -> Outcome | None:
        """An outcome decided by the journal alone (skipped / in doubt), else None."""
        entry = self.journal.get(self.database_key, doc.doc_type, doc.raks_id)
        if entry is None:
            return None
        if entry.state == State.SKIPPED:
            return Outcome("skipped", "pominięty na żądanie użytkownika")
        if entry.state == State.IN_DOUBT and not entry.retry_allowed:
            return Outcome("in_doubt", entry.error or "wymaga sprawdzenia")
        return None

    def claim(self, doc: Document):
        """Lock the document in RaksSQL: a Claim, or an Outcome when it cannot be worked on now."""
        try:
            claim = self.repo.claim(doc)
        except RowLocked as exc:
            return Outcome("deferred", str(exc))
        if not claim.still_to_send:
            claim.rollback()
            return Outcome("skipped", "status dokumentu zmieniono w RaksSQL w trakcie wysyłki")
        return claim

    def prefetch(self, docs: list[Document]) -> None:
        """Read what BaseLinker knows about these documents' orders with a few list calls."""
        wanted: dict[int, set[str]] = {}
        for doc in docs:
            if doc.order_id is not None and doc.has_pdf:
                wanted.setdefault(doc.order_id, set()).add(kind_of(doc.doc_type).name)
        self.orders.prefetch(wanted)

    def export(self, doc: Document, claim=None) -> Outcome:
        """Export one document; per-document problems become an Outcome, run-level ones raise.

        ``claim`` is the document's lock from :meth:`claim`, taken by a caller that already ran
        :meth:`precheck`; without it both happen here.
        """
        if claim is None:
            decided = self.precheck(doc)
            if decided is not None:
                return decided
            if self.dry_run:
                return self._dry_run(doc)
            claim = self.claim(doc)
            if isinstance(claim, Outcome):
                return claim
        entry = self.journal.ensure(self.database_key, doc.doc_type, doc.raks_id, doc.number, doc.order_id)
        with claim:
            try:
                return self._export_claimed(doc, entry, claim)
            except PdfNotReady as exc:
                # The printout file is still being written: nothing happened yet, next run.
                return Outcome("deferred", str(exc))
            except OriginalNotSent as exc:
                # Not the correction's fault: no error statuses, the next run tries it again.
                reason = str(exc)
                self.journal.mark(entry, State.FAILED, run_id=self.run_id, error=reason, retry_allowed=False)
                return Outcome("failed", reason)
            except DocumentInDoubt as exc:
                self.journal.mark(entry, State.IN_DOUBT, run_id=self.run_id, error=str(exc), retry_allowed=False)
                return Outcome("in_doubt", str(exc))
            except (DocumentFailure, ApiRefusal) as exc:
                reason = str(exc)
                self._after_failure(doc, entry, claim, reason)
                return Outcome("failed", reason)

    # -- the protocol ----------------------------------------------------------------------
    def _validate(self, doc: Document) -> bytes:
        kind = kind_of(doc.doc_type)
        if doc.order_id is None:
            raise DocumentFailure(
                f"brak numeru zamówienia BaseLinker w dokumencie (sygnatura: {doc.order_ref or 'pusta'!r})"
            )
        limit = kind.max_external_number
        if len(doc.number) > limit:
            raise DocumentFailure(
                f"numer {doc.number!r} ma {len(doc.number)} {plural(len(doc.number), 'znak', 'znaki', 'znaków')}, "
                f"a BaseLinker przyjmuje najwyżej {limit} dla pola numeru ({kind.pl.nominative})"
            )
        if not doc.has_pdf:
            if doc.pdf_path:
                raise DocumentFailure(f"brak pliku PDF {doc.pdf_path} — zapisz wydruk dokumentu w tym miejscu")
            raise DocumentFailure("brak PDF — wygeneruj wydruk dokumentu w RaksSQL")
        try:
            pdf = self.repo.read_pdf(doc)
        except PdfFileProblem as exc:
            raise DocumentFailure(str(exc)) from None
        if pdf is None:
            raise DocumentFailure("brak PDF — wygeneruj wydruk dokumentu w RaksSQL")
        if len(pdf) == 0:
            raise DocumentFailure("PDF dokumentu jest pusty (0 bajtów) — wygeneruj go ponownie")
        if not pdf.startswith(b"%PDF-"):
            raise DocumentFailure("zapisany wydruk nie jest plikiem PDF — wygeneruj go ponownie")
        return pdf

    def _check_order(self, doc: Document, order_id: int) -> dict:
        order = self.orders.order(order_id)
        if order is None:
            raise DocumentFailure(f"zamówienie {order_id} nie istnieje w BaseLinker")
        if not self.settings.baselinker.verify_order:
            self._verified_orders.add(order_id)
            return order
        doc_nip, order_nip = _digits(doc.buyer_nip), _digits(order.get("invoice_nip"))
        if doc_nip and order_nip and doc_nip != order_nip:
            raise DocumentFailure(
                f"zamówienie {order_id} w BaseLinker ma NIP nabywcy {order.get('invoice_nip')}, a dokument {doc.buyer_nip} — "
                "to chyba nie to zamówienie (sprawdź sygnaturę)"
            )
        currency = (order.get("currency") or "").upper()
        # A correction's total is a difference, not the order's: its invoice vouches for the order.
        if currency and not kind_of(doc.doc_type).corrects and currency == doc.currency.upper() and order.get("products"):
            total = order_total(order)
            tolerance = max(Decimal("1.00"), abs(doc.total_gross) * Decimal("0.01"))
            if abs(total - doc.total_gross) > tolerance:
                raise DocumentFailure(
                    f"kwota zamówienia {order_id} w BaseLinker ({total:.2f} {currency}) różni się od kwoty dokumentu "
                    f"({doc.total_gross:.2f} {doc.currency}) — to chyba nie to zamówienie (sprawdź sygnaturę)"
                )
        self._verified_orders.add(order_id)
        return order

    def _original(self, doc: Document, order_id: int) -> int:
        """KS: the BaseLinker id of the order's normal invoice carrying the corrected FS's number.

        Read from the per-order lookup when the cache does not show it, so "not there" is sure.
        """
        if not doc.corrects_number:
            raise DocumentFailure("korekta nie wskazuje faktury, którą koryguje (brak powiązania z fakturą w RaksSQL)")
        for fresh in (False, True):
            if fresh and self.orders.confirmed("invoice", order_id):
                break
            found = [d for d in self.orders.documents("invoice", order_id, fresh=fresh)
                     if d.external_number == doc.corrects_number]
            if len(found) > 1:
                raise DocumentInDoubt(
                    f"zamówienie {order_id} ma {documents(len(found))} BaseLinker z numerem {doc.corrects_number} — "
                    "nie wiem, którą korygować; usuń zbędną")
            if found:
                self._originals[doc.key] = found[0].id
                return found[0].id
        raise OriginalNotSent(
            f"najpierw musi zostać wysłana faktura {doc.corrects_number} do zamówienia {order_id} — "
            "korektę wyślę przy następnym uruchomieniu, gdy faktura będzie w BaseLinker")

    def _find_correction(self, doc: Document, entry: JournalEntry, docs: list[BLDocument]) -> BLDocument | None:
        """Step 2 for a KS, over the order's correcting invoices. Several corrections of one
        invoice are normal, so ones carrying another KS number are never "in the way"; a
        correction without a file is adopted (as invoices adopt one: our lost create, a lost
        journal, a hand-made twin) when it is the only one the journal gives to no other KS."""
        original = self._originals.get(doc.key, 0)
        docs = [d for d in docs if d.corrects == original]
        ours = [d for d in docs if d.external_number == doc.number or (entry.bl_doc_id and d.id == entry.bl_doc_id)]
        if len(ours) > 1:
            numbers = ", ".join(_label(d) for d in ours)
            raise DocumentInDoubt(
                f"zamówienie {doc.order_id} ma kilka korekt BaseLinker dla {doc.number} ({numbers}) — "
                "usuń zbędną, zanim wyślesz ponownie")
        if ours:
            return ours[0]
        if entry.bl_doc_id and entry.state in HAS_BL_DOCUMENT:
            raise DocumentInDoubt(
                f"korekta BaseLinker o id {entry.bl_doc_id} utworzona wcześniej dla tego dokumentu zniknęła "
                f"z zamówienia {doc.order_id} — sprawdź zamówienie, zanim wyślesz ponownie")
        # A correction without a file: ours if our create's answer was lost ("creating"), or if
        # the journal was lost after a create; never one the journal gives to another KS.
        others = self.journal.bl_doc_ids(self.database_key, doc.doc_type, besides=entry.id) if entry.id else set()
        free = [d for d in docs if not d.has_external_file and d.id not in others]
        if len(free) > 1:
            raise DocumentInDoubt(
                f"zamówienie {doc.order_id} ma kilka korekt BaseLinker bez pliku — nie wiem, która jest "
                f"korektą {doc.number}; usuń zbędne i wyślij ponownie")
        return free[0] if free else None

    def _find_target(self, doc: Document, entry: JournalEntry, docs: list[BLDocument]) -> BLDocument | None:
        """Step 2's decision over what the order carries now. None = nothing to adopt: create."""
        if kind_of(doc.doc_type).corrects:
            return self._find_correction(doc, entry, docs)
        pl = kind_of(doc.doc_type).pl
        ours = [d for d in docs if d.external_number == doc.number or (entry.bl_doc_id and d.id == entry.bl_doc_id)]
        if len(ours) > 1:
            # Two BaseLinker documents for one RaksSQL document (e.g. a create that BaseLinker
            # carried out late, after another was made): a person must remove one.
            numbers = ", ".join(_label(d) for d in ours)
            raise DocumentInDoubt(
                f"zamówienie {doc.order_id} ma {documents(len(ours))} BaseLinker dla {doc.number} ({numbers}) — "
                "usuń zbędny, zanim wyślesz ponownie"
            )
        if ours:
            return ours[0]
        foreign = [d for d in docs if d.has_external_file]
        free = [d for d in docs if not d.has_external_file]
        if foreign and not free:
            raise DocumentFailure(
                f"zamówienie {doc.order_id} ma już {pl.accusative} z innym dokumentem zewnętrznym "
                f"({foreign[0].external_number!r}) — nie nadpisuję; sprawdź zamówienie"
            )
        if entry.bl_doc_id and entry.state in HAS_BL_DOCUMENT:
            raise DocumentInDoubt(
                f"{pl.nominative} BaseLinker o id {entry.bl_doc_id} "
                f"{pl.created} wcześniej dla tego dokumentu "
                f"{pl.vanished} z zamówienia {doc.order_id} — sprawdź "
                "zamówienie, zanim wyślesz ponownie"
            )
        if len(free) == 1:
            return free[0]
        if len(free) > 1:
            raise DocumentInDoubt(
                f"zamówienie {doc.order_id} ma {documents(len(free))} BaseLinker bez pliku — nie wiem, do którego "
                "dołączyć PDF; usuń zbędne i wyślij ponownie"
            )
        return None

    def _create(self, doc: Document, entry: JournalEntry) -> tuple[BLDocument, JournalEntry]:
        kind = kind_of(doc.doc_type)
        params: dict = {"order_id": doc.order_id}
        if kind.corrects:
            # addInvoiceCorrection takes the original, not the order; what RaksSQL knows besides
            # is the date (midday UTC, so no time zone moves it to another day).
            params = {"original_invoice_id": self._originals[doc.key],
                      "date_sell": int(dt.datetime.combine(doc.issue_date, dt.time(12), dt.timezone.utc).timestamp())}
        method, id_key, series = kind.create_method, kind.id_key, self.series_id(kind)
        if kind.series_required and not series:  # never rely on an undocumented default
            raise DocumentFailure(
                f"brak serii numeracji {kind.pl.genitive_plural} ({kind.series_setting_key}) — uruchom raksbl doctor")
        if series:
            params["series_id"] = series
        entry = self.journal.mark(entry, State.CREATING, run_id=self.run_id, attempts=entry.attempts + 1)
        crash_point("before_create")
        sent_at = self.journal.now()
        try:
            answer = self.client.call(method, **params)
        except TransportError as exc:
            # The create may have happened: never send it again blind, look it up.
            log.warning("%s for %s: no answer (%s); looking the order up", method, doc.number, exc)
            docs = self.orders.documents(kind.name, doc.order_id, fresh=True)
            target = self._find_target(doc, entry, docs)
            if target is None:
                # Nothing appeared (yet). Leave "creating": the next run looks again before
                # creating, so a late-appearing document is adopted. After a timeout the server
                # may still be executing the call: hold the document until a lookup sees what
                # the call made, or until the quarantine has passed (see _late_create_hold).
                if exc.may_still_run:
                    self.journal.mark(entry, State.CREATING, run_id=self.run_id, late_create_since=sent_at,
                                      error=f"{LATE_CREATE_NOTE}: {exc.message}")
                raise
            log.info("%s for %s: adopted %s %s found after the lost answer", method, doc.number, target.kind, target.id)
            entry = self.journal.mark(entry, State.CREATED, run_id=self.run_id, bl_doc_id=target.id)
            return target, entry
        new_id = int(answer.get(id_key) or 0)
        if not new_id:
            raise DocumentInDoubt(f"BaseLinker nie zwrócił identyfikatora po {method} — sprawdź zamówienie {doc.order_id}")
        entry = self.journal.mark(entry, State.CREATED, run_id=self.run_id, bl_doc_id=new_id)
        crash_point("after_create")
        created = BLDocument(kind.name, new_id, doc.order_id, "", "", int(series or 0),
                             corrects=self._originals.get(doc.key, 0))
        known = self.orders.documents(kind.name, doc.order_id) if kind.corrects else []
        self.orders.remember_documents(kind.name, doc.order_id, [*known, created])
        return created, entry

    def _export_claimed(self, doc: Document, entry: JournalEntry, claim) -> Outcome:
        pdf = self._validate(doc)
        order_id = doc.order_id
        assert order_id is not None
        order = self._check_order(doc, order_id)
        spec = kind_of(doc.doc_type)
        kind = spec.name
        if spec.corrects:
            self._original(doc, order_id)

        # Step 2: find or create. After an unknown create outcome, read fresh; so too when the
        # journal already names our BaseLinker document (a resume or a re-send), since only the
        # per-order lookup may say that it is gone.
        docs = self.orders.documents(kind, order_id, fresh=_needs_lookup(entry))
        target = self._find_target(doc, entry, docs)
        created = False
        if target is None:
            hold = self._late_create_hold(entry)
            if hold > 0:
                until = dt.datetime.fromtimestamp(self.journal.now() + hold).strftime("%H:%M")
                return Outcome(
                    "deferred",
                    f"BaseLinker nie odpowiedział na utworzenie {spec.pl.genitive} i może je jeszcze wykonać — czekam, "
                    f"aż {spec.pl.nominative} pojawi się w zamówieniu {order_id} (najdłużej do {until})",
                )
            if not self.orders.confirmed(kind, order_id):
                # A list not showing a document does not mean there is none: confirm with the
                # per-order lookup right before creating.
                docs = self.orders.documents(kind, order_id, fresh=True)
                target = self._find_target(doc, entry, docs)
        if target is None:
            if entry.state == State.CREATING:
                log.info("%s: the earlier create left nothing on order %s; creating now", doc.number, order_id)
            target, entry = self._create(doc, entry)
            created = True
        elif entry.bl_doc_id != target.id or entry.state in (
                State.PENDING, State.FAILED, State.CREATING, State.IN_DOUBT):
            entry = self.journal.mark(entry, State.CREATED, run_id=self.run_id, bl_doc_id=target.id)

        # Step 3: attach the PDF (repeatable; skipped when BaseLinker already shows our number,
        # unless the document came back after it was sent: see _resending).
        resend = self._resending(entry)
        if target.external_number != doc.number or resend:
            data = pdf_data_uri(pdf)
            del pdf
            self.client.call(
                spec.attach_method, **{spec.id_key: target.id, "file": data, spec.external_number_param: doc.number}
            )
            del data
            attached = BLDocument(kind, target.id, order_id, target.number, doc.number, target.series_id,
                                  corrects=target.corrects)
            others = [d for d in self.orders.documents(kind, order_id) if d.id != target.id] if spec.corrects else []
            self.orders.remember_documents(kind, order_id, [*others, attached])
        entry = self.journal.mark(entry, State.ATTACHED, run_id=self.run_id, bl_doc_id=target.id,
                                  bl_number=target.number or None, message=RESEND_NOTE if resend else None)
        crash_point("after_attach")

        # Step 4: order field and order status (repeatable; skipped when already so).
        self._write_number(doc, order)
        status = self.settings.baselinker.order_status_on_success
        if status and _int(order.get("order_status_id")) != status:
            self.client.call("setOrderStatus", order_id=order_id, status_id=status)
        entry = self.journal.mark(entry, State.BL_DONE, run_id=self.run_id)
        crash_point("after_bl_done")

        # Step 5: RaksSQL status, conditional, in the transaction holding the row lock.
        changed = claim.set_status(self.settings.raks.status_after_send)
        claim.commit()
        crash_point("after_status")
        note = None if changed else "status w RaksSQL zmieniono w międzyczasie — zostawiam go"
        self.journal.mark(
            entry, State.DONE, run_id=self.run_id, sent_at=self.journal.now(), retry_allowed=False, message=note
        )
        if resend and not note:
            note = RESEND_NOTE
        return Outcome("sent", note or "", bl_doc_id=target.id, bl_number=target.number or None, created=created)

    @staticmethod
    def _resending(entry: JournalEntry) -> bool:
        """The document was sent, yet the user set it back to a "to send" status.

        That means "send the current PDF again" (e.g. the invoice was corrected and its printout
        regenerated): the PDF is attached again to the same BaseLinker document, never a new one
        (_find_target refuses when that document is gone). The journal's history keeps both.
        """
        return entry.state == State.DONE

    def _late_create_hold(self, entry: JournalEntry) -> float:
        """Seconds this document must still wait before a create may follow one that timed out.

        A request we stopped waiting for may still run at BaseLinker and create the document
        later: Cloudflare cuts a request at 100 s, but the origin may finish it well after that
        (and after our own timeout). Creating again before it ended would make a second
        document. So the document is held: every run looks the order up (fresh) and adopts
        what the late request made; only when nothing appeared for LATE_CREATE_QUARANTINE after
        the request was sent does a run create again.
        """
        if entry.state != State.CREATING or entry.late_create_since is None:
            return 0.0
        return entry.late_create_since + late_create_quarantine() - self.journal.now()

    def _write_number(self, doc: Document, order: dict) -> None:
        bl = self.settings.baselinker
        if bl.number_field == "none" or kind_of(doc.doc_type).corrects:
            # The order's number field keeps the invoice number: a correction never overwrites it.
            return
        custom = bl.custom_field_id
        if custom is not None:
            current = (order.get("custom_extra_fields") or {}).get(str(custom))
            if current == doc.number:
                return
            self.client.call("setOrderFields", order_id=doc.order_id, custom_extra_fields={str(custom): doc.number})
        else:
            if order.get(bl.number_field) == doc.number:
                return
            self.client.call("setOrderFields", order_id=doc.order_id, **{bl.number_field: doc.number})

    def _after_failure(self, doc: Document, entry: JournalEntry, claim, reason: str) -> None:
        """Record a per-document failure; apply the user's error statuses if they chose them."""
        log.warning("%s %s (order %s) failed: %s", doc.doc_type, doc.number, doc.order_id, reason)
        self.journal.mark(entry, State.FAILED, run_id=self.run_id, error=reason, retry_allowed=False)
        error_status = self.settings.raks.status_on_error
        if error_status:
            try:
                claim.set_status(error_status)
                claim.commit()
            except RaksblError as exc:
                log.warning("could not set the error status of %s: %s", doc.number, exc)
        bl_status = self.settings.baselinker.order_status_on_error
        if bl_status and doc.order_id in self._verified_orders:
            try:
                self.client.call("setOrderStatus", order_id=doc.order_id, status_id=bl_status)
            except BaseLinkerError as exc:
                if isinstance(exc, RunAborted):
                    raise
                log.warning("could not set the error status of order %s: %s", doc.order_id, exc)

    # -- dry run ---------------------------------------------------------------------------
    def _dry_run(self, doc: Document) -> Outcome:
        """What a real run would do, reading only (no claim, no journal, no writes)."""
        try:
            self._validate(doc)
            assert doc.order_id is not None
            self._check_order(doc, doc.order_id)
            if kind_of(doc.doc_type).corrects:
                try:
                    self._original(doc, doc.order_id)
                except OriginalNotSent:
                    if (doc.corrects_number, doc.order_id) not in self._dry_run_invoices:
                        raise
                    # Its invoice goes first in the same run: the correction would follow it.
                    series = self.series_id(kind_of(doc.doc_type))
                    return Outcome("would_send", f"po wysłaniu faktury {doc.corrects_number} utworzy korektę "
                                                 f"BaseLinker (seria {series or 'domyślna'}) i dołączy PDF")
            entry = self.journal.get(self.database_key, doc.doc_type, doc.raks_id) or JournalEntry(
                0, self.database_key, doc.doc_type, doc.raks_id, doc.number, doc.order_id, State.PENDING,
                None, None, None, 0, False, 0.0, 0.0, None,
            )
            kind = kind_of(doc.doc_type).name
            target = self._find_target(doc, entry, self.orders.documents(kind, doc.order_id, fresh=_needs_lookup(entry)))
            if target is None and not self.orders.confirmed(kind, doc.order_id):
                # As before a real create: a list not showing a document proves nothing.
                target = self._find_target(doc, entry, self.orders.documents(kind, doc.order_id, fresh=True))
        except PdfNotReady as exc:
            return Outcome("deferred", str(exc))
        except DocumentInDoubt as exc:
            return Outcome("in_doubt", str(exc))
        except (DocumentFailure, ApiRefusal) as exc:
            return Outcome("failed", str(exc))
        if doc.doc_type == "FS":
            self._dry_run_invoices.add((doc.number, doc.order_id))
        if target is None:
            spec = kind_of(doc.doc_type)
            series = self.series_id(spec)
            what = f"utworzy {spec.pl.accusative} BaseLinker (seria {series or 'domyślna'}) i dołączy PDF"
        elif entry.state == State.DONE:
            what = f"ponownie dołączy aktualny PDF do dokumentu BaseLinker {target.number or target.id}"
        elif target.external_number == doc.number:
            what = f"PDF już jest w BaseLinker ({target.number or target.id}); tylko uzupełni statusy"
        else:
            what = f"dołączy PDF do istniejącego dokumentu BaseLinker {target.number or target.id}"
        return Outcome("would_send", what, bl_doc_id=target.id if target else None, bl_number=target.number if target else None)


LATE_CREATE_NOTE = "brak odpowiedzi na utworzenie (limit czasu)"
RESEND_NOTE = "ponownie dołączono aktualny PDF (dokument wrócił do statusu do wysłania)"

#: How long after a create that timed out no other create is sent for the document (seconds).
#: 30 minutes: 18 times Cloudflare's 100 s cut and 3 times the longest request timeout the
#: settings allow (600 s); a PHP request still running after that is not plausible, while a shop owner still
#: gets the document sent the same hour. Any lookup that sees the late document ends it early.
LATE_CREATE_QUARANTINE = 30 * 60.0


def late_create_quarantine() -> float:
    """LATE_CREATE_QUARANTINE, or the test hook ``RAKSBL_TEST_LATE_CREATE_QUARANTINE`` (seconds;
    the fault soak, whose sandbox runs late requests at most a few seconds late)."""
    value = os.environ.get("RAKSBL_TEST_LATE_CREATE_QUARANTINE")
    try:
        return float(value) if value else LATE_CREATE_QUARANTINE
    except ValueError:
        return LATE_CREATE_QUARANTINE


def _needs_lookup(entry: JournalEntry) -> bool:
    """Whether step 2 must read the order's documents with the per-order lookup, not a list:
    after a create with an unknown outcome, and whenever the journal names our BaseLinker
    document (a list that misses it would otherwise look like the document vanished)."""
    return entry.state == State.CREATING or (bool(entry.bl_doc_id) and entry.state in HAS_BL_DOCUMENT)


def _label(d: BLDocument) -> str:
    return d.number or d.external_number or f"id {d.id}"


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
