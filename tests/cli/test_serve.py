"""`pcnn-fer serve`: flags become the app's settings, --workers hands them to each process, a missing extra is
named."""

from __future__ import annotations

import sys

import pytest
import uvicorn
from fastapi.testclient import TestClient

from pcnn_fer.cli.main import main
from pcnn_fer.serve import app as serve_app
from pcnn_fer.serve.settings import SETTINGS_VARIABLE, ServeSettings


@pytest.fixture
def started(monkeypatch):
    """What uvicorn.run was called with, instead of serving."""
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    return calls


def test_serve_builds_the_app_from_its_flags(started, tiny_model_dir, tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    assert main(["serve", "--model", str(tiny_model_dir), "--detector", "none", "--port", "8123",
                 "--token-file", str(token), "--max-upload-mb", "1", "--queue-size", "5", "--max-batch", "3"]) == 0
    ((app, options),) = started
    assert options == {"host": "127.0.0.1", "port": 8123}
    assert app.state.context.batcher.max_batch == 3
    with TestClient(app) as client:
        assert client.get("/v1/models").status_code == 401
        headers = {"Authorization": "Bearer s3cret"}
        assert client.get("/v1/models", headers=headers).json()["input"]["size"] == 96
        too_big = client.post("/v1/analyze", content=b"\0" * (1024 * 1024 + 1), headers=headers)
        assert too_big.status_code == 413


def test_workers_hand_the_settings_to_each_process(started, tiny_model_dir, monkeypatch):
    monkeypatch.delenv(SETTINGS_VARIABLE, raising=False)
    assert main(["serve", "--model", str(tiny_model_dir), "--detector", "none", "--workers", "2"]) == 0
    ((target, options),) = started
    assert target == "pcnn_fer.serve.app:app_from_environment" and options["factory"] and options["workers"] == 2
    settings = ServeSettings.from_environment()
    assert (settings.model, settings.detector) == (str(tiny_model_dir), "none")
    app = serve_app.app_from_environment()
    assert app.state.context.batcher.recognizer.config.input_size == 96
    app.state.context.batcher.close()
    app.state.context.jobs.close()


def test_an_empty_token_file_is_refused(started, tiny_model_dir, tmp_path, capsys):
    (tmp_path / "token").write_text("\n")
    assert main(["serve", "--model", str(tiny_model_dir), "--token-file", str(tmp_path / "token")]) == 2
    assert "token file is empty" in capsys.readouterr().err and not started


@pytest.mark.parametrize("package", ["fastapi", "uvicorn", "python_multipart", "prometheus_client"])
def test_without_the_serve_extra_the_error_names_it(monkeypatch, capsys, package):
    monkeypatch.setitem(sys.modules, package, None)
    assert main(["serve"]) == 2
    assert f"serve extra ({package} is not installed): pip install 'pcnn-fer[serve]'" in capsys.readouterr().err
