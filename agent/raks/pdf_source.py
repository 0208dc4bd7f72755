"""Printouts kept as files: a folder named after the document, or a path column in RaksSQL.

RaksSQL installations keep the generated PDF in one of four places; two of them are files:

* ``[raks] pdf_source = "folder"``: the file lives in ``pdf_folder`` under a name built from
  ``pdf_file_pattern`` (placeholders ``{number}``, ``{type}``, ``{id}``, ``{year}``,
  ``{month}``; ``/`` in the pattern makes subfolders). Inside ``{number}`` every character
  Windows forbids in a file name (``\\ / : * ? " < > |``) becomes ``_``, so
  ``FS 12/11/2026/MAG`` → ``FS 12_11_2026_MAG.pdf``.
* a profile statement returns ``PDF_PATH`` (a column holding the printout's path); a relative
  path is taken relative to ``pdf_folder``.

Reading a file is stricter than reading a blob, because a file can be caught half-written by
the program that prints it: :func:`read_pdf_file` raises :class:`PdfNotReady` (the document is
deferred to the next run) when the file is locked by another program, changed while being read,
or lacks the PDF end marker; :class:`PdfFileProblem` (the document fails, and is tried again on
the next run) when the file is missing or is not a PDF.
"""

from __future__ import annotations

import datetime as _dt
import os
import string
from pathlib import Path, PureWindowsPath

from agent.errors import RaksblError

PLACEHOLDERS = ("number", "type", "id", "year", "month")
DEFAULT_PATTERN = "{number}.pdf"
_FORBIDDEN = set('\\/:*?"<>|')
# A PDF ends with "%%EOF" (possibly followed by a newline or a little padding).
_EOF_MARK = b"%%EOF"
_EOF_WINDOW = 2048


class PdfFileProblem(RaksblError):
    """The printout file is missing or is not a PDF: this document fails, the run goes on."""


class PdfNotReady(RaksblError):
    """The printout file is still being written (or is locked): try again on the next run."""


def safe_file_part(text: str) -> str:
    """``text`` usable inside a Windows file name: forbidden and control characters become ``_``.

    Trailing dots and spaces go too (Windows drops them silently, so the name would differ).
    """
    out = "".join("_" if (ch in _FORBIDDEN or ord(ch) < 32) else ch for ch in text.strip())
    return out.rstrip(". ") or "_"


def validate_pattern(pattern: str) -> str | None:
    """A Polish description of what is wrong with ``pdf_file_pattern``, or None when it is fine."""
    if not pattern.strip():
        return "podaj wzór nazwy pliku, np. {number}.pdf."
    try:
        fields = [f for _, f, spec, conv in string.Formatter().parse(pattern) if f is not None]
    except ValueError as exc:
        return f"niepoprawny wzór ({exc}); nawiasy klamrowe tylko wokół nazw pól."
    unknown = [f for f in fields if f not in PLACEHOLDERS]
    if unknown:
        allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        return f"nieznane pole {{{unknown[0]}}}; dozwolone: {allowed}."
    if "number" not in fields and "id" not in fields:
        return "wzór musi zawierać {number} albo {id}, inaczej wszystkie dokumenty miałyby jeden plik."
    if PureWindowsPath(pattern).is_absolute() or pattern.startswith(("/", "\\")):
        return "wzór to nazwa względem folderu pdf_folder, nie pełna ścieżka."
    return None


def pdf_file_name(pattern: str, *, number: str, doc_type: str, raks_id: int, issue_date: _dt.date) -> str:
    """The file name (possibly with subfolders) of a document's printout."""
    return pattern.format(
        number=safe_file_part(number),
        type=safe_file_part(doc_type),
        id=raks_id,
        year=f"{issue_date.year:04d}",
        month=f"{issue_date.month:02d}",
    )


def resolve(folder: str, name: str) -> Path:
    """``name`` (a pattern result or a path column's value) as a path; relative → under ``folder``.

    Both separators are accepted: RaksSQL on Windows stores ``C:\\Wydruki\\FS 1.pdf``.
    """
    name = name.strip()
    if os.sep == "/" and "\\" in name and not PureWindowsPath(name).drive:
        name = name.replace("\\", "/")
    path = Path(name)
    if not path.is_absolute() and folder:
        path = Path(folder) / path
    return path


def file_state(path: Path) -> int | None:
    """The file's size in bytes, None when there is no such file."""
    try:
        st = path.stat()
    except OSError:
        return None
    if not os.path.isfile(path):
        return None
    return st.st_size


def read_pdf_file(path: Path) -> bytes:
    """The printout's bytes; PdfFileProblem / PdfNotReady (see the module docstring)."""
    try:
        before = path.stat()
        with open(path, "rb") as f:
            data = f.read()
        after = path.stat()
    except FileNotFoundError:
        raise PdfFileProblem(f"brak pliku PDF {path} — zapisz wydruk dokumentu w tym miejscu") from None
    except IsADirectoryError:
        raise PdfFileProblem(f"{path} jest folderem, a nie plikiem PDF") from None
    except PermissionError:
        # On Windows a program still writing the file holds it without sharing.
        raise PdfNotReady(
            f"plik PDF {path} jest otwarty w innym programie (jeszcze zapisywany?) — ponowię przy następnym "
            "uruchomieniu"
        ) from None
    except OSError as exc:
        raise PdfFileProblem(f"nie można odczytać pliku PDF {path}: {exc.strerror or exc}") from None
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or len(data) != after.st_size:
        raise PdfNotReady(f"plik PDF {path} zmienia się w trakcie odczytu (jeszcze zapisywany) — ponowię później")
    if not data:
        raise PdfFileProblem(f"plik PDF {path} jest pusty (0 bajtów) — zapisz wydruk ponownie")
    if not data.startswith(b"%PDF-"):
        raise PdfFileProblem(f"plik {path} nie jest plikiem PDF — zapisz wydruk dokumentu ponownie")
    if _EOF_MARK not in data[-_EOF_WINDOW:]:
        raise PdfNotReady(
            f"plik PDF {path} jest niekompletny (jeszcze zapisywany?) — ponowię przy następnym uruchomieniu"
        )
    return data
