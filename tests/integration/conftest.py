import pytest

from agent.sandbox import SandboxServer
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
