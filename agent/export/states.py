"""A journal entry's state, with the Polish label the CLI and the history window show.

The states are the protocol's recovery points (see protocol.py); ``State`` is a ``StrEnum``,
so it is stored in SQLite as its plain value and compares equal to that string.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    PENDING = "pending"
    CREATING = "creating"  # a create was sent; its outcome is not known yet
    CREATED = "created"
    ATTACHED = "attached"
    BL_DONE = "bl_done"
    DONE = "done"
    FAILED = "failed"
    IN_DOUBT = "in_doubt"  # a person must look before a retry
    SKIPPED = "skipped"

    @property
    def label(self) -> str:
        """What the shop owner reads for this state (history window, ``raksbl history``)."""
        return STATE_PL[self.value]

    @classmethod
    def label_of(cls, value: str) -> str:
        """The label of a stored state value; an unknown value is shown as it is."""
        return STATE_PL.get(value, value)


#: Polish labels by state value (kept as a dict for callers that look up stored strings).
STATE_PL: dict[str, str] = {
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

#: States in which the journal names a BaseLinker document this agent created or adopted.
HAS_BL_DOCUMENT = (State.CREATED, State.ATTACHED, State.BL_DONE, State.DONE)
