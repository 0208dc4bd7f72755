"""One run's results as the lines a person reads (``raksbl send``, ``raksbl demo``).

Formatting only: the callers decide where the text goes (only the CLI prints).
"""

from __future__ import annotations

import time

from agent.export.results import RESULT_PL


def format_result_line(result) -> str:
    ref, outcome = result.ref, result.outcome
    order = f"zam. {ref.order_id}" if ref.order_id is not None else "zam. ?"
    text = RESULT_PL[outcome.result]
    if outcome.result == "sent":
        number = outcome.bl_number or (f"id {outcome.bl_doc_id}" if outcome.bl_doc_id else "")
        text += f" → BaseLinker {number}".rstrip()
        if outcome.reason:
            text += f" ({outcome.reason})"
    elif outcome.reason:
        text += f": {outcome.reason}"
    return f"{document_label(ref.doc_type, ref.number):<34} {order:<16} {text}"


def document_label(doc_type: str, number: str) -> str:
    """"FS 12/2026" — RaksSQL numbers usually start with their type already: never "FS FS 12/2026"."""
    return number if number.upper().startswith(doc_type.upper()) else f"{doc_type} {number}"


def format_summary(summary) -> str:
    parts = [
        f"{'do wysłania' if summary.dry_run else 'wysłano'}: {len(summary.sent)}",
        f"błędy: {len(summary.failed)}",
        f"wymaga sprawdzenia: {len(summary.in_doubt)}",
        f"odłożono: {len(summary.deferred)}",
        f"pominięto: {len(summary.skipped)}",
    ]
    if summary.not_attempted:
        parts.append(f"na następny raz: {summary.not_attempted}")
    took = (summary.finished_at or time.time()) - summary.started_at
    text = "Podsumowanie — " + ", ".join(parts) + f". Wywołań API: {summary.api_calls}, czas: {took:.1f} s."
    if summary.aborted:
        text += f"\nPrzerwano: {summary.aborted}"
    return text
