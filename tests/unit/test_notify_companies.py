"""Notifications and tooltip of a run over several companies: one message naming each company,
per-company "same problem again", Windows balloon limits; a single-company file unchanged."""

from __future__ import annotations

import pytest

from agent.export.results import CompaniesSummary, DocumentRef, DocumentResult, Outcome, RunSummary
from agent.notify_policy import (
    BODY_MAX, TITLE_MAX, NotifyPolicy, describe_summary, fit_lines, sent_count,
)


def ref(n, kind="FS"):
    return DocumentRef(kind, n, f"{kind} {n}/2026", 1000 + n)


def sent(*ns, kind="FS"):
    return [DocumentResult(ref(n, kind), Outcome("sent", bl_doc_id=500 + n, bl_number=f"BL/{n}")) for n in ns]


def failed(*pairs):
    return [DocumentResult(ref(n), Outcome("failed", reason)) for n, reason in pairs]


def run(company, results=(), aborted=None, setup_error=None):
    return RunSummary(f"r-{company}", "auto", False, 0.0, results=list(results), aborted=aborted, company=company,
                      setup_error=setup_error)


def total(*runs, trigger="auto", dry_run=False, stopped=None):
    return CompaniesSummary(trigger=trigger, dry_run=dry_run, started_at=0.0, runs=list(runs), stopped=stopped)


@pytest.mark.parametrize("items, words", [
    (sent(1), "1 fakturę"), (sent(1, 2, 3), "3 faktury"), (sent(*range(5)), "5 faktur"),
    (sent(1, kind="PA"), "1 paragon"), (sent(1, 2, kind="PA"), "2 paragony"), (sent(*range(12), kind="PA"),
                                                                               "12 paragonów"),
    (sent(1, kind="KS"), "1 korektę"), (sent(1, 2, 3, 4, kind="KS"), "4 korekty"),
    (sent(1, 2) + sent(3, kind="PA"), "3 dokumenty"), (sent(*range(3)) + sent(9, 8, kind="KS"), "5 dokumentów"),
])
def test_sent_count_agrees_with_the_number_and_kind(items, words):
    assert sent_count(items) == words


def test_one_company_sent_names_it_in_the_title():
    n = NotifyPolicy().for_companies(total(run("sklep-a", sent(1, 2, 3)), run("sklep-b")))
    assert n.title == "sklep-a: wysłano 3 faktury"
    assert n.body == "FS 1/2026, FS 2/2026, FS 3/2026"
    assert not n.error


def test_two_companies_sent_one_line_each():
    n = NotifyPolicy().for_companies(total(run("sklep-a", sent(1, 2, 3)), run("sklep-b", sent(7, kind="PA"))))
    assert n.title == "Wysłano 4 dokumenty do BaseLinker"
    assert n.body.splitlines() == ["sklep-a: wysłano 3 faktury", "sklep-b: wysłano 1 paragon"]


def test_one_company_failing_is_named_with_its_problem_and_the_other_still_told():
    down = "brak połączenia z bazą RaksSQL (192.168.1.5:F00002.fdb)"
    s = total(run("sklep-a", sent(1, 2)), run("sklep-b", aborted=down, setup_error=RuntimeError(down)))
    n = NotifyPolicy().for_companies(s)
    assert n.error
    assert n.title == "sklep-b: Wysyłanie przerwane"
    assert n.body.splitlines() == [f"sklep-b: {down}", "sklep-a: wysłano 2 faktury"]


def test_failed_documents_of_a_company_listed_with_reasons():
    s = total(run("sklep-a", sent(1) + failed((7, "Brak PDF"), (8, "Zamówienie nie istnieje"), (9, "x"))),
              run("sklep-b", failed((4, "Brak PDF"))))
    n = NotifyPolicy().for_companies(s)
    assert n.title == "4 dokumenty nie zostały wysłane"  # two companies with problems: the total
    assert n.body.splitlines() == [
        "sklep-a: wysłano 1 fakturę; 3 dokumenty nie zostały wysłane: FS 7/2026 (Brak PDF), "
        "FS 8/2026 (Zamówienie nie istnieje) i jeszcze 1",
        "sklep-b: 1 dokument nie został wysłany: FS 4/2026 (Brak PDF)",
    ]


