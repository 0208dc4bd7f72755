"""Typed settings: the TOML file the settings dialog and outside tools write.

The file is a contract (see README "Ustawienia / Settings"). Loading validates every key: an
unknown key, a wrong type or an impossible value is a :class:`ConfigError` whose ``key`` names
the setting (``raks.status_after_send``), so a typo never silently falls back to a default.

Writing (:func:`update_settings`) re-reads the file, changes only the given keys with tomlkit
(the user's comments and layout stay), writes a temporary file next to it and ``os.replace``s
it, so a crash never leaves half a file. A file that does not parse is left untouched.
Secrets never live here (see :mod:`agent.secrets`).
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import logging
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from agent.errors import ConfigError

NUMBER_FIELDS = ("none", "extra_field_1", "extra_field_2")
DOCUMENT_TYPES = ("FS", "PA", "KS")
NOTIFICATION_MODES = ("all", "errors", "none")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
MIN_INTERVAL_SECONDS = 10
PDF_SOURCES = ("database", "folder")


@dataclass(frozen=True)
class BaseLinkerSettings:
    api_url: str = "https://api.baselinker.com/connector.php"
    requests_per_minute: int = 100
    invoice_series_id: int = 0
    receipt_series_id: int = 0
    correction_series_id: int = 0  # getSeries type CORRECTION; 0 = the account's first one
    number_field: str = "none"
    order_status_on_success: int = 0
    order_status_on_error: int = 0
    timeout_seconds: int = 30
    verify_order: bool = True

    @property
    def custom_field_id(self) -> int | None:
        """The extra field id when ``number_field`` is ``custom:<id>``."""
        if self.number_field.startswith("custom:"):
            return int(self.number_field.split(":", 1)[1])
        return None


@dataclass(frozen=True)
class RaksSettings:
    database: str = "localhost:C:/RAKS/Data/F00001.fdb"
    user: str = "SYSDBA"
    charset: str = "WIN1250"
    client_library: str = ""
    statuses_to_send: tuple[int, ...] = (2,)
    status_after_send: int = 3
    status_on_error: int = 0
    document_types: tuple[str, ...] = ("FS", "PA")
    not_before: dt.date | None = None
    order_id_pattern: str = r"\d+"
    # Where the printouts are (agent/raks/pdf_source.py): "database" = the profile's statements
    # (a blob, or a PDF_PATH column); "folder" = files in pdf_folder named by pdf_file_pattern.
    pdf_source: str = "database"
    pdf_folder: str = ""
    pdf_file_pattern: str = "{number}.pdf"
    queries: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SyncSettings:
    auto: bool = False
    interval_seconds: int = 60
    max_documents_per_run: int = 0
    notifications: str = "all"


@dataclass(frozen=True)
class LogSettings:
    level: str = "INFO"
    retention_days: int = 30


# A company's name: shown in the UI, part of its secrets' names and environment variables.
COMPANY_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")


@dataclass(frozen=True)
class CompanySettings:
    """One ``[[company]]`` of a several-companies file: its BaseLinker account and RaksSQL database."""

    name: str
    baselinker: BaseLinkerSettings = field(default_factory=BaseLinkerSettings)
    raks: RaksSettings = field(default_factory=RaksSettings)
    # A setting of this company that is wrong, when the file was read for running
    # (``keep_broken_companies``): the company cannot run, the others still do.
    error: ConfigError | None = None


@dataclass(frozen=True)
class Settings:
    """The whole file, or the view of one company (:meth:`for_company`).

    A single-company file (top-level ``[baselinker]`` / ``[raks]``) has no ``companies`` and
    ``company == ""``. A several-companies file lists them in ``companies``; its top-level
    ``baselinker`` / ``raks`` are the first company's (so a reader never crashes), but anything
    that talks to BaseLinker or RaksSQL works on one company's view: :meth:`each_company`.
    """

    baselinker: BaseLinkerSettings = field(default_factory=BaseLinkerSettings)
    raks: RaksSettings = field(default_factory=RaksSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    log: LogSettings = field(default_factory=LogSettings)
    path: Path | None = None
    warnings: tuple[str, ...] = ()  # what the user should know about reading the file (encoding)
    companies: tuple[CompanySettings, ...] = ()  # [[company]] in file order; () = single-company file
    company: str = ""  # the company this view is of ("" = the whole file / the single company)

    @property
    def several(self) -> bool:
        """The file lists companies (``[[company]]``), even if only one."""
        return bool(self.companies)

    @property
    def company_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.companies)

    @property
    def company_error(self) -> ConfigError | None:
        """Why this view's company cannot run (a wrong setting of its own), or None."""
        for c in self.companies:
            if c.name == self.company:
                return c.error
        return None

    @property
    def is_view(self) -> bool:
        """Safe to talk to one BaseLinker account and one database with (see run_export)."""
        return not self.companies or bool(self.company)

    def for_company(self, name: str) -> "Settings":
        """The view of company ``name`` (ConfigError naming the known ones if there is none)."""
        if not self.companies:
            if name:
                raise ConfigError(
                    f"Nie ma firmy {name!r}: plik ustawień opisuje jedną firmę (bez listy [[company]]).", "company")
            return self
        for c in self.companies:
            if c.name.casefold() == name.casefold():
                return dataclasses.replace(self, baselinker=c.baselinker, raks=c.raks, company=c.name)
        raise ConfigError(
            f"Nie ma firmy {name!r} w ustawieniach; są: {', '.join(self.company_names)}.", "company")

    def each_company(self, name: str | None = None) -> list["Settings"]:
        """The views a run covers: every company, or only ``name`` (``--company``)."""
        if name:
            return [self.for_company(name)]
        if not self.companies:
            return [self]
        return [self.for_company(c.name) for c in self.companies]


