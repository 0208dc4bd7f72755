import pytest

from agent.sandbox import SandboxServer
from tests.support.companies import TOKEN_B, CompaniesEnv, Company
from tests.support.export_env import TOKEN, ExportEnv, make_state


@pytest.fixture
def export_env(company_db, tmp_path, monkeypatch):
    """Real Firebird company database + BaseLinker sandbox over HTTP + settings, ready to export."""
    state = make_state()
    with SandboxServer(state).start() as server:
        env = ExportEnv(company_db, state, server, tmp_path)
        monkeypatch.setenv("RAKSBL_BASELINKER_TOKEN", TOKEN)
        monkeypatch.setenv("RAKSBL_RAKS_PASSWORD", company_db.password)
        monkeypatch.setenv("RAKSBL_DATA_DIR", str(env.data_dir))
        monkeypatch.setenv("RAKSBL_CONFIG", str(env.settings_path))
        try:
            yield env
        finally:
            env.close()


@pytest.fixture
def two_companies(company_db, firebird_server, tmp_path, monkeypatch):
    """Two companies, ``sklep-a`` and ``sklep-b``: two WIN1250 databases on the Firebird server
    and two BaseLinker accounts (two sandboxes over HTTP, two tokens) in one ``[[company]]``
    settings file; the environment holds each company's own token (RAKSBL_BASELINKER_TOKEN_SKLEP_A,
    …_SKLEP_B) and one shared database password (tests/support/companies.py)."""
    db_b = firebird_server.new_database()
    state_a, state_b = make_state(), make_state(token=TOKEN_B)
    try:
        with SandboxServer(state_a).start() as server_a, SandboxServer(state_b).start() as server_b:
            (tmp_path / "a").mkdir()
            (tmp_path / "b").mkdir()
            env = CompaniesEnv(tmp_path, [
                Company("sklep-a", ExportEnv(company_db, state_a, server_a, tmp_path / "a"), TOKEN),
                Company("sklep-b", ExportEnv(db_b, state_b, server_b, tmp_path / "b"), TOKEN_B),
            ])
            for name in ("RAKSBL_BASELINKER_TOKEN", "RAKSBL_RAKS_PASSWORD"):
                monkeypatch.delenv(name, raising=False)
            for name, value in env.secrets_env.items():
                monkeypatch.setenv(name, value)
            monkeypatch.setenv("RAKSBL_DATA_DIR", str(env.data_dir))
            monkeypatch.setenv("RAKSBL_CONFIG", str(env.settings_path))
            try:
                yield env
            finally:
                env.close()
    finally:
        db_b.drop()
