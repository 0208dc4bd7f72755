"""`raksbl inspect-db --propose --write`, then `raksbl send`, on differently laid-out databases.

Each database keeps the Status, the PDF and the BaseLinker order id somewhere else (see
tests/support/layouts.py). The proposal must find them from the data alone, write a profile that
`doctor` accepts, and `send` must then send the good documents and fail the bad ones alone.
"""

import re

import pytest

from agent.sandbox import SandboxServer
from agent.settings import load_settings
from tests.support.export_env import TOKEN, ExportEnv, make_state
from tests.support.layouts import LAYOUTS, NEW, SENT, TO_SEND, LayoutDb


@pytest.fixture
def layout_env(request, company_db, tmp_path, monkeypatch):
    layout = LAYOUTS[request.param]
    pdf_dir = tmp_path / "Wydruki"
    pdf_dir.mkdir()
    db = LayoutDb(company_db, layout, pdf_dir)
    state = make_state()
    with SandboxServer(state).start() as server:
        env = ExportEnv(db, state, server, tmp_path)
        monkeypatch.setenv("RAKSBL_BASELINKER_TOKEN", TOKEN)
        monkeypatch.setenv("RAKSBL_RAKS_PASSWORD", db.password)
        monkeypatch.setenv("RAKSBL_DATA_DIR", str(env.data_dir))
        monkeypatch.setenv("RAKSBL_CONFIG", str(env.settings_path))
        env.layout_db = db
        try:
            yield env
        finally:
            env.close()


EXPECTED_CHOICE = {
    "status_table_blob_table": ("BL_DOKUMENTY.STATUS_BL", "WYDRUKI.DANE", "GM_FS.SYGNATURA"),
    "status_column_path_column": ("GM_FS.STAN_BL", "GM_FS.SCIEZKA_WYDRUKU", "GM_FS.NR_ZAMOWIENIA_BL"),
    "status_column_folder": ("GM_FS.STAN_BL", "folder", "GM_FS.SYGNATURA"),
    "status_column_blob_column": ("GM_FS.STAN_BL", "GM_FS.WYDRUK_PDF", "GM_FS.NR_ZAMOWIENIA_BL"),
    "status_table_order_in_notes": ("BL_DOKUMENTY.STATUS_BL", "WYDRUKI.DANE", "GM_FS.UWAGI"),
}


def _chosen(out: str, title: str) -> str:
    block = out.split(f"{title}:\n", 1)[1]
    return re.match(r"\s+wybrano: (\S+)", block).group(1)


@pytest.mark.parametrize("layout_env", list(LAYOUTS), indirect=True)
def test_propose_write_then_send(layout_env):
    env, db = layout_env, layout_env.layout_db
    good_fs_order, good_pa_order, no_pdf_order, not_pdf_order = (env.add_order() for _ in range(4))
    good_fs = db.add_doc("FS", "FS 1/11/2026/MAG", order_id=good_fs_order)
    good_pa = db.add_doc("PA", "PA 2/11/2026", order_id=good_pa_order)
    no_pdf = db.add_doc("FS", "FS 3/11/2026/MAG", order_id=no_pdf_order, pdf=None)
    not_pdf = db.add_doc("FS", "FS 4/11/2026/MAG", order_id=not_pdf_order, pdf=b"<html>to nie PDF</html>")
    no_order = db.add_doc("FS", "FS 5/11/2026/MAG", order_id=None)
    untouched_order = env.add_order()
    untouched = db.add_doc("FS", "FS 6/11/2026/MAG", status=NEW, order_id=untouched_order)
    sent_before = db.add_doc("FS", "FS 7/11/2026/MAG", status=SENT, order_id=env.add_order())

    args = ["inspect-db", "--propose", "--write"]
    if db.layout.pdf == "folder":
        args += ["--pdf-folder", str(db.pdf_dir)]
    result = env.cli(*args)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    status, pdf, order = EXPECTED_CHOICE[db.layout.name]
    assert _chosen(out, "Status dokumentu") == status
    assert _chosen(out, "PDF dokumentu") == pdf
    assert _chosen(out, "Numer zamówienia BaseLinker") == order
    # Evidence, not just a verdict: value counts, the dictionary, how many pending documents got an order id.
    assert re.search(r"STAN_BL|STATUS_BL", out) and "wszystkie wartości są w SLOWNIK_STATUSOW_BL.ID" in out
    assert "słownik: 10 „Nowy”, 20 „Do wysłania do BL”" in out
    assert "4 z 5 dokumentów do wysłania dostają numer zamówienia" in out, out
    assert re.search(r"odrzucono: GM_FS.TELEFON_PLATNIKA", out)  # nine digits, but a phone number
    if db.layout.order != "sygnatura":
        # "WZ 3/2026": short digits are no order ids
        assert re.search(r"odrzucono: GM_FS.SYGNATURA.*\n.*0 z \d+ niepustych wartości wygląda", out)
    assert "Zapisano w" in out and "połączenie: OK, serwer" in out  # then doctor ran
    assert re.search(r"20\s+Do wysłania do BL\s+4 / 1\s+← do wysłania", out)
    if db.layout.pdf == "folder":
        assert f"wydruki PDF: pliki w {db.pdf_dir} (wzór {{number}}.pdf)" in out

    written = env.settings_path.read_text(encoding="utf-8")
    assert "poprzednie wartości" in written and "#   statuses_to_send = [2]" in written
    settings = load_settings(env.settings_path)
    assert settings.raks.statuses_to_send == (TO_SEND,) and settings.raks.status_after_send == SENT
    assert settings.raks.pdf_source == ("folder" if db.layout.pdf == "folder" else "database")

    sent = env.cli("send")
    assert sent.returncode == 1, sent.stdout + sent.stderr  # some documents failed
    lines = {l.split("  ")[0]: l for l in sent.stdout.splitlines()}
    text = sent.stdout
    assert len(env.invoices(good_fs_order)) == 1 and len(env.receipts(good_pa_order)) == 1
    assert db.status(good_fs) == SENT and db.status(good_pa) == SENT
    for failed in (no_pdf, not_pdf, no_order):
        assert db.status(failed) == TO_SEND  # failed alone, retried on the next run
    assert db.status(untouched) == NEW and db.status(sent_before) == SENT
    assert env.invoices(untouched_order) == [] and env.invoices(no_pdf_order) == [] and env.invoices(not_pdf_order) == []
    assert re.search(r"FS 3/11/2026/MAG.*brak (pliku )?PDF", text)
    assert re.search(r"FS 4/11/2026/MAG.*nie jest plikiem PDF", text)
    assert re.search(r"FS 5/11/2026/MAG.*brak numeru zamówienia", text)
    assert "FS 6/11/2026" not in text and "FS 7/11/2026" not in text
    assert lines is not None

    again = env.cli("send")  # the failed ones are tried again, nothing is sent twice
    assert again.returncode == 1 and "FS 3/11/2026/MAG" in again.stdout and "FS 1/11/2026" not in again.stdout
    assert len(env.invoices(good_fs_order)) == 1


