"""Printouts as files: names built from the pattern, and what counts as a ready PDF."""

import datetime as dt
import os

import pytest

from agent.errors import ConfigError
from agent.raks.pdf_source import (
    PdfFileProblem,
    PdfNotReady,
    pdf_file_name,
    read_pdf_file,
    resolve,
    safe_file_part,
    validate_pattern,
)
from agent.raks.schema import make_pdf
from agent.settings import DEFAULT_SETTINGS_TEXT, parse_settings


def test_number_loses_every_character_windows_forbids():
    assert safe_file_part('FS 12/11/2026\\MAG:a*b?c"d<e>f|g') == "FS 12_11_2026_MAG_a_b_c_d_e_f_g"
    assert safe_file_part("PA 1/2026. ") == "PA 1_2026"  # Windows would drop the trailing dot
    assert safe_file_part("Ł/ó") == "Ł_ó"  # Polish letters stay


def test_pattern_placeholders():
    name = pdf_file_name(
        "{year}/{month}/{type}_{id}_{number}.pdf", number="FS 7/01/2026", doc_type="FS", raks_id=42,
        issue_date=dt.date(2026, 1, 5),
    )
    assert name == "2026/01/FS_42_FS 7_01_2026.pdf"


@pytest.mark.parametrize(
    "pattern, problem",
    [
        ("{numer}.pdf", "nieznane pole {numer}"),
        ("{year}.pdf", "{number} albo {id}"),
        ("{number.pdf", "niepoprawny wzór"),
        ("C:\\x\\{number}.pdf", "nie pełna ścieżka"),
        ("", "podaj wzór"),
    ],
)
def test_bad_patterns_are_explained(pattern, problem):
    assert problem in validate_pattern(pattern)


def test_settings_name_the_pdf_keys():
    base = DEFAULT_SETTINGS_TEXT
    with pytest.raises(ConfigError) as exc:
        parse_settings(base.replace('pdf_source = "database"', 'pdf_source = "ftp"'))
    assert exc.value.key == "raks.pdf_source"
    with pytest.raises(ConfigError) as exc:
        parse_settings(base.replace('pdf_source = "database"', 'pdf_source = "folder"'))
    assert exc.value.key == "raks.pdf_folder"
    with pytest.raises(ConfigError) as exc:
        parse_settings(
            base.replace('pdf_source = "database"', 'pdf_source = "folder"')
            .replace('pdf_folder = ""', 'pdf_folder = "C:/Wydruki"')
            .replace('pdf_file_pattern = "{number}.pdf"', 'pdf_file_pattern = "{nr}.pdf"')
        )
    assert exc.value.key == "raks.pdf_file_pattern" and "{nr}" in str(exc.value)
    ok = parse_settings(base.replace('pdf_source = "database"', 'pdf_source = "folder"')
                        .replace('pdf_folder = ""', 'pdf_folder = "C:/Wydruki"'))
    assert ok.raks.pdf_source == "folder" and ok.raks.pdf_file_pattern == "{number}.pdf"


def test_relative_paths_live_under_the_folder_and_backslashes_work(tmp_path):
    assert resolve(str(tmp_path), "sub\\FS 1.pdf") == tmp_path / "sub" / "FS 1.pdf"
    assert resolve(str(tmp_path), str(tmp_path / "a.pdf")) == tmp_path / "a.pdf"


def test_a_complete_pdf_is_read(tmp_path):
    p = tmp_path / "FS 1.pdf"
    p.write_bytes(make_pdf("FS 1"))
    assert read_pdf_file(p) == make_pdf("FS 1")


def test_missing_empty_and_foreign_files_fail_with_the_path(tmp_path):
    with pytest.raises(PdfFileProblem, match="brak pliku PDF .*nie_ma.pdf"):
        read_pdf_file(tmp_path / "nie_ma.pdf")
    (tmp_path / "empty.pdf").write_bytes(b"")
    with pytest.raises(PdfFileProblem, match="pusty"):
        read_pdf_file(tmp_path / "empty.pdf")
    (tmp_path / "word.pdf").write_bytes(b"PK\x03\x04 a docx renamed")
    with pytest.raises(PdfFileProblem, match="nie jest plikiem PDF"):
        read_pdf_file(tmp_path / "word.pdf")


def test_a_half_written_pdf_is_not_ready(tmp_path):
    p = tmp_path / "FS 2.pdf"
    p.write_bytes(make_pdf("FS 2")[:-40])  # the writer has not reached the trailer yet
    with pytest.raises(PdfNotReady, match="niekompletny"):
        read_pdf_file(p)


def test_a_file_locked_by_its_writer_is_not_ready(tmp_path, monkeypatch):
    # Windows refuses to open a file another program holds without sharing (PermissionError).
    p = tmp_path / "FS 3.pdf"
    p.write_bytes(make_pdf("FS 3"))
    real_open = open

    def locked_open(path, *args, **kwargs):
        if os.fspath(path) == os.fspath(p):
            raise PermissionError(13, "The process cannot access the file")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", locked_open)
    with pytest.raises(PdfNotReady, match="otwarty w innym programie"):
        read_pdf_file(p)


def test_a_file_growing_while_read_is_not_ready(tmp_path, monkeypatch):
    p = tmp_path / "FS 4.pdf"
    p.write_bytes(make_pdf("FS 4"))
    real_open = open

    def growing_open(path, *args, **kwargs):
        f = real_open(path, *args, **kwargs)
        if os.fspath(path) == os.fspath(p):
            with real_open(p, "ab") as w:  # the printer appends while we read
                w.write(b"more")
        return f

    monkeypatch.setattr("builtins.open", growing_open)
    with pytest.raises(PdfNotReady, match="zmienia się"):
        read_pdf_file(p)