def test_repeated_failure_of_one_company_does_not_hide_a_new_failure_of_another():
    p = NotifyPolicy()
    b_down = lambda: run("sklep-b", aborted="brak połączenia z bazą", setup_error=RuntimeError())  # noqa: E731
    assert p.for_companies(total(run("sklep-a"), b_down())) is not None
    assert p.for_companies(total(run("sklep-a"), b_down())) is None  # the same, nothing sent: quiet
    n = p.for_companies(total(run("sklep-a", failed((3, "Brak PDF"))), b_down()))
    assert n is not None and "sklep-a: 1 dokument nie został wysłany: FS 3/2026 (Brak PDF)" in n.body
    assert p.for_companies(total(run("sklep-a", failed((3, "Brak PDF"))), b_down())) is None
    # sklep-b recovers, then fails again: told again
    assert p.for_companies(total(run("sklep-a", failed((3, "Brak PDF"))), run("sklep-b"))) is None
    assert p.for_companies(total(run("sklep-a", failed((3, "Brak PDF"))), b_down())) is not None


def test_per_company_memory_also_for_the_single_company_file():
    """The same failure in two companies is two problems: one company's success must not make
    the other's unchanged failure news (the old single memory compared the whole run)."""
    p = NotifyPolicy()
    assert p.for_companies(total(run("a", failed((1, "x"))), run("b", failed((1, "x"))))) is not None
    assert p.for_companies(total(run("a", failed((1, "x"))), run("b", failed((1, "x"))))) is None


def test_manual_run_with_nothing_anywhere_gets_an_answer_timer_run_is_quiet():
    p = NotifyPolicy()
    assert p.for_companies(total(run("sklep-a"), run("sklep-b"))) is None
    n = p.for_companies(total(run("sklep-a"), run("sklep-b"), trigger="manual"), trigger="manual")
    assert n.title == "Brak dokumentów do wysłania" and "Żadna firma" in n.body


def test_modes_and_dry_run():
    ok = total(run("a", sent(1)), run("b"))
    bad = total(run("a", sent(1)), run("b", failed((2, "Brak PDF"))))
    assert NotifyPolicy("errors").for_companies(ok) is None
    assert NotifyPolicy("errors").for_companies(bad).title == "b: 1 dokument nie został wysłany"
    assert NotifyPolicy("none").for_companies(bad) is None
    assert NotifyPolicy().for_companies(total(run("a", sent(1)), dry_run=True), trigger="manual") is None


def test_single_company_file_reads_exactly_as_before():
    s = total(RunSummary("r", "auto", False, 0.0, results=sent(1, 2) + failed((7, "Brak PDF"))))
    n = NotifyPolicy().for_companies(s)
    assert n.title == "1 dokument nie został wysłany"
    assert n.body.splitlines() == ["Wysłano 2 dokumenty do BaseLinker.", "FS 7/2026: Brak PDF"]
    n = NotifyPolicy().for_companies(total(RunSummary("r", "auto", False, 0.0, results=sent(1, 2))))
    assert n.title == "Wysłano 2 dokumenty do BaseLinker" and n.body == "FS 1/2026, FS 2/2026"
    assert describe_summary(s) == "wysłano 2, błędy 1"