_SECTIONS: dict[str, type] = {
    "baselinker": BaseLinkerSettings,
    "raks": RaksSettings,
    "sync": SyncSettings,
    "log": LogSettings,
}

DEFAULT_SETTINGS_TEXT = """\
# raksbl settings. Secrets (BaseLinker token, database password) are NOT kept here:
# they live in the OS keyring (service "raksbl") or the RAKSBL_BASELINKER_TOKEN /
# RAKSBL_RAKS_PASSWORD environment variables.

[baselinker]
api_url = "https://api.baselinker.com/connector.php"
requests_per_minute = 100        # budget for this agent; lower it when the token is shared
invoice_series_id = 0            # getSeries type INVOICE; 0 = the account's first INVOICE series
receipt_series_id = 0            # getSeries type RECEIPT; 0 = BaseLinker's default receipt series
correction_series_id = 0         # getSeries type CORRECTION (for KS); 0 = the account's first CORRECTION series
number_field = "none"            # none | extra_field_1 | extra_field_2 | custom:<extra_field_id>
order_status_on_success = 0      # 0 = leave the order status alone
order_status_on_error = 0
timeout_seconds = 30
verify_order = true              # refuse when the order's buyer tax id / total disagree with the document

[raks]
database = "localhost:C:/RAKS/Data/F00001.fdb"   # host[/port]:path for a server, a bare path = embedded
user = "SYSDBA"
charset = "WIN1250"
client_library = ""              # path to fbclient; empty = find it
statuses_to_send = [2]           # GM_STATUSY_DOK ids
status_after_send = 3
status_on_error = 0              # 0 = leave the status unchanged on failure
document_types = ["FS", "PA"]    # add "KS" to send corrections (as BaseLinker correcting invoices)
not_before = ""                  # "YYYY-MM-DD": ignore documents issued earlier ("" = no cut-over)
order_id_pattern = '\\d+'         # regex applied to the order reference; first match (or group 1)
pdf_source = "database"          # database | folder (printouts as files in pdf_folder)
pdf_folder = ""                  # folder of printouts (also the base of relative PDF_PATH values)
pdf_file_pattern = "{number}.pdf"  # {number} {type} {id} {year} {month}; may hold subfolders

# [raks.queries]                 # override any statement of the profile (see README)

[sync]
auto = false
interval_seconds = 60
max_documents_per_run = 0        # 0 = no cap
notifications = "all"            # all | errors | none

[log]
level = "INFO"
retention_days = 30
"""


