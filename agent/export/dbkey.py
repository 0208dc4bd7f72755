"""Which database a journal entry belongs to: the database itself, not how the setting spells it.

``127.0.0.1:C:/RAKS/F00001.fdb``, ``localhost/3050:c:\\raks\\F00001.fdb`` and an alias all name
one database; keying the journal on the raw ``raks.database`` string would forget a skipped or
in-doubt document the moment the user rewrote the setting, and the next run would send it.

The key is what the server reports: the file it opened (``MON$DATABASE_NAME``, fully resolved)
and the moment the database was created (``MON$CREATION_DATE``: a different database restored
or recreated at the same path is a different database). Entries written by older versions
under the raw setting string are moved to the new key the first time it is known.

With several companies (``[[company]]``) the key also names the company: ``[sklep-a] fb:…``
(:func:`company_key`), so two companies never share an entry, even on one database. A single
company's key has no prefix, as before. Entries whose company is no longer in the settings —
the single-company file's, or a company renamed by hand — are adopted by the company that now
uses the same database: converting a file to a list of companies keeps its journal.

Note: a restore from a backup (gbak) gives the database a new creation time, so its journal
entries (skips, in-doubt marks) no longer apply; the protocol's own checks (BaseLinker's
external number, the RaksSQL status) still prevent a second invoice.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

def company_key(company: str, key: str) -> str:
    """The journal key of ``company``'s database ``key`` (``key`` itself for the single company)."""
    return f"[{company}] {key}" if company else key


def split_key(key: str) -> tuple[str, str]:
    """``(company, database key)`` of a journal key (company "" for a single-company key)."""
    if key.startswith("[") and "] " in key:
        company, rest = key[1:].split("] ", 1)
        return company, rest
    return "", key


def database_key(settings, repo, journal) -> str:
    """The key for ``repo``'s database (of ``settings.company``); falls back to the setting
    string if the server won't say which database it is."""
    key = _database_key(settings, repo, journal)
    if not settings.company:
        return key
    own = company_key(settings.company, key)
    known = set(settings.company_names)
    for old in journal.database_keys():
        company, rest = split_key(old)
        if old != own and rest in (key, settings.raks.database) and company not in known:
            moved = journal.adopt_database_key(old, own)
            if moved:
                log.info("journal: %d entr(ies) of %s adopted by company %s", moved, company or "the single-company file",
                         settings.company)
    return own


def _database_key(settings, repo, journal) -> str:
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
