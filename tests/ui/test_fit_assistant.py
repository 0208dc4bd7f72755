"""Ustawienia → RaksSQL → "Dopasuj do bazy…" under Xvfb, on a real Firebird database whose
Status, PDF and order id live elsewhere than the default profile expects.

The assistant must pre-select what the proposal chose, preview the pending documents as the
agent would read them (and show the consequence of another choice), refuse to save an
ambiguous Status until the user picks one, write the profile, and hand it to the dialog.
"""

from __future__ import annotations

import pytest

from agent import secrets
from agent.settings import load_settings
from tests.support.export_env import TOKEN
from tests.support.layouts import LAYOUTS, SENT, TO_SEND, LayoutDb
from tests.ui.test_settings_dialog import file_keyring, pump, screenshot  # noqa: F401 (fixture)
from ui.settings import open_settings_dialog
from ui.settings import presenter as p

pytestmark = [pytest.mark.ui]


@pytest.fixture
def layout_db(company_db, private_tmp):
    pdf_dir = private_tmp / "Wydruki"
    pdf_dir.mkdir()
    return LayoutDb(company_db, LAYOUTS["status_column_path_column"], pdf_dir)


def wait(root, fit, until, what):
    try:
        return pump(root, until, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the assistant says: {fit.status.cget('text')!r}") from None


def combo_text(fit, what):
    return fit.combos[what].get()


def pick(fit, what, label_part):
    combo = fit.combos[what]
    index = next(i for i, label in enumerate(combo.cget("values")) if label_part in label)
    combo.current(index)
    combo.event_generate("<<ComboboxSelected>>")


def test_fit_assistant_proposes_previews_and_saves(root, layout_db, private_tmp, file_keyring):  # noqa: F811
    from agent.settings import write_default_settings

    db = layout_db
    config = private_tmp / "raksbl.toml"
    write_default_settings(config, **{"raks.database": db.dsn, "raks.user": db.user,
                                      "baselinker.invoice_series_id": 15, "baselinker.receipt_series_id": 16})
    secrets.set_secret(secrets.BASELINKER_TOKEN, TOKEN)
    secrets.set_secret(secrets.RAKS_PASSWORD, db.password)
    db.add_doc("FS", "FS 1/11/2026/MAG", order_id=10000001)
    db.add_doc("FS", "FS 2/11/2026/MAG", order_id=10000002, pdf=None)
    db.add_doc("PA", "PA 3/11/2026", order_id=None)
    db.conn.execute_immediate("ALTER TABLE GM_FS ADD STATUS_KSIEGOWY INTEGER")
    db.conn.commit()
    db._exec("UPDATE GM_FS SET STATUS_KSIEGOWY = IIF(MOD(ID, 2) = 0, 10, 30)")
    db.conn.commit()

    window = open_settings_dialog(root, config, baselinker_lookup=lambda *a, **k: p.lookups.BaseLinkerCatalog())
    window.select_tab("RaksSQL")
    window.buttons["fit"].invoke()
    fit = pump(root, lambda: getattr(window, "fit_window", None), what="the assistant window")
    wait(root, fit, lambda: "Dwie kolumny" in fit.status.cget("text"), "the proposal")

    # Two plausible Status columns: pre-selected as proposed, but saving waits for the user's pick.
    assert "GM_FS.SCIEZKA_WYDRUKU" in combo_text(fit, "pdf")
    assert "GM_FS.NR_ZAMOWIENIA_BL" in combo_text(fit, "order")
    assert "GM_FS.STATUS_KSIEGOWY" in fit.status.cget("text") and "GM_FS.STAN_BL" in fit.status.cget("text")
    screenshot(fit, "fit-assistant-ambiguous")
    fit.buttons["save"].invoke()
    root.update()
    assert fit.exists() and "Najpierw wybierz" in fit.status.cget("text")
    assert "pending_documents =" not in config.read_text(encoding="utf-8")  # nothing written

    pick(fit, "status", "GM_FS.STAN_BL")
    wait(root, fit, lambda: "Podgląd gotowy" in fit.status.cget("text"), "the preview after the Status pick")
    rows = {r[0]: r for r in fit.preview_rows()}
    assert set(rows) == {"FS 1/11/2026/MAG", "FS 2/11/2026/MAG", "PA 3/11/2026"}
    assert rows["FS 1/11/2026/MAG"][1] == "10000001" and rows["FS 1/11/2026/MAG"][2].endswith(" B")
    assert "brak pliku" in rows["FS 2/11/2026/MAG"][2]
    assert rows["PA 3/11/2026"][1].startswith("brak")
    assert "z problemem: 2" in fit.status.cget("text")

    # Another order id source: the preview shows its consequence (SYGNATURA holds "WZ n/2026").
    pick(fit, "order", "GM_FS.SYGNATURA")
    wait(root, fit, lambda: fit.preview_rows() and fit.preview_rows()[0][1] != "10000001", "the new preview")
    assert all(r[1].startswith("brak — w „WZ ") for r in fit.preview_rows()), fit.preview_rows()
    pick(fit, "order", "GM_FS.NR_ZAMOWIENIA_BL")
    wait(root, fit, lambda: fit.preview_rows() and fit.preview_rows()[0][1] == "10000001", "the preview again")
    screenshot(fit, "fit-assistant")

    fit.buttons["save"].invoke()
    root.update()
    assert not fit.exists()
    s = load_settings(config)
    assert s.raks.statuses_to_send == (TO_SEND,) and s.raks.status_after_send == SENT
    assert "f.STAN_BL = ?" in s.raks.queries["pending_documents"]
    assert "PDF_PATH" in s.raks.queries["document_pdf"]
    assert "Ustawienia → Dopasuj do bazy" in config.read_text(encoding="utf-8")
    # The settings dialog shows the new profile and keeps it when saved itself.
    values = window.get_values()
    assert values["raks.statuses_to_send"] == [TO_SEND]
    assert "STAN_BL" in values[p.QUERIES]["set_status"]
    pump(root, lambda: "Do wysłania do BL" in "".join(l for _, l in window.fields["raks.statuses_to_send"].choices),
         what="the new status dictionary")
    window.buttons["save"].invoke()
    root.update()
    assert "f.STAN_BL = ?" in load_settings(config).raks.queries["pending_documents"]


def test_fit_assistant_finds_printouts_in_a_folder(root, company_db, private_tmp, file_keyring):  # noqa: F811
    from agent.settings import write_default_settings

    pdf_dir = private_tmp / "Wydruki"
    pdf_dir.mkdir()
    db = LayoutDb(company_db, LAYOUTS["status_column_folder"], pdf_dir)
    config = private_tmp / "raksbl.toml"
    write_default_settings(config, **{"raks.database": db.dsn, "raks.user": db.user})
    secrets.set_secret(secrets.RAKS_PASSWORD, db.password)
    db.add_doc("FS", "FS 1/11/2026/MAG", order_id=10000001)
    db.add_doc("FS", "FS 2/11/2026/MAG", order_id=10000002, pdf=b"%PDF-1.4 half")

    window = open_settings_dialog(root, config, baselinker_lookup=lambda *a, **k: p.lookups.BaseLinkerCatalog())
    window.buttons["fit"].invoke()
    fit = pump(root, lambda: getattr(window, "fit_window", None), what="the assistant window")
    wait(root, fit, lambda: fit.preview_rows(), "the first preview")
    assert "nie znaleziono" in combo_text(fit, "pdf")  # no PDF in the database, no folder yet
    assert "(nie znaleziono)" == combo_text(fit, "pdf") and all(r[2] == "brak PDF" for r in fit.preview_rows())

    fit.folder.set(str(pdf_dir))
    fit.buttons["folder"].invoke()
    wait(root, fit, lambda: "folder" in combo_text(fit, "pdf") and "Podgląd gotowy" in fit.status.cget("text"),
         "the folder proposal")
    rows = {r[0]: r for r in fit.preview_rows()}
    assert rows["FS 1/11/2026/MAG"][2].endswith(" B")
    assert "niekompletny" in rows["FS 2/11/2026/MAG"][2]
    fit.buttons["save"].invoke()
    root.update()
    s = load_settings(config)
    assert (s.raks.pdf_source, s.raks.pdf_folder, s.raks.pdf_file_pattern) == ("folder", str(pdf_dir), "{number}.pdf")
    window.buttons["cancel"].invoke()