def _type_name(tp: Any) -> str:
    return {int: "liczba całkowita", bool: "true/false", str: "tekst"}.get(tp, str(tp))


def _coerce(key: str, value: Any, default: Any) -> Any:
    """Check ``value`` against the type of ``default``; return it in the dataclass's type."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"Ustawienie {key}: oczekiwano true/false, jest {value!r}.", key)
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"Ustawienie {key}: oczekiwano liczby całkowitej, jest {value!r}.", key)
        return value
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"Ustawienie {key}: oczekiwano tekstu, jest {value!r}.", key)
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list):
            raise ConfigError(f"Ustawienie {key}: oczekiwano listy, jest {value!r}.", key)
        item_type = type(default[0]) if default else str
        for item in value:
            if isinstance(item, bool) or not isinstance(item, item_type):
                raise ConfigError(
                    f"Ustawienie {key}: każdy element musi być typu {_type_name(item_type)}, jest {item!r}.", key
                )
        return tuple(value)
    raise AssertionError(f"unhandled default type for {key}")


def _parse_date(key: str, value: Any) -> dt.date | None:
    if value in ("", None):
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(f"Ustawienie {key}: oczekiwano daty RRRR-MM-DD albo \"\", jest {value!r}.", key)


def _build_section(name: str, cls: type, table: dict[str, Any]) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"[{name}] musi być sekcją (tabelą), jest {table!r}.", name)
    defaults = cls()
    known = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        full = f"{name}.{key}"
        if key not in known:
            raise ConfigError(f"Nieznane ustawienie {full} (literówka?).", full)
        if name == "raks" and key == "not_before":
            values[key] = _parse_date(full, value)
        elif name == "raks" and key == "queries":
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise ConfigError(f"[{full}] musi zawierać teksty zapytań SQL.", full)
            values[key] = dict(value)
        else:
            values[key] = _coerce(full, value, getattr(defaults, key))
    return cls(**values)


def _validate(settings: Settings) -> None:
    if settings.companies:
        for company in settings.companies:
            if company.error is None:
                _validate_company(company.baselinker, company.raks, company.name)
    else:
        _validate_company(settings.baselinker, settings.raks, "")
    _validate_shared(settings.sync, settings.log)


def _need(company: str):
    prefix = f"Firma {company}: " if company else ""

    def need(cond: bool, key: str, message: str) -> None:
        if not cond:
            raise ConfigError(f"{prefix}Ustawienie {key}: {message}", key, company)

    return need


def _validate_company(bl: BaseLinkerSettings, raks: RaksSettings, company: str) -> None:
    need = _need(company)

    need(bl.api_url.startswith(("http://", "https://")), "baselinker.api_url", "adres musi zaczynać się od http:// lub https://.")
    need(1 <= bl.requests_per_minute <= 1000, "baselinker.requests_per_minute", "podaj liczbę od 1 do 1000.")
    need(bl.invoice_series_id >= 0, "baselinker.invoice_series_id", "nie może być ujemne.")
    need(bl.receipt_series_id >= 0, "baselinker.receipt_series_id", "nie może być ujemne.")
    need(bl.correction_series_id >= 0, "baselinker.correction_series_id", "nie może być ujemne.")
    need(
        bl.number_field in NUMBER_FIELDS or re.fullmatch(r"custom:[1-9]\d*", bl.number_field) is not None,
        "baselinker.number_field",
        "dozwolone: none, extra_field_1, extra_field_2 albo custom:<id pola>.",
    )
    need(bl.order_status_on_success >= 0, "baselinker.order_status_on_success", "nie może być ujemne.")
    need(bl.order_status_on_error >= 0, "baselinker.order_status_on_error", "nie może być ujemne.")
    need(1 <= bl.timeout_seconds <= 600, "baselinker.timeout_seconds", "podaj liczbę sekund od 1 do 600.")
    need(bool(raks.database.strip()), "raks.database", "podaj ścieżkę do bazy firmy.")
    for key, value in (("raks.database", raks.database), ("raks.client_library", raks.client_library)):
        need(
            not any(ord(ch) < 32 for ch in value),
            key,
            "zawiera znak sterujący: w pliku TOML w cudzysłowie „\\b”, „\\t”, „\\n” to znaki specjalne, "
            "nie część ścieżki. Użyj ukośników (\"C:/baza/test.fdb\") albo apostrofów ('C:\\baza\\test.fdb').",
        )
    need(bool(raks.user.strip()), "raks.user", "podaj użytkownika bazy.")
    need(bool(raks.statuses_to_send), "raks.statuses_to_send", "wybierz co najmniej jeden status.")
    need(raks.status_after_send > 0, "raks.status_after_send", "wybierz status po wysłaniu.")
    need(
        raks.status_after_send not in raks.statuses_to_send,
        "raks.status_after_send",
        "status po wysłaniu nie może być jednym ze statusów do wysłania (dokument wysyłałby się w kółko).",
    )
    need(
        raks.status_on_error == 0 or raks.status_on_error not in raks.statuses_to_send,
        "raks.status_on_error",
        "status błędu nie może być jednym ze statusów do wysłania.",
    )
    need(bool(raks.document_types), "raks.document_types", "wybierz co najmniej jeden typ dokumentu.")
    for t in raks.document_types:
        need(t in DOCUMENT_TYPES, "raks.document_types", f"nieznany typ {t!r}; dozwolone: {', '.join(DOCUMENT_TYPES)}.")
    try:
        re.compile(raks.order_id_pattern)
    except re.error as exc:
        need(False, "raks.order_id_pattern", f"niepoprawne wyrażenie ({exc}).")
    _validate_pdf_source(raks, need)


def _validate_shared(sync: SyncSettings, log_s: LogSettings) -> None:
    need = _need("")
    need(
        sync.interval_seconds >= MIN_INTERVAL_SECONDS,
        "sync.interval_seconds",
        f"najmniej {MIN_INTERVAL_SECONDS} sekund.",
    )
    need(sync.max_documents_per_run >= 0, "sync.max_documents_per_run", "nie może być ujemne (0 = bez limitu).")
    need(sync.notifications in NOTIFICATION_MODES, "sync.notifications", "dozwolone: all, errors, none.")
    need(log_s.level.upper() in LOG_LEVELS, "log.level", f"dozwolone: {', '.join(LOG_LEVELS)}.")
    need(1 <= log_s.retention_days <= 3650, "log.retention_days", "podaj liczbę dni od 1 do 3650.")


def _validate_pdf_source(raks: RaksSettings, need) -> None:
    from agent.raks.pdf_source import validate_pattern

    need(raks.pdf_source in PDF_SOURCES, "raks.pdf_source", f"dozwolone: {', '.join(PDF_SOURCES)}.")
    if raks.pdf_source == "folder":
        need(bool(raks.pdf_folder.strip()), "raks.pdf_folder", "podaj folder z wydrukami PDF (pdf_source = \"folder\").")
        problem = validate_pattern(raks.pdf_file_pattern)
        need(problem is None, "raks.pdf_file_pattern", problem or "")


def parse_settings(text: str, path: Path | None = None, *, keep_broken_companies: bool = False) -> Settings:
    """Parse and validate settings text (the whole file).

    With ``keep_broken_companies`` (what runs exports reads: the tray, ``raksbl run``, ``send``,
    ``doctor``) a wrong setting inside one ``[[company]]`` does not reject the file: that company
    carries the error (``CompanySettings.error``, ``Settings.company_error`` of its view) and
    cannot run, the others do. Everything else (a syntax error, the company list itself, [sync],
    [log], a single-company file) is an error of the whole file, as always. The settings dialog
    reads strictly: it shows the error on its field.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        advice = ""
        if "\\" in str(exc) or "escape" in str(exc).lower():
            advice = (" W ścieżkach Windows w cudzysłowie „\\” jest znakiem specjalnym: użyj ukośników "
                      "(\"C:/RAKS/Data/F00001.fdb\") albo apostrofów ('C:\\RAKS\\Data\\F00001.fdb').")
        raise ConfigError(f"Plik ustawień {path or ''} ma błąd składni: {exc}.{advice}", "file") from None
    sections: dict[str, Any] = {}
    for name, table in data.items():
        if name == "company":
            continue
        if name not in _SECTIONS:
            raise ConfigError(f"Nieznana sekcja [{name}] w pliku ustawień.", name)
        sections[name] = _build_section(name, _SECTIONS[name], table)
    companies = _build_companies(data["company"], sections) if "company" in data else ()
    companies = tuple(_checked(c, keep_broken_companies) for c in companies)
    if companies:
        sections.update(baselinker=companies[0].baselinker, raks=companies[0].raks)
    settings = Settings(path=path, companies=companies, warnings=_shared_database_warnings(companies), **sections)
    _validate(settings)
    return settings


