"""Which database a journal entry belongs to: the database itself, not how the setting spells it.

``127.0.0.1:C:/RAKS/F00001.fdb``, ``localhost/3050:c:\\raks\\F00001.fdb`` and an alias all name
one database; keying the journal on the raw ``raks.database`` string would forget a skipped or
in-doubt document the moment the user rewrote the setting, and the next run would send it.

The key is what the server reports: the file it opened (``MON$DATABASE_NAME``, fully resolved)
and the moment the database was created (``MON$CREATION_DATE``: a different database restored
or recreated at the same path is a different database). Entries written by older versions
under the raw setting string are moved to the new key the first time it is known.

Note: a restore from a backup (gbak) gives the database a new creation time, so its journal
entries (skips, in-doubt marks) no longer apply; the protocol's own checks (BaseLinker's
external number, the RaksSQL status) still prevent a second invoice.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

def database_key(settings, repo, journal) -> str:
    """The key for ``repo``'s database; falls back to the setting string if the server won't say."""
    raw = settings.raks.database
    identity = getattr(repo, "identity", None)
    key = None
    if identity is not None:
        try:
            key = identity()
        except Exception as exc:  # noqa: BLE001 - an old server / no rights: keep the old behaviour
            log.warning("could not read the database identity (%s); the journal uses the setting text", exc)
    if not key:
        return raw
    moved = journal.adopt_database_key(raw, key)
    if moved:
        log.info("journal: %d entr(ies) moved from the setting text to the database identity %s", moved, key)
    return key
