"""The list of companies in the settings file: turn a single-company file into a list, add,
duplicate, rename and remove a company — and move its keyring secrets along.

Every edit works like :func:`agent.settings.update_settings`: re-read the file, change it with
tomlkit (the user's comments and layout stay), validate the result with
:func:`agent.settings.parse_settings` and only then write it atomically (a temporary file and
``os.replace``). A name is checked with the file's own rules (``COMPANY_NAME``, unique after
:func:`agent.settings.company_env_suffix`) before anything is touched; the messages are Polish,
for the dialog.

Decisions (issue 14):

- :func:`to_companies` moves ``[baselinker]`` / ``[raks]`` (with ``[raks.queries]``) into one
  ``[[company]]``; ``[sync]`` / ``[log]`` stay shared. The unsuffixed secrets stay where they
  are: they are the fallback of every company, so the converted company keeps working.
- :func:`add_company` with ``copy_from`` duplicates the other company's settings but no secret:
  a duplicate is usually a second BaseLinker account, and silently sending its documents with
  the first shop's token would put them in the wrong shop. Its token field starts empty (the
  shared token, if any, is the fallback — the dialog says so).
- :func:`rename_company` moves the company's own keyring secrets: the new name is stored first,
  the file written, and only then the old name deleted (a failure in between loses nothing).
  Environment variables cannot be moved by a program: the result names the ones to rename.
- :func:`remove_company` refuses to remove the last company: a list of one company is a valid
  file, and an empty list would be no settings at all. It deletes the company's own secrets
  (the dialog asks first). The journal keeps its entries (history stays readable).

The journal needs nothing here: entries of a company no longer in the settings are adopted by
the company now using the same database (:mod:`agent.export.dbkey`).
"""

from __future__ import annotations

import copy
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent import secrets as agent_secrets
from agent.errors import ConfigError
from agent.settings import (
    COMPANY_NAME,
    DEFAULT_SETTINGS_TEXT,
    Settings,
    company_env_suffix,
    company_table,
    parse_settings,
    read_document,
    write_document,
)

log = logging.getLogger(__name__)

SECRET_NAMES = (agent_secrets.BASELINKER_TOKEN, agent_secrets.RAKS_PASSWORD)


@dataclass(frozen=True)
class CompanyEdit:
    """The result of an edit: the new settings, and what the user should still know (Polish)."""

    settings: Settings
    notes: tuple[str, ...] = field(default_factory=tuple)


# -- names ------------------------------------------------------------------------------------


def check_name(name: str, existing: tuple[str, ...] | list[str] = (), *, renaming: str = "") -> str:
    """``name`` stripped, or a ConfigError (key ``company.name``) saying in Polish what is wrong.

    ``existing`` are the file's company names; ``renaming`` is the company being renamed (it may
    keep its own name in another letter case).
    """
    name = (name or "").strip()
    if not name:
        raise ConfigError("Podaj nazwę firmy.", "company.name")
    if not COMPANY_NAME.fullmatch(name):
        raise ConfigError(
            f"Nazwa firmy „{name}” jest niepoprawna: dozwolone są litery bez polskich znaków, cyfry, „-” i „_” "
            "(najwyżej 40 znaków, bez spacji), np. sklep-a.", "company.name")
    suffix = company_env_suffix(name)
    for other in existing:
        if renaming and other.casefold() == renaming.casefold():
            continue
        if company_env_suffix(other) == suffix:
            if other == name:
                raise ConfigError(f"Firma „{name}” już jest na liście. Nadaj inną nazwę.", "company.name")
            raise ConfigError(
                f"Nazwa „{name}” jest zbyt podobna do firmy „{other}”: wielkość liter, „-” i „_” się nie liczą (tak "
                "nazywają się zmienne środowiskowe firm). Nadaj inną nazwę.", "company.name")
    return name


# -- reading and writing the document ---------------------------------------------------------


def _names(doc: Any) -> list[str]:
    return [item.get("name") for item in doc.get("company") or () if isinstance(item.get("name"), str)]


def _need_list(doc: Any, path: Path) -> None:
    if "company" not in doc:
        raise ConfigError(
            f"Plik ustawień {path} opisuje jedną firmę (bez listy [[company]]). Najpierw zamień go na listę firm "
            "(Ustawienia → „Dodaj firmę…”).", "company")


def _template_tables() -> tuple[Any, Any]:
    """Fresh ``[baselinker]`` / ``[raks]`` tables of the template, with its comments."""
    import tomlkit

    template = tomlkit.parse(DEFAULT_SETTINGS_TEXT)
    return template["baselinker"], template["raks"]


def _company(name: str, baselinker: Any = None, raks: Any = None) -> Any:
    import tomlkit

    table = tomlkit.table()
    table["name"] = name
    if baselinker is not None:
        table["baselinker"] = baselinker
    if raks is not None:
        table["raks"] = raks
    return table


# -- the edits --------------------------------------------------------------------------------


def to_companies(path: Path | str, name: str) -> CompanyEdit:
    """Turn today's single-company file into a list of one company called ``name``.

    ``[baselinker]`` and ``[raks]`` (incl. ``[raks.queries]``) move into ``[[company]]`` at the
    place the first of them was; ``[sync]``, ``[log]`` and every comment stay.
    """
    import tomlkit

    path = Path(path)
    name = check_name(name)
    doc = read_document(path, missing_ok=True)
    if "company" in doc:
        raise ConfigError(f"Plik ustawień {path} ma już listę firm [[company]].", "company")
    aot = tomlkit.aot()
    aot.append(_company(name, doc.get("baselinker"), doc.get("raks")))
    new = tomlkit.document()
    placed = False
    for key, item in doc.body:
        if key is None:
            new.add(item)  # comments and blank lines, where they were
        elif key.key in ("baselinker", "raks"):
            if not placed:
                new.append("company", aot)
                placed = True
        else:
            new.append(key, item)
    if not placed:
        new.append("company", aot)
    settings = write_document(path, new)
    log.info("settings %s: the single company is now the company %s", path, name)
    notes = []
    if any(shared_secret_present(s) for s in SECRET_NAMES):
        notes.append(f"Wspólny token / hasło (bez nazwy firmy) nadal działają dla firmy {name}.")
    return CompanyEdit(settings, tuple(notes))