@pytest.mark.parametrize("layout_env", ["status_column_folder"], indirect=True)
def test_folder_file_written_later_is_sent_on_the_next_run(layout_env):
    env, db = layout_env, layout_env.layout_db
    order = env.add_order()
    half = db.add_doc("FS", "FS 8/11/2026/MAG", order_id=order, pdf=None)
    env.cli("inspect-db", "--propose", "--write", "--pdf-folder", str(db.pdf_dir))
    from agent.raks.schema import make_pdf

    whole = make_pdf("FS 8/11/2026/MAG")
    db.pdf_file("FS 8/11/2026/MAG").write_bytes(whole[: len(whole) // 2])  # the printer is still writing
    preview = env.cli("send", "--dry-run")
    assert preview.returncode == 1 and "niekompletny" in preview.stdout and "odłożono: 1" in preview.stdout, preview.stderr
    first = env.cli("send")
    assert "niekompletny" in first.stdout and db.status(half) == TO_SEND and env.invoices(order) == []
    db.pdf_file("FS 8/11/2026/MAG").write_bytes(whole)
    second = env.cli("send")
    assert second.returncode == 0, second.stdout
    assert len(env.invoices(order)) == 1 and db.status(half) == SENT


@pytest.mark.parametrize("layout_env", ["status_column_folder"], indirect=True)
def test_doctor_names_a_missing_printout_folder(layout_env):
    env, db = layout_env, layout_env.layout_db
    db.add_doc("FS", "FS 1/11/2026/MAG", order_id=env.add_order())
    assert env.cli("inspect-db", "--propose", "--write", "--pdf-folder", str(db.pdf_dir)).returncode == 0
    env.configure(raks__pdf_folder=str(db.pdf_dir / "nie-ma"))
    doctor = env.cli("doctor")
    assert doctor.returncode == 2 and "folder z wydrukami" in doctor.stdout and "raks.pdf_folder" in doctor.stdout


@pytest.mark.parametrize("layout_env", ["status_column_folder"], indirect=True)
def test_two_plausible_status_columns_make_the_proposal_ask(layout_env):
    env, db = layout_env, layout_env.layout_db
    db.conn.execute_immediate("ALTER TABLE GM_FS ADD STATUS_KSIEGOWY INTEGER")
    db.conn.commit()
    for i in range(4):
        raks_id = db.add_doc("FS", f"FS {i + 1}/11/2026/MAG", order_id=env.add_order())
        db._exec("UPDATE GM_FS SET STATUS_KSIEGOWY = ? WHERE ID = ?", (10 if i % 2 else 30, raks_id))
        db.conn.commit()
    before = env.settings_path.read_text(encoding="utf-8")
    result = env.cli("inspect-db", "--propose", "--write", "--pdf-folder", str(db.pdf_dir))
    assert result.returncode == 1
    assert "NIEJEDNOZNACZNE" in result.stdout and "--status" in result.stderr
    assert env.settings_path.read_text(encoding="utf-8") == before  # nothing written on a guess
    chosen = env.cli("inspect-db", "--propose", "--write", "--pdf-folder", str(db.pdf_dir), "--status", "GM_FS.STAN_BL")
    assert chosen.returncode == 0, chosen.stdout + chosen.stderr
    assert "AND f.STAN_BL = ?" in load_settings(env.settings_path).raks.queries["pending_documents"]


def test_the_default_layout_needs_no_statement(export_env):
    env = export_env
    env.add_doc("FS")
    env.add_doc("PA", pdf=None)
    result = env.cli("inspect-db", "--propose", "--write")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "wybrano: GM_FS.ID_STATUSU" in result.stdout and "wybrano: GM_PDF.PLIK" in result.stdout
    assert "[raks.queries]" not in result.stdout
    settings = env.settings()
    assert settings.raks.queries == {} and settings.raks.statuses_to_send == (2,)
    assert "czeka na wysłanie: 2 (bez PDF: 1)" in result.stdout

