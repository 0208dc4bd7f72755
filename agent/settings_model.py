"""The settings form's model: what the "Ustawienia" dialog edits, how its text becomes typed
settings (the validation table), and how a change is written back to the file.

No GUI here (Solaar's split): the presenter in ``ui/settings/presenter.py`` only shows what this
module computes, and every rule is tested without a window. Fields are named by their settings
key (``sync.interval_seconds``) so a :class:`ConfigError` from :mod:`agent.settings` names the
field; a few form fields have no key of their own: the keyring secrets (named like the ``key``
of the ConfigError :func:`agent.secrets.get_secret` raises), ``raks.server`` + ``raks.path``
(together ``raks.database``) and ``raks.queries`` (the SQL editor).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any, Callable, Iterable

from agent import secrets as agent_secrets
from agent.errors import ConfigError
from agent.raks.profile import DEFAULT_QUERIES, SPECS, Profile
from agent.settings import DOCUMENT_TYPES, RaksSettings, Settings

TOKEN = "secret:" + agent_secrets.BASELINKER_TOKEN
PASSWORD = "secret:" + agent_secrets.RAKS_PASSWORD
SERVER = "raks.server"
DB_PATH = "raks.path"
QUERIES = "raks.queries"


class FieldError(ValueError):
    """A form value that cannot become a setting; the message is Polish, for next to the field."""


def _whole_number(value: Any) -> int:
    text = str(value if value is not None else "").strip()
    try:
        return int(text)
    except ValueError:
        raise FieldError("Podaj liczbę całkowitą." if text else "Pole nie może być puste.") from None


def _optional_date(value: Any) -> dt.date | None:
    text = str(value or "").strip()
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        raise FieldError("Podaj datę w formacie RRRR-MM-DD (np. 2026-01-31) albo zostaw puste.") from None


def _text(value: Any) -> str:
    return str(value or "").strip()


def _chosen_id(value: Any) -> int:
    """A dropdown's id (0: BaseLinker's default series / no status — valid, as the template says)."""
    return int(value or 0)


def _chosen_ids(value: Any) -> list[int]:
    return [int(v) for v in value or []]


def _document_types(value: Any) -> list[str]:
    return [t for t in DOCUMENT_TYPES if t in (value or [])]


def _flag(value: Any) -> bool:
    return bool(value)


# The validation table: every settings key the dialog edits, and how its form value becomes the
# typed setting (or a FieldError). ``raks.database`` is built from two fields (see form_to_settings).
# Everything else in the file is left exactly as it is; the file's own rules (ranges, known
# names) run in :func:`agent.settings.update_settings` before it writes.
FIELDS: dict[str, Callable[[Any], Any]] = {
    "baselinker.api_url": _text,
    "baselinker.requests_per_minute": _whole_number,
    "baselinker.timeout_seconds": _whole_number,
    "baselinker.invoice_series_id": _chosen_id,
    "baselinker.receipt_series_id": _chosen_id,
    "baselinker.correction_series_id": _chosen_id,
    "baselinker.number_field": _text,
    "baselinker.order_status_on_success": _chosen_id,
    "baselinker.order_status_on_error": _chosen_id,
    "raks.database": None,  # type: ignore[dict-item]  # SERVER + DB_PATH
    "raks.user": _text,
    "raks.charset": _text,
    "raks.client_library": _text,
    "raks.statuses_to_send": _chosen_ids,
    "raks.status_after_send": _chosen_id,
    "raks.status_on_error": _chosen_id,
    "raks.document_types": _document_types,
    "raks.not_before": _optional_date,
    "sync.auto": _flag,
    "sync.interval_seconds": _whole_number,
    "sync.max_documents_per_run": _whole_number,
    "sync.notifications": _text,
    "log.level": _text,
}
MANAGED_KEYS: tuple[str, ...] = tuple(FIELDS)
INT_FIELDS = tuple(k for k, parse in FIELDS.items() if parse is _whole_number)


def normalize_sql(sql: str) -> str:
    """SQL as :class:`Profile` uses it (no surrounding blanks, no trailing ';')."""
    return (sql or "").strip().rstrip(";").strip()


def split_database(database: str) -> tuple[str, str]:
    """``"host/3050:C:/x.fdb"`` → ``("host/3050", "C:/x.fdb")``; a bare path has no server."""
    from agent.raks.connection import parse_database

    raw = (database or "").strip()
    try:
        location = parse_database(raw)
    except Exception:
        return "", raw
    if location.host is None:
        return "", raw
    return raw[: len(raw) - len(location.path) - 1], location.path


def join_database(server: str, path: str) -> str:
    server, path = (server or "").strip(), (path or "").strip()
    return f"{server}:{path}" if server and path else path


def settings_to_form(settings: Settings) -> dict[str, Any]:
    """The form's field values showing ``settings`` (secrets not included)."""
    bl, raks, sync = settings.baselinker, settings.raks, settings.sync
    server, path = split_database(raks.database)
    queries = {name: DEFAULT_QUERIES[name] for name in SPECS}
    queries.update({name: sql for name, sql in raks.queries.items() if name in SPECS})
    return {
        "baselinker.api_url": bl.api_url,
        "baselinker.requests_per_minute": str(bl.requests_per_minute),
        "baselinker.timeout_seconds": str(bl.timeout_seconds),
        "baselinker.invoice_series_id": bl.invoice_series_id,
        "baselinker.receipt_series_id": bl.receipt_series_id,
        "baselinker.correction_series_id": bl.correction_series_id,
        "baselinker.number_field": bl.number_field,
        "baselinker.order_status_on_success": bl.order_status_on_success,
        "baselinker.order_status_on_error": bl.order_status_on_error,
        SERVER: server,
        DB_PATH: path,
        "raks.user": raks.user,
        "raks.charset": raks.charset,
        "raks.client_library": raks.client_library,
        "raks.statuses_to_send": list(raks.statuses_to_send),
        "raks.status_after_send": raks.status_after_send,
        "raks.status_on_error": raks.status_on_error,
        "raks.document_types": list(raks.document_types),
        "raks.not_before": raks.not_before.isoformat() if raks.not_before else "",
        "sync.auto": sync.auto,
        "sync.interval_seconds": str(sync.interval_seconds),
        "sync.max_documents_per_run": str(sync.max_documents_per_run),
        "sync.notifications": sync.notifications,
        QUERIES: queries,
        "log.level": settings.log.level.upper(),
    }


