"""Settings the account resolves: invoice series 0 and the number's extra field (issue 9, items 4-5).

addInvoice documents ``series_id`` as required, and the sandbox refuses it without one; the
number goes only into a text extra field. Real agent processes against the sandbox over HTTP.
"""

from __future__ import annotations

from tests.support.export_env import CUSTOM_FIELD, INVOICE_SERIES


def test_invoice_series_zero_means_the_accounts_first_invoice_series(export_env):
    env = export_env
    env.configure(baselinker__invoice_series_id=0)
    raks_id, order_id = env.add_doc("FS")
    result = env.cli("send")
    assert result.returncode == 0, result.stdout + result.stderr
    first_line = result.stdout.splitlines()[0]
    assert "Seria faktur: Faktury (id 15)" in first_line and "invoice_series_id = 0" in first_line
    invoices = env.invoices(order_id)
    assert len(invoices) == 1 and invoices[0]["series_id"] == INVOICE_SERIES
    doctor = env.cli("doctor")
    assert "invoice_series_id = 0 → pierwsza seria faktur konta: Faktury (id 15)" in doctor.stdout, doctor.stdout


def test_invoice_series_zero_without_any_invoice_series_is_a_settings_error(export_env):
    env = export_env
    env.configure(baselinker__invoice_series_id=0)
    with env.state.lock:
        env.state.series.pop(INVOICE_SERIES)
    raks_id, order_id = env.add_doc("FS")
    result = env.cli("send")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Błąd ustawień: baselinker.invoice_series_id = 0" in result.stderr
    assert "addInvoice" not in [c.method for c in env.state.calls]
    assert env.status("FS", raks_id) == 2
    doctor = env.cli("doctor")
    assert doctor.returncode == 2 and "nie ma żadnej serii faktur" in doctor.stdout


def test_number_field_must_be_a_text_field(export_env):
    env = export_env
    env.state.add_extra_field(136, "Typ klienta", "select", options=["B2B", "B2C"])
    env.configure(baselinker__number_field="custom:136")
    raks_id, order_id = env.add_doc("FS")
    result = env.cli("send")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "baselinker.number_field = custom:136" in result.stderr and "typu select" in result.stderr
    assert env.state.write_calls() == [] and env.status("FS", raks_id) == 2
    doctor = env.cli("doctor")
    assert doctor.returncode == 2
    assert "baselinker.number_field = custom:136: pole jest typu select" in doctor.stdout, doctor.stdout


def test_number_goes_into_the_text_field(export_env):
    env = export_env
    env.configure(baselinker__number_field=f"custom:{CUSTOM_FIELD}")
    raks_id, order_id = env.add_doc("FS", "FS 5/12/2026")
    result = env.cli("send")
    assert result.returncode == 0, result.stdout + result.stderr
    assert env.state.get_order(order_id)["custom_extra_fields"] == {str(CUSTOM_FIELD): "FS 5/12/2026"}


def test_account_block_ends_the_run_after_one_short_wait(export_env, monkeypatch):
    from agent.baselinker import client as client_module
    from agent.sandbox import Fault

    env = export_env
    monkeypatch.setattr(client_module, "ACCOUNT_BLOCK_WAIT_SECONDS", 0.2)
    raks_id, order_id = env.add_doc("FS")
    block = Fault(method="*", kind="account_block", seconds=2 * 86400, times=0)
    env.state.add_fault(block)
    summary = env.run()
    assert summary.aborted and "konto BaseLinker jest zablokowane" in summary.aborted
    assert block.hits == 2  # the first answer and the one retry, no further waiting
    assert env.invoices(order_id) == [] and env.status("FS", raks_id) == 2


def test_correction_series_zero_follows_the_invoice_rule(export_env):
    from tests.support.export_env import CORRECTION_SERIES

    env = export_env
    env.configure(raks__document_types=["FS", "KS"], baselinker__correction_series_id=0)
    with env.state.lock:  # a second CORRECTION series after the first: 0 means the first
        env.state.add_series(41, "CORRECTION", "Korekty B", "KB/%N/%Y")
    fs_id, order_id = env.add_doc("FS")
    env.add_correction(fs_id, "KOR 9/12/2026")
    result = env.cli("send")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Seria korekt: Korekty (id 40)" in result.stdout and "correction_series_id = 0" in result.stdout
    [correction] = env.corrections(order_id)
    assert correction["series_id"] == CORRECTION_SERIES
    doctor = env.cli("doctor")
    assert "correction_series_id = 0 → pierwsza seria korekt konta: Korekty (id 40)" in doctor.stdout, doctor.stdout


def test_correction_series_zero_without_any_correction_series_is_a_settings_error(export_env):
    from tests.support.export_env import CORRECTION_SERIES

    env = export_env
    env.configure(raks__document_types=["FS", "KS"], baselinker__correction_series_id=0)
    with env.state.lock:
        env.state.series.pop(CORRECTION_SERIES)
    fs_id, order_id = env.add_doc("FS")
    ks_id = env.add_correction(fs_id, "KOR 10/12/2026")
    result = env.cli("send")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Błąd ustawień: baselinker.correction_series_id = 0" in result.stderr
    assert env.state.write_calls() == [] and env.status("KS", ks_id) == 2
    doctor = env.cli("doctor")
    assert doctor.returncode == 2 and "nie ma żadnej serii korekt" in doctor.stdout