def _shared_database_warnings(companies: tuple[CompanySettings, ...]) -> tuple[str, ...]:
    """Two companies reading the same documents of one database (a duplicated company whose
    database was never changed) would send one company's documents to the other's account."""
    warnings = []
    companies = tuple(c for c in companies if c.error is None)
    for i, a in enumerate(companies):
        for b in companies[i + 1:]:
            same_db = a.raks.database.strip().replace("\\", "/").casefold() == \
                b.raks.database.strip().replace("\\", "/").casefold()
            if same_db and a.raks.queries == b.raks.queries and set(a.raks.document_types) & set(b.raks.document_types):
                warnings.append(
                    f"Firmy {a.name} i {b.name} czytają te same dokumenty z tej samej bazy ({a.raks.database}). "
                    f"Jeśli to pomyłka (skopiowana firma), popraw raks.database firmy {b.name}; każdy dokument i tak "
                    "zostanie wysłany tylko raz — przez tę firmę, która pierwsza go weźmie.")
    return tuple(warnings)


def company_env_suffix(name: str) -> str:
    """``sklep-a`` → ``SKLEP_A``: how a company's name ends its environment variables."""
    return name.upper().replace("-", "_")


def _build_companies(items: Any, sections: dict[str, Any]) -> tuple[CompanySettings, ...]:
    """The ``[[company]]`` list: each with a unique name and today's [baselinker] / [raks] keys."""
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise ConfigError("Sekcja [[company]] musi być listą firm, każda z nazwą (name = \"sklep-a\").", "company")
    both = [f"[{name}]" for name in ("baselinker", "raks") if name in sections]
    if both:
        raise ConfigError(
            f"Plik ustawień ma jednocześnie {' i '.join(both)} oraz listę firm [[company]]. Przy kilku firmach "
            "ustawienia BaseLinker i RaksSQL należą do firm: przenieś je do [company.baselinker] / [company.raks] "
            "(albo usuń listę [[company]]).", "company")
    companies: list[CompanySettings] = []
    seen: dict[str, str] = {}
    for index, item in enumerate(items, 1):
        name = item.get("name")
        if not isinstance(name, str) or not COMPANY_NAME.fullmatch(name):
            raise ConfigError(
                f"Firma nr {index} na liście [[company]]: name musi być nazwą z liter (bez polskich znaków), cyfr, "
                f"„-” albo „_” (najwyżej 40 znaków), jest {name!r}.", "company.name")
        other = seen.get(company_env_suffix(name))
        if other is not None:
            raise ConfigError(
                f"Dwie firmy o tej samej nazwie: {other!r} i {name!r} (wielkość liter, „-” i „_” się nie liczą: "
                "tak nazywają się ich zmienne środowiskowe). Nadaj im różne nazwy.", "company.name", name)
        seen[company_env_suffix(name)] = name
        built: dict[str, Any] = {}
        try:
            for key, table in item.items():
                if key == "name":
                    continue
                if key not in ("baselinker", "raks"):
                    raise ConfigError(f"Firma {name}: nieznane ustawienie company.{key} (literówka?).",
                                      f"company.{key}", name)
                try:
                    built[key] = _build_section(key, _SECTIONS[key], table)
                except ConfigError as exc:
                    raise ConfigError(f"Firma {name}: {exc}", exc.key, name) from None
        except ConfigError as exc:
            companies.append(CompanySettings(name=name, error=exc))  # _checked decides: raise or keep
            continue
        companies.append(CompanySettings(name=name, **built))
    return tuple(companies)


