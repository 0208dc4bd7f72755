"""Settings files the unit and UI tests of several companies share (text, as a user writes it)."""

from __future__ import annotations

# Two companies on two databases, the timer on: the tray, the timer and `raksbl run` tests.
TWO_COMPANIES = """
[sync]
auto = true
interval_seconds = 60

[[company]]
name = "sklep-a"
[company.raks]
database = "/data/F00001.fdb"

[[company]]
name = "sklep-b"
[company.raks]
database = "/data/F00002.fdb"
"""


def two_companies_commented(b_database: str = "localhost:C:/RAKS/F00002.fdb") -> str:
    """Two companies with the comments a service technician leaves (the settings dialog's tests:
    saving one company must keep them and the other company's table)."""
    return f"""\
# dwie firmy, ustawione przez serwisanta
[sync]
interval_seconds = 120

[[company]]
name = "sklep-a"
[company.baselinker]
invoice_series_id = 15   # seria A
[company.raks]
database = "localhost:C:/RAKS/F00001.fdb"

[[company]]
name = "sklep-b"
[company.baselinker]
invoice_series_id = 16
[company.raks]
database = "{b_database}"
"""