def query_overrides(values: dict[str, Any]) -> tuple[dict[str, str], str | None]:
    """Statements that differ from the defaults, and the first problem with them (or None)."""
    overrides = {}
    for name, sql in (values.get(QUERIES) or {}).items():
        if name in SPECS and normalize_sql(sql) != normalize_sql(DEFAULT_QUERIES[name]):
            overrides[name] = sql
    try:
        Profile.from_overrides(overrides)
    except ConfigError as exc:
        return overrides, str(exc)
    return overrides, None


def form_to_settings(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Typed settings values from the form, and Polish messages per field for what is wrong.

    Only what :mod:`agent.settings` cannot see is checked here (text that is not a number or a
    date, the token); the rest is the file's own validation, run by
    :func:`agent.settings.update_settings` before it writes.
    """
    errors: dict[str, str] = {}
    typed: dict[str, Any] = {}
    for key, parse in FIELDS.items():
        if parse is None:
            continue
        try:
            typed[key] = parse(values.get(key))
        except FieldError as exc:
            errors[key] = str(exc)
    typed["raks.database"] = join_database(values.get(SERVER, ""), values.get(DB_PATH, ""))
    if not (values.get(TOKEN) or "").strip():
        errors[TOKEN] = "Wpisz token API BaseLinker (BaseLinker → Moje konto → API)."
    overrides, error = query_overrides(values)
    typed[QUERIES] = overrides
    if error:
        errors[QUERIES] = error
    return typed, errors


def changes_to_write(baseline: Settings | None, current: Settings, typed: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Keys to set and query overrides to remove, relative to what the file holds (``baseline``;
    ``None`` when the file could not be read: then every managed key is written)."""

    def old(key: str) -> Any:
        section, name = key.split(".")
        value = getattr(getattr(baseline, section), name)
        return list(value) if isinstance(value, tuple) else value

    changes = {k: typed[k] for k in MANAGED_KEYS if baseline is None or old(k) != typed[k]}
    old_queries = dict((baseline or current).raks.queries)
    for name, sql in typed[QUERIES].items():
        if baseline is None or normalize_sql(old_queries.get(name, "")) != normalize_sql(sql):
            changes[f"{QUERIES}.{name}"] = sql
    removals = [f"{QUERIES}.{name}" for name in old_queries if name not in typed[QUERIES]]
    return changes, removals


def lenient_settings(path: Path) -> Settings:
    """Best-effort settings from a file that does not validate: every readable key of the right
    type is kept, the rest are defaults (so the dialog can show the file and let the user fix it).
    A list of companies stays a list: each ``[[company]]`` with a usable name, read the same way."""
    import tomllib

    from agent.settings import COMPANY_NAME, CompanySettings

    defaults = Settings(path=path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except Exception:
        return defaults
    sections = {name: _lenient_section(getattr(defaults, name), data.get(name))
                for name in ("baselinker", "raks", "sync", "log")}
    companies = []
    items = data.get("company")
    for item in items if isinstance(items, list) else ():
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not COMPANY_NAME.fullmatch(name) or name in [c.name for c in companies]:
            continue
        companies.append(CompanySettings(name, _lenient_section(defaults.baselinker, item.get("baselinker")),
                                         _lenient_section(defaults.raks, item.get("raks"))))
    if companies:
        sections.update(baselinker=companies[0].baselinker, raks=companies[0].raks)
    return dataclasses.replace(defaults, companies=tuple(companies), **sections)


def _lenient_section(current: Any, table: Any) -> Any:
    """``current`` (a settings dataclass) with every readable key of ``table`` of the right type."""
    if not isinstance(table, dict):
        return current
    raks = isinstance(current, RaksSettings)
    changes = {}
    for f in dataclasses.fields(current):
        if f.name not in table:
            continue
        value, default = table[f.name], getattr(current, f.name)
        if raks and f.name == "not_before":
            try:
                changes[f.name] = dt.date.fromisoformat(value) if isinstance(value, str) and value else None
            except ValueError:
                pass
        elif raks and f.name == "queries":
            if isinstance(value, dict):
                changes[f.name] = {k: v for k, v in value.items() if isinstance(v, str)}
        elif isinstance(default, tuple):
            if isinstance(value, list):
                changes[f.name] = tuple(value)
        elif isinstance(default, bool):
            if isinstance(value, bool):
                changes[f.name] = value
        elif isinstance(value, type(default)) and not isinstance(value, bool):
            changes[f.name] = value
    return dataclasses.replace(current, **changes)


def remove_settings_keys(path: Path, keys: Iterable[str], *, company: str = "") -> Settings:
    """Delete dotted ``keys`` (query overrides) from the file, atomically, keeping comments.

    :func:`agent.settings.update_settings` can only set keys; "przywróć domyślne" must remove
    the override so later default changes apply. Validated before writing, like every write.
    With ``company``, ``raks.*`` / ``baselinker.*`` keys are that ``[[company]]``'s.
    """
    import tomlkit

    from agent.settings import _atomic_write, _table_of, parse_settings

    text = path.read_text(encoding="utf-8")
    doc = tomlkit.parse(text)
    for dotted in keys:
        *parents, last = dotted.split(".")
        table: Any = _table_of(doc, dotted, company)
        for part in parents:
            table = table.get(part) if hasattr(table, "get") else None
            if table is None:
                break
        if table is not None and last in table:
            del table[last]
    new_text = tomlkit.dumps(doc)
    settings = parse_settings(new_text, path)
    _atomic_write(path, new_text)
    return settings
