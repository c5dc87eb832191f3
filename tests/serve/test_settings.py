"""ServeSettings: checked limits, and the round trip through the environment that --workers relies on."""

from __future__ import annotations

import pytest

from pcnn_fer.serve.settings import SETTINGS_VARIABLE, ServeSettings


def test_settings_round_trip_through_the_environment(monkeypatch):
    settings = ServeSettings(model="runs/x", flip_tta=True, token="t", cors_origins=("http://a",), queue_size=3,
                             prior_correction=0.25)
    monkeypatch.setenv(SETTINGS_VARIABLE, settings.to_environment())
    assert ServeSettings.from_environment() == settings
    monkeypatch.delenv(SETTINGS_VARIABLE)
    assert ServeSettings.from_environment() == ServeSettings()


@pytest.mark.parametrize("limits", [{"queue_size": 0}, {"max_upload_bytes": 0}, {"timeout_s": 0},
                                    {"batch_window_ms": -1}, {"prior_correction": -0.5}])
def test_impossible_limits_are_refused(limits):
    with pytest.raises(ValueError):
        ServeSettings(**limits)


def test_the_token_stays_out_of_the_repr():
    assert "s3cret" not in repr(ServeSettings(token="s3cret"))


def test_each_server_process_loads_the_recognizer_with_the_prior_correction_asked(tiny_model_dir, tmp_path):
    from pcnn_fer.models.storage import load_model
    from pcnn_fer.serve.app import load_recognizer

    prior = [0.4] + [0.1] * 6
    directory = load_model(tiny_model_dir).save_pretrained(tmp_path / "model", metadata={
        **load_model(tiny_model_dir).metadata.to_dict(), "prior_correction": {"weight": 0.5, "prior": prior}})
    for asked, used in ((None, 0.5), (0.0, 0.0), (1.0, 1.0)):
        settings = ServeSettings(model=str(directory), detector="none", backend="torch", prior_correction=asked)
        assert load_recognizer(settings).prior_correction == used
