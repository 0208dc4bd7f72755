"""Polish labels for what the export reports: a result of one run, a journal state.

Plain mappings, shared by the CLI (``raksbl send``, ``raksbl history``), the demo and the tray's
history window, so one word means one thing everywhere.
"""

from __future__ import annotations

RESULT_PL = {
    "sent": "wysłano",
    "would_send": "do wysłania",
    "failed": "BŁĄD",
    "in_doubt": "WYMAGA SPRAWDZENIA",
    "deferred": "odłożono",
    "skipped": "pominięto",
}
STATE_PL = {
    "pending": "oczekuje",
    "creating": "w trakcie (tworzenie)",
    "created": "w trakcie (utworzono)",
    "attached": "w trakcie (PDF dołączony)",
    "bl_done": "w trakcie (status RaksSQL)",
    "done": "wysłano",
    "failed": "błąd",
    "in_doubt": "wymaga sprawdzenia",
    "skipped": "pominięty",
}