def _checked(company: CompanySettings, keep_broken: bool) -> CompanySettings:
    """``company`` validated: its first wrong setting raised, or kept in ``error`` (keep_broken)."""
    try:
        if company.error is not None:
            raise company.error
        _validate_company(company.baselinker, company.raks, company.name)
        return company
    except ConfigError as exc:
        if not keep_broken:
            raise
        log.warning("%s (this company cannot run until it is fixed; the others run)", exc)
        return CompanySettings(name=company.name, error=exc)


def load_settings(path: Path | str | None = None, *, keep_broken_companies: bool = False) -> Settings:
    """Load the settings file (see :func:`agent.paths.config_path` for which one; see
    :func:`parse_settings` for ``keep_broken_companies``)."""
    from agent.paths import config_path

    p = config_path(path)
    warnings: list[str] = []
    settings = parse_settings(read_settings_text(p, warnings=warnings), p, keep_broken_companies=keep_broken_companies)
    return dataclasses.replace(settings, warnings=tuple(warnings) + settings.warnings) if warnings else settings


# -- reading the file as people's editors write it ------------------------------------------
log = logging.getLogger(__name__)

_NO_FILE = "Brak pliku ustawień {path}. Otwórz Ustawienia albo utwórz go poleceniem 'raksbl init'."


