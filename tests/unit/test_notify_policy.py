"""Notification policy: one per run, Polish plurals, modes, no repeats of an unchanged failure."""

from __future__ import annotations

import pytest

from agent.export.results import DocumentRef, DocumentResult, Outcome, RunSummary
from agent.notify_policy import NotifyPolicy, describe_summary, documents, failed_line, in_doubt_line, sent_line


def ref(n):
    return DocumentRef("FS", n, f"FS {n}/2026", 1000 + n)


def sent(*ns):
    return [DocumentResult(ref(n), Outcome("sent", bl_doc_id=500 + n, bl_number=f"BL/{n}")) for n in ns]


def failed(*pairs):
    return [DocumentResult(ref(n), Outcome("failed", reason)) for n, reason in pairs]


def doubtful(n, reason):
    return DocumentResult(ref(n), Outcome("in_doubt", reason))


def summary(sent_=(), failed_=(), in_doubt=(), aborted=None, dry_run=False):
    """A real RunSummary, as run_export returns it (the tray reads nothing else)."""
    return RunSummary("r1", "auto", dry_run, 0.0, results=[*sent_, *failed_, *in_doubt], aborted=aborted)


@pytest.mark.parametrize(
    "n, word",
    [(1, "1 dokument"), (2, "2 dokumenty"), (4, "4 dokumenty"), (5, "5 dokumentów"), (11, "11 dokumentów"),
     (12, "12 dokumentów"), (14, "14 dokumentów"), (21, "21 dokumentów"), (22, "22 dokumenty"),
     (112, "112 dokumentów"), (104, "104 dokumenty"), (0, "0 dokumentów")],
)
def test_polish_plural(n, word):
    assert documents(n) == word


def test_lines():
    assert sent_line(5) == "Wysłano 5 dokumentów do BaseLinker"
    assert sent_line(1) == "Wysłano 1 dokument do BaseLinker"
    assert failed_line(2) == "2 dokumenty nie zostały wysłane"
    assert failed_line(1) == "1 dokument nie został wysłany"
    assert failed_line(5) == "5 dokumentów nie zostało wysłanych"
    assert in_doubt_line(3) == "3 dokumenty wymagają sprawdzenia"


def test_success_notification_lists_first_numbers():
    n = NotifyPolicy("all", max_listed=3).for_summary(summary(sent(1, 2, 3, 4, 5)))
    assert n.title == "Wysłano 5 dokumentów do BaseLinker"
    assert n.body == "FS 1/2026, FS 2/2026, FS 3/2026 i jeszcze 2"
    assert not n.error


def test_failure_notification_has_numbers_and_reasons():
    s = summary(sent(1), failed((7, "Brak PDF"), (8, "Zamówienie 1008 nie istnieje"), (9, "x"), (10, "y")))
    n = NotifyPolicy("all", max_listed=2).for_summary(s)
    assert n.error
    assert n.title == "4 dokumenty nie zostały wysłane"
    assert n.body.splitlines() == [
        "Wysłano 1 dokument do BaseLinker.",
        "FS 7/2026: Brak PDF",
        "FS 8/2026: Zamówienie 1008 nie istnieje",
        "… i jeszcze 2",
    ]


def test_in_doubt_and_aborted():
    s = summary(in_doubt=[doubtful(3, "Nie wiadomo, czy faktura powstała")])
    n = NotifyPolicy().for_summary(s)
    assert n.title == "1 dokument wymaga sprawdzenia" and "FS 3/2026" in n.body
    n = NotifyPolicy().for_summary(summary(aborted="Błędny token BaseLinker"))
    assert n.title == "Wysyłanie przerwane" and n.body == "Błędny token BaseLinker"


def test_quiet_timer_run_is_silent_but_manual_run_gets_an_answer():
    p = NotifyPolicy("all")
    assert p.for_summary(summary(), trigger="auto") is None
    n = p.for_summary(summary(), trigger="manual")
    assert n.title == "Brak dokumentów do wysłania"


def test_modes():
    ok, bad = summary(sent(1)), summary(failed_=failed((2, "Brak PDF")))
    assert NotifyPolicy("errors").for_summary(ok) is None
    assert NotifyPolicy("errors").for_summary(bad).title == "1 dokument nie został wysłany"
    assert NotifyPolicy("none").for_summary(bad) is None
    assert NotifyPolicy("none").for_run_error("x") is None
    assert NotifyPolicy("none").for_coalesced() is None
    assert NotifyPolicy("all").for_coalesced().title == "Trwa wysyłanie"
    with pytest.raises(ValueError):
        NotifyPolicy("sometimes")


def test_unchanged_failure_repeated_every_interval_is_suppressed():
    p = NotifyPolicy("all")
    bad = lambda: summary(failed_=failed((2, "Brak PDF")))  # noqa: E731
    assert p.for_summary(bad()) is not None
    assert p.for_summary(bad()) is None
    assert p.for_summary(bad()) is None
    # the user asks explicitly: answered even though unchanged
    assert p.for_summary(bad(), trigger="manual") is not None
    # a different reason is news
    assert p.for_summary(summary(failed_=failed((2, "Brak zamówienia")))) is not None
    # something sent alongside the same failure is news too
    n = p.for_summary(summary(sent(5), failed((2, "Brak zamówienia"))))
    assert n is not None and "Wysłano 1 dokument" in n.body
    # problem goes away, then comes back: told again
    assert p.for_summary(summary()) is None
    assert p.for_summary(summary(failed_=failed((2, "Brak zamówienia")))) is not None


def test_run_error_suppression_and_titles():
    p = NotifyPolicy("errors")
    n = p.for_run_error("Brak połączenia z bazą", kind="aborted")
    assert n.title == "Nie udało się wysłać dokumentów" and n.body == "Brak połączenia z bazą" and n.error
    assert p.for_run_error("Brak połączenia z bazą", kind="aborted") is None
    assert p.for_run_error("Brak połączenia z bazą", kind="aborted", trigger="manual") is not None
    assert p.for_run_error("Zła ścieżka", kind="config").title == "Błąd ustawień"
    assert p.for_run_error("x", kind="cancelled") is None


def test_describe_summary_for_tooltip():
    assert describe_summary(None) == "brak"
    assert describe_summary(summary(sent(1, 2), failed((3, "x")), aborted="y")) == "wysłano 2, błędy 1, przerwano"


def test_real_run_summary_shape():
    """run.py's RunSummary holds DocumentResult(ref, outcome) with the reason in the outcome."""
    from agent.export.protocol import Outcome
    from agent.export.run import DocumentResult, RunSummary

    s = RunSummary(run_id="r", trigger="auto", dry_run=False, started_at=0.0, results=[
        DocumentResult(ref(1), Outcome("sent", bl_doc_id=9)),
        DocumentResult(ref(2), Outcome("failed", "Brak PDF dokumentu")),
        DocumentResult(ref(3), Outcome("deferred", "wiersz zablokowany")),
    ])
    n = NotifyPolicy().for_summary(s)
    assert n.title == "1 dokument nie został wysłany"
    assert n.body.splitlines() == ["Wysłano 1 dokument do BaseLinker.", "FS 2/2026: Brak PDF dokumentu"]
    dry = RunSummary(run_id="r", trigger="manual", dry_run=True, started_at=0.0,
                     results=[DocumentResult(ref(1), Outcome("would_send"))])
    assert NotifyPolicy().for_summary(dry, trigger="manual") is None
