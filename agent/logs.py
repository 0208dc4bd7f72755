"""Log files: one file per day in the log dir, kept ``retention_days`` days, secrets redacted.

Why one file per day (``raksbl-YYYY-MM-DD.log``) instead of renaming ``raksbl.log`` at midnight:
on Windows a file another process has open cannot be renamed, and the tray agent and a CLI
command may log at the same time. Switching to a new name never renames anything; retention
deletes dated files older than the limit (by the date in the name, so days without a running
agent count too).

Every record passes :class:`SecretFilter` on its way to every handler we install: registered
secret values (the BaseLinker token, the database password), ``RAKSBL_*`` secret variables of
the environment, and anything shaped like a token or a ``password=...`` pair become ``***``,
in the message, its arguments and the formatted traceback.

While a company's run logs (:func:`company_context`, set by ``run_export``), every record of
that thread starts with the company's name: two companies may have the same document numbers,
and their runs may interleave in one file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import sys
import threading
from pathlib import Path
from typing import Callable

LOG_PREFIX = "raksbl-"
LOG_SUFFIX = ".log"
FORMAT = "%(asctime)s %(levelname)-7s [%(threadName)s] %(name)s: %(message)s"
REDACTED = "***"
_SECRET_ENV = ("RAKSBL_BASELINKER_TOKEN", "RAKSBL_RAKS_PASSWORD")
_MIN_SECRET_LEN = 4

_secrets: set[str] = set()
_secrets_lock = threading.Lock()

# key=value / "key": "value" / header forms, for keys that name a secret.
_KEYED = re.compile(
    r"""(?ix)
    (?P<key>\b(?:x-bltoken|token|api[_-]?key|password|passwd|pwd|hasło|haslo|secret|authorization)\b
       ["']?\s*[:=]\s*(?:bearer\s+|basic\s+)?["']?)
    (?P<value>[^\s"',;&}]+)
    """
)
# A BaseLinker token looks like "1234-56789-ABCDEF...": digits-digits-long alphanumerics.
_BL_TOKEN = re.compile(r"\b\d{1,10}-\d{1,10}-[A-Za-z0-9]{16,}\b")
# Any long unbroken run of letters and digits (with at least one digit) is treated as a secret;
# 40+ so that run ids (UUIDs, 32 hex digits) stay readable.
_LONG_OPAQUE = re.compile(r"\b(?=[A-Za-z0-9]*\d)[A-Za-z0-9]{40,}\b")


def register_secret(value: str | None) -> None:
    """Never log ``value`` (call this wherever a secret is read)."""
    if value and len(value) >= _MIN_SECRET_LEN:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with every known or secret-looking value replaced by ``***``."""
    if not text:
        return text
    with _secrets_lock:
        known = set(_secrets)
    for name in _SECRET_ENV:
        value = os.environ.get(name)
        if value and len(value) >= _MIN_SECRET_LEN:
            known.add(value)
    for value in sorted(known, key=len, reverse=True):
        if value in text:
            text = text.replace(value, REDACTED)
    text = _KEYED.sub(lambda m: m.group("key") + REDACTED, text)
    text = _BL_TOKEN.sub(REDACTED, text)
    text = _LONG_OPAQUE.sub(REDACTED, text)
    return text


_context = threading.local()


@contextlib.contextmanager
def company_context(company: str):
    """Records logged by this thread inside the block start with ``company: `` ("" = no name)."""
    previous = getattr(_context, "company", "")
    _context.company = company
    try:
        yield
    finally:
        _context.company = previous


class SecretFilter(logging.Filter):
    """Rewrites each record so no handler can write a secret (message, args, traceback, stack);
    names the company of the run that logged it (:func:`company_context`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what we have, redacted
            message = f"{record.msg} {record.args}"
        company = getattr(_context, "company", "")
        if company and not getattr(record, "raksbl_company", None):  # once, whatever the handlers
            record.raksbl_company = company
            message = f"{company}: {message}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def log_file_for(day: dt.date, directory: Path | None = None) -> Path:
    from agent.paths import log_dir

    return (directory or log_dir()) / f"{LOG_PREFIX}{day.isoformat()}{LOG_SUFFIX}"


def prune_logs(directory: Path, retention_days: int, today: dt.date) -> list[Path]:
    """Delete dated log files older than ``retention_days`` (today's file counts as day 1)."""
    oldest_kept = today - dt.timedelta(days=max(1, retention_days) - 1)
    removed = []
    for path in directory.glob(f"{LOG_PREFIX}*{LOG_SUFFIX}"):
        stem = path.name[len(LOG_PREFIX): -len(LOG_SUFFIX)]
        try:
            day = dt.date.fromisoformat(stem)
        except ValueError:
            continue
        if day < oldest_kept:
            try:
                path.unlink()
                removed.append(path)
            except OSError:  # open in another process on Windows: next time
                pass
    return removed


class DailyFileHandler(logging.FileHandler):
    """Appends to ``raksbl-<today>.log``; moves to a new file when the date changes, then prunes."""

    def __init__(self, directory: Path, retention_days: int = 30, today: Callable[[], dt.date] = dt.date.today):
        self.directory = Path(directory)
        self.retention_days = retention_days
        self._today = today
        self._day = today()
        self.directory.mkdir(parents=True, exist_ok=True)
        super().__init__(log_file_for(self._day, self.directory), encoding="utf-8", delay=False)
        prune_logs(self.directory, retention_days, self._day)

    @property
    def path(self) -> Path:
        return Path(self.baseFilename)

    def emit(self, record: logging.LogRecord) -> None:
        day = self._today()
        if day != self._day:
            self.acquire()
            try:
                if day != self._day:
                    self._day = day
                    if self.stream:
                        self.stream.close()
                        self.stream = None  # type: ignore[assignment]
                    self.baseFilename = os.fspath(log_file_for(day, self.directory).absolute())
                    prune_logs(self.directory, self.retention_days, day)
            finally:
                self.release()
        super().emit(record)


_HANDLER_TAG = "_raksbl_handler"


def _ours(handler: logging.Handler, kind: str) -> bool:
    return getattr(handler, _HANDLER_TAG, None) == kind


def setup_logging(level: str = "INFO", retention_days: int = 30, console: bool = False) -> Path:
    """Configure the root logger: a daily file in :func:`agent.paths.log_dir` (+ stderr if ``console``).

    Idempotent: calling it again (e.g. after the settings changed) updates the level and
    retention of the handlers installed before instead of adding new ones. Returns today's file.
    """
    from agent.paths import log_dir

    numeric = logging.getLevelName(str(level).upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    root = logging.getLogger()
    root.setLevel(numeric)
    directory = log_dir()

    file_handler = next((h for h in root.handlers if _ours(h, "file")), None)
    if file_handler is not None and Path(file_handler.directory) != directory:  # type: ignore[attr-defined]
        root.removeHandler(file_handler)
        file_handler.close()
        file_handler = None
    if file_handler is None:
        file_handler = DailyFileHandler(directory, retention_days)
        setattr(file_handler, _HANDLER_TAG, "file")
        file_handler.setFormatter(logging.Formatter(FORMAT))
        file_handler.addFilter(SecretFilter())
        root.addHandler(file_handler)
    elif file_handler.retention_days != retention_days:  # type: ignore[attr-defined]
        file_handler.retention_days = retention_days  # type: ignore[attr-defined]
        prune_logs(directory, retention_days, dt.date.today())

    console_handler = next((h for h in root.handlers if _ours(h, "console")), None)
    if console and console_handler is None:
        console_handler = logging.StreamHandler(sys.stderr)
        setattr(console_handler, _HANDLER_TAG, "console")
        console_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
        console_handler.addFilter(SecretFilter())
        root.addHandler(console_handler)
    elif not console and console_handler is not None:
        root.removeHandler(console_handler)
        console_handler.close()

    # Libraries that are chatty at DEBUG and never useful to a shop owner.
    for noisy in ("PIL", "urllib3", "schedule"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.INFO))
    return file_handler.path  # type: ignore[attr-defined]


def current_log_file() -> Path | None:
    """Today's log file of this process, if :func:`setup_logging` ran."""
    for h in logging.getLogger().handlers:
        if _ours(h, "file"):
            return h.path  # type: ignore[attr-defined]
    return None