def decode_settings_bytes(data: bytes, path: Path | str | None = None) -> tuple[str, str | None]:
    """The text of a settings file and a warning (or None), whatever Windows Notepad saved.

    UTF-8 (with or without a BOM), UTF-16 with a BOM (Notepad's "Unicode"), UTF-16 LE without
    one; a file that is none of these is read as cp1250 (Notepad's "ANSI" on Polish Windows)
    with a warning. Anything still unreadable is a ConfigError naming the file.
    """
    where = f" {path}" if path else ""
    if data.startswith(codecs.BOM_UTF8):
        candidates = [("utf-8-sig", None)]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = [("utf-16", None)]
    elif len(data) >= 2 and len(data) % 2 == 0 and b"\x00" in data[1::2] and b"\x00" not in data[0::2]:
        candidates = [("utf-16-le", None)]
    else:
        candidates = [
            ("utf-8", None),
            ("cp1250", f"Plik ustawień{where} nie jest zapisany w UTF-8; odczytano go jako Windows-1250 "
                       "(ANSI). Zapisz go w UTF-8, aby uniknąć błędnych znaków."),
        ]
    for encoding, warning in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text, warning
    raise ConfigError(
        f"Nie można odczytać pliku ustawień{where}: to nie jest plik tekstowy w znanym kodowaniu. "
        "Zapisz go w Notatniku jako UTF-8 albo utwórz nowy (Ustawienia, 'raksbl init').",
        "file",
    )