def test_many_companies_with_long_names_and_reasons_fit_the_windows_balloon():
    name = "sklep-" + "x" * 34  # 40 characters, the longest name allowed
    reason = "Zamówienie nie istnieje w BaseLinker albo zostało usunięte przez obsługę sklepu " * 3
    runs = [run(f"{name[:-2]}{i:02d}", sent(1) + failed((2, reason), (3, reason), (4, reason)), aborted=reason)
            for i in range(8)]
    n = NotifyPolicy().for_companies(total(*runs))
    assert len(n.title) <= TITLE_MAX and len(n.body) <= BODY_MAX
    lines = n.body.splitlines()
    # each company's line keeps its name and at least 30 characters of what happened
    assert lines[0].startswith(f"{name[:-2]}00: wysłano 1 fakturę; 3 dok")
    assert all(len(line) >= 40 + 2 + 30 for line in lines[:-1])
    assert lines[-1] == "… i jeszcze 5 firm"
    # one company with a long name in the title still fits (the title falls back to the total)
    one = NotifyPolicy().for_companies(total(run(name, failed((2, reason))), run("b", sent(1))))
    assert len(one.title) <= TITLE_MAX and one.title == "1 dokument nie został wysłany"
    assert one.body.startswith(f"{name}: 1 dokument") and len(one.body) <= BODY_MAX
    sent_one = NotifyPolicy().for_companies(total(run(name, sent(*range(30))), run("b")))
    assert len(sent_one.title) <= TITLE_MAX and len(sent_one.body) <= BODY_MAX


def test_fit_lines_cuts_long_lines_fairly_and_counts_the_companies_left_out():
    assert fit_lines(["a", "b"], 255) == "a\nb"
    # one long error never pushes the other company out: the long line is cut, the short kept
    body = fit_lines(["b" * 400, "sklep-a: wysłano 2 faktury"], 255)
    assert body.splitlines() == ["b" * 227 + "…", "sklep-a: wysłano 2 faktury"] and len(body) == 255
    four = fit_lines(["a" * 100, "b" * 100, "c" * 100, "d" * 100], 255).splitlines()
    assert [len(line) for line in four] == [63] * 4 and all(line.endswith("…") for line in four)
    eight = fit_lines(["x" * 100] * 8, 255).splitlines()
    assert len(eight) == 8 and all(len(x) >= 30 for x in eight)  # no company name: 30 characters each
    named = fit_lines([f"sklep-{i}: " + "x" * 100 for i in range(8)], 255).splitlines()
    assert named[-1] == "… i jeszcze 3 firmy" and all(len(x) >= 9 + 30 for x in named[:-1]), named
    assert all(len(fit_lines(["x" * k] * m, 255)) <= 255 for k in (1, 50, 254, 300) for m in (1, 2, 7, 30))


def test_tooltip_names_the_companies():
    s = total(run("sklep-a", sent(1, 2, 3)), run("sklep-b", aborted="brak połączenia"), run("sklep-c"))
    assert describe_summary(s) == "sklep-a: wysłano 3; sklep-b: wysłano 0, przerwano"
    assert describe_summary(total(run("sklep-a"), run("sklep-b"))) == "wysłano 0"


def test_run_error_of_one_company_names_it_and_is_remembered_per_company():
    p = NotifyPolicy()
    n = p.for_run_error("Brak połączenia z bazą", kind="aborted", company="sklep-b")
    assert n.body == "sklep-b: Brak połączenia z bazą"
    assert p.for_run_error("Firma sklep-b: Ustawienie raks.database: brak.", kind="config",
                           company="sklep-b").body == "Firma sklep-b: Ustawienie raks.database: brak."
    assert p.for_run_error("Brak połączenia z bazą", kind="aborted", company="sklep-a") is not None


def test_a_run_for_one_company_leaves_the_memory_of_the_others_alone():
    p = NotifyPolicy()
    b_down = lambda: run("sklep-b", aborted="brak połączenia z bazą", setup_error=RuntimeError())  # noqa: E731
    assert p.for_companies(total(run("sklep-a"), b_down())) is not None
    # "Wyślij dla firmy ▸ sklep-a" (manual, sklep-a only): answered, sklep-b not forgotten
    n = p.for_companies(total(run("sklep-a"), trigger="manual"), trigger="manual")
    assert (n.title, n.body) == ("Brak dokumentów do wysłania",
                                 "sklep-a: brak nowych dokumentów do wysłania do BaseLinker.")
    assert p.for_companies(total(run("sklep-a"), b_down())) is None  # still the same problem: quiet