def add_company(path: Path | str, name: str, copy_from: str | None = None) -> CompanyEdit:
    """Add company ``name`` at the end of the list: the template's defaults, or (``copy_from``) a
    copy of another company's settings — never its secrets (see the module's docstring)."""
    path = Path(path)
    doc = read_document(path)
    _need_list(doc, path)
    name = check_name(name, _names(doc))
    if copy_from:
        source = company_table(doc, copy_from)
        table = copy.deepcopy(source)
        table["name"] = name
    else:
        table = _company(name, *_template_tables())
    doc["company"].append(table)
    settings = write_document(path, doc)
    log.info("settings %s: company %s added%s", path, name, f" (a copy of {copy_from})" if copy_from else "")
    notes = []
    if copy_from:
        notes.append(f"Skopiowano ustawienia firmy {copy_from} bez tokenu i hasła: wpisz token API BaseLinker "
                     f"firmy {name}.")
    return CompanyEdit(settings, tuple(notes))


def rename_company(path: Path | str, old: str, new: str, *, secrets: Any = agent_secrets) -> CompanyEdit:
    """Rename company ``old`` to ``new`` in the file and move its own keyring secrets."""
    path = Path(path)
    doc = read_document(path)
    _need_list(doc, path)
    table = company_table(doc, old)
    old = table["name"]
    new = check_name(new, _names(doc), renaming=old)
    if new == old:
        return CompanyEdit(parse_settings(_dumps(doc), path))
    # 1. the secrets under the new name (nothing deleted yet)
    moved: list[tuple[str, str]] = []
    for secret in SECRET_NAMES:
        value = agent_secrets.keyring_secret(secret, old)
        if value:
            try:
                secrets.set_secret(secret, value, new)
            except Exception:
                for done, _ in moved:
                    _forget(secrets, done, new)
                raise
            moved.append((secret, value))
    # 2. the file
    table["name"] = new
    try:
        settings = write_document(path, doc)
    except BaseException:
        for secret, _ in moved:
            _forget(secrets, secret, new)
        raise
    # 3. only now the old names (a keyring that ignores letter case may have one entry for both)
    for secret, value in moved:
        _forget(secrets, secret, old)
        if old.casefold() == new.casefold() and agent_secrets.keyring_secret(secret, new) != value:
            secrets.set_secret(secret, value, new)
    log.info("settings %s: company %s renamed to %s (%d secret(s) moved)", path, old, new, len(moved))
    notes = []
    for secret in SECRET_NAMES:
        if os.environ.get(agent_secrets.env_var(secret, old)):
            notes.append(f"Zmienna środowiskowa {agent_secrets.env_var(secret, old)} nadal ma starą nazwę: zmień ją "
                         f"na {agent_secrets.env_var(secret, new)}.")
    return CompanyEdit(settings, tuple(notes))


def remove_company(path: Path | str, name: str, *, delete_secrets: bool = True,
                   secrets: Any = agent_secrets) -> CompanyEdit:
    """Remove company ``name`` from the list (never the last one) and its own keyring secrets."""
    path = Path(path)
    doc = read_document(path)
    _need_list(doc, path)
    table = company_table(doc, name)
    name = table["name"]
    items = doc["company"]
    if len(items) <= 1:
        raise ConfigError(
            f"Nie można usunąć firmy {name}: to jedyna firma w ustawieniach. Dodaj najpierw inną albo zmień "
            "ustawienia tej.", "company", name)
    index = next(i for i, item in enumerate(items) if item is table or item.get("name") == name)
    del items[index]
    settings = write_document(path, doc)
    if delete_secrets:
        for secret in SECRET_NAMES:
            _forget(secrets, secret, name)
    log.info("settings %s: company %s removed", path, name)
    notes = []
    for secret in SECRET_NAMES:
        if os.environ.get(agent_secrets.env_var(secret, name)):
            notes.append(f"Zmienna środowiskowa {agent_secrets.env_var(secret, name)} nie jest już potrzebna.")
    return CompanyEdit(settings, tuple(notes))


# -- secrets ----------------------------------------------------------------------------------


def own_secret(name: str, company: str) -> tuple[str, str]:
    """``(value, where)`` of the company's OWN secret (``where``: "env", "keyring" or ""), not
    the shared fallback — the dialog shows this one in the company's field."""
    env = os.environ.get(agent_secrets.env_var(name, company))
    if env:
        return env, "env"
    value = agent_secrets.keyring_secret(name, company)
    return (value, "keyring") if value else ("", "")


def shared_secret_present(name: str) -> bool:
    """Whether the unsuffixed secret (every company's fallback) is set."""
    return bool(os.environ.get(agent_secrets.env_var(name)) or agent_secrets.keyring_secret(name, ""))


def _forget(secrets: Any, name: str, company: str) -> None:
    try:
        secrets.delete_secret(name, company)
    except Exception as exc:  # the keyring went away: an orphan secret is harmless, a crash is not
        log.warning("could not delete the secret %s of %s: %s", name, company, type(exc).__name__)


def _dumps(doc: Any) -> str:
    import tomlkit

    return tomlkit.dumps(doc)
