"""The app factory, configuration and the flows check command."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpline import InvalidFlows, create_app
from helpline.config import database_url, from_environment

ROOT = Path(__file__).resolve().parent.parent
BROKEN = ROOT / "tests" / "flows" / "broken"


def test_the_environment_is_read_in_one_place():
    settings = from_environment({"DATABASE_URL": "postgres://u@h/db", "HELPLINE_URGENT_CALLBACK_HOURS": "3",
                                 "HELPLINE_INSECURE_SKIP_SIGNATURES": "1"})
    assert settings["URGENT_CALLBACK_HOURS"] == 3.0 and settings["INSECURE_SKIP_SIGNATURES"] is True
    assert database_url(settings["DATABASE_URL"], "/x") == "postgresql+psycopg://u@h/db"
    assert database_url("", "/srv/instance") == "sqlite:////srv/instance/helpline.db"
    assert from_environment({})["HELPLINE_NUMBER"] == "+442380248725"
    assert from_environment({})["SIMULATOR_OPEN"] is False
    assert from_environment({"HELPLINE_SIMULATOR_OPEN": "1"})["SIMULATOR_OPEN"] is True


def test_the_app_refuses_to_start_with_an_invalid_flow(tmp_path):
    shutil.copy(ROOT / "flows" / "back_pain.yaml", tmp_path / "back_pain.yaml")
    shutil.copy(BROKEN / "dangling_next.yaml", tmp_path / "dangling_next.yaml")
    with pytest.raises(InvalidFlows) as raised:
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "FLOWS_DIR": str(tmp_path)})
    assert "dangling_next.yaml" in str(raised.value)


def _flask(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flask", "--app", "helpline", *args], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=120)


def test_flows_check_passes_on_the_real_flows(tmp_path):
    import os

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    result = _flask("flows", "check", env=env)
    assert result.returncode == 0, result.stderr
    assert "ok back_pain.yaml" in result.stdout


def test_flows_check_names_file_node_and_reason_and_fails(tmp_path):
    import os

    broken = tmp_path / "broken"
    broken.mkdir()
    shutil.copy(BROKEN / "dangling_next.yaml", broken / "dangling_next.yaml")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    result = _flask("flows", "check", "--dir", str(broken), env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("dangling_next.yaml:")
    assert "problem(s) found" in result.stderr


def test_healthz_reports_a_database_that_is_down(tmp_path):
    app = create_app({"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "TESTING": True})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.get_json()["database"] == "down"


def test_the_signature_switch_for_development_warns_and_accepts_unsigned(tmp_path, caplog):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "INSECURE_SKIP_SIGNATURES": True})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
    response = app.test_client().post("/voice", data={"CallSid": "CA1", "From": "+447911123456"})
    assert response.status_code == 200
    assert any("NOT authenticated" in r.getMessage() for r in caplog.records)
    assert any("SIGNATURE CHECK DISABLED" in r.getMessage() for r in caplog.records)