def read_settings_text(path: Path, *, allow_empty: bool = False, warnings: list | None = None) -> str:
    """The settings file's text; a missing, empty, unreadable or inaccessible file is a ConfigError.

    A decoding fallback's warning is logged and appended to ``warnings`` when given.
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(_NO_FILE.format(path=path), "file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} jest folderem, a nie plikiem ustawień.", "file") from None
    except PermissionError:
        raise ConfigError(
            f"Brak dostępu do pliku ustawień {path}. Sprawdź uprawnienia pliku (Właściwości → Zabezpieczenia) "
            "albo czy nie blokuje go inny program.",
            "file",
        ) from None
    except OSError as exc:
        raise ConfigError(f"Nie można odczytać pliku ustawień {path}: {exc.strerror or exc}.", "file") from None
    text, warning = decode_settings_bytes(data, path)
    if warning:
        log.warning("%s", warning)
        if warnings is not None:
            warnings.append(warning)
    if not allow_empty and not text.strip():
        raise ConfigError(
            f"Plik ustawień {path} jest pusty. Uzupełnij go w Ustawieniach albo usuń i utwórz od nowa "
            "poleceniem 'raksbl init'.",
            "file",
        )
    return text


def _atomic_write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        why = "brak uprawnień do zapisu w folderze" if isinstance(exc, PermissionError) else (exc.strerror or str(exc))
        raise ConfigError(
            f"Nie można zapisać pliku ustawień {path}: {why} {path.parent}. Wybierz folder, do którego masz "
            "prawo zapisu (np. raksbl --config ŚCIEŻKA init), albo zmień uprawnienia folderu.",
            "file",
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_default_settings(path: Path, **changes: Any) -> None:
    """Create a settings file from the commented template (refuses to overwrite)."""
    if path.exists():
        raise ConfigError(f"Plik ustawień {path} już istnieje.", "file")
    _atomic_write(path, DEFAULT_SETTINGS_TEXT)
    if changes:
        update_settings(path, changes)


def _to_toml_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is None:
        return ""
    return value


def _plain(item: Any) -> Any:
    value = item.unwrap() if hasattr(item, "unwrap") else item
    return value.rstrip("\n") if isinstance(value, str) else value


def company_table(doc: Any, name: str) -> Any:
    """The ``[[company]]`` table named ``name`` (case-insensitive) of a tomlkit document;
    ConfigError key "company" when the file has no such company."""
    items = doc.get("company") if hasattr(doc, "get") else None
    for item in items or ():
        if isinstance(item.get("name"), str) and item["name"].casefold() == name.casefold():
            return item
    known = [str(item.get("name")) for item in items or () if isinstance(item.get("name"), str)]
    listed = f"; są: {', '.join(known)}" if known else " (plik nie ma listy firm [[company]])"
    raise ConfigError(f"Nie ma firmy {name!r} w ustawieniach{listed}.", "company", name)


def _table_of(doc: Any, dotted: str, company: str) -> Any:
    """Where key ``dotted`` lives: a company's [company.baselinker] / [company.raks] tables, or the
    top level ([sync], [log], and everything of a single-company file)."""
    if company and dotted.split(".", 1)[0] in ("baselinker", "raks"):
        return company_table(doc, company)
    return doc


def update_settings(path: Path, changes: dict[str, Any], *, keep_replaced: str = "", company: str = "") -> Settings:
    """Set ``changes`` (``{"sync.auto": True, "raks.queries.pending_documents": "..."}``) in the file.

    The result is validated before anything is written; the user's comments and other keys stay.
    A value of None removes the key. With ``keep_replaced`` (a label such as "inspect-db
    --propose 2026-12-01"), every value that changes is kept as a comment at the end of its
    table, so the user can go back. With ``company``, the ``baselinker.*`` / ``raks.*`` keys go
    into that ``[[company]]``'s tables (``[sync]`` / ``[log]`` stay shared). Returns the new settings.
    """
    import tomlkit

    path = Path(path)
    doc = read_document(path, missing_ok=True)
    replaced: dict[int, tuple[Any, list[str]]] = {}
    for dotted, value in changes.items():
        parts = dotted.split(".")
        table = _table_of(doc, dotted, company)
        for part in parts[:-1]:
            if part not in table:
                table[part] = tomlkit.table()
            table = table[part]
        old = table.get(parts[-1])
        new = _to_toml_value(value) if value is not None else None
        if keep_replaced and old is not None and _plain(old) != (new.rstrip("\n") if isinstance(new, str) else new):
            old_text = tomlkit.dumps({parts[-1]: old}).rstrip("\n")
            replaced.setdefault(id(table), (table, []))[1].extend(old_text.splitlines())
        if value is None:
            if parts[-1] in table:
                del table[parts[-1]]
        elif isinstance(new, str) and "\n" in new:
            table[parts[-1]] = tomlkit.string(new if new.endswith("\n") else new + "\n", multiline=True,
                                              literal="'''" not in new)
        else:
            table[parts[-1]] = new
    for table, old_lines in replaced.values():
        table.add(tomlkit.comment(f"{keep_replaced} — poprzednie wartości:"))
        for line in old_lines:
            table.add(tomlkit.comment("  " + line))
        table.add(tomlkit.nl())
    return write_document(path, doc)


def read_document(path: Path, *, missing_ok: bool = False) -> Any:
    """The settings file as a tomlkit document to edit (comments and layout kept); an empty file
    (or a missing one, with ``missing_ok``) starts from the template. A file that does not parse
    is a ConfigError: it is never changed."""
    import tomlkit

    text = read_settings_text(path, allow_empty=True) if (path.exists() or not missing_ok) else ""
    if not text.strip():
        text = DEFAULT_SETTINGS_TEXT
    try:
        return tomlkit.parse(text)
    except Exception as exc:
        raise ConfigError(f"Plik ustawień {path} ma błąd składni ({exc}); nie zmieniam go.", "file") from None


def write_document(path: Path, doc: Any) -> Settings:
    """Write an edited document atomically after validating it (never a file that would not
    load); returns the new settings."""
    import tomlkit

    text = tomlkit.dumps(doc)
    settings = parse_settings(text, path)
    _atomic_write(path, text)
    return settings


# -- the settings file, watched (the tray and `raksbl run` re-read it when it changes) ------


class SettingsFile:
    """A ``settings_provider`` that re-reads the settings file only when it changed on disk.

    Calling it returns the current :class:`~agent.settings.Settings` or raises
    :class:`ConfigError` (missing file, syntax error, invalid value) - the same object is
    returned while the file is unchanged, so callers can compare by identity.
    """

    def __init__(self, path: Path | str | None = None, loader: Callable[[Path], Any] | None = None, *,
                 keep_broken_companies: bool = False):
        from agent.paths import config_path

        self.path = config_path(path)
        self._loader = loader
        self._keep_broken = keep_broken_companies
        self._stamp: tuple[int, int] | None = None
        self._settings: Any | None = None
        self._error: ConfigError | None = None

    def _load(self) -> Any:
        if self._loader is not None:
            return self._loader(self.path)
        return load_settings(self.path, keep_broken_companies=self._keep_broken)

    def __call__(self) -> Any:
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp is None or stamp != self._stamp or (self._settings is None and self._error is None):
            self._stamp = stamp
            try:
                self._settings, self._error = self._load(), None
            except ConfigError as exc:
                self._settings, self._error = None, exc
        if self._error is not None:
            raise self._error
        return self._settings

    def invalidate(self) -> None:
        """Force a re-read on the next call (after this process wrote the file itself)."""
        self._stamp = None
        self._settings = None
        self._error = None
