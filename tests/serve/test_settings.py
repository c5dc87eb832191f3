"""ServeSettings: checked limits, and the round trip through the environment that --workers relies on."""

from __future__ import annotations

import pytest

from pcnn_fer.serve.settings import SETTINGS_VARIABLE, ServeSettings


def test_settings_round_trip_through_the_environment(monkeypatch):
    settings = ServeSettings(model="runs/x", flip_tta=True, token="t", cors_origins=("http://a",), queue_size=3)
    monkeypatch.setenv(SETTINGS_VARIABLE, settings.to_environment())
    assert ServeSettings.from_environment() == settings
    monkeypatch.delenv(SETTINGS_VARIABLE)
    assert ServeSettings.from_environment() == ServeSettings()


@pytest.mark.parametrize("limits", [{"queue_size": 0}, {"max_upload_bytes": 0}, {"timeout_s": 0},
                                    {"batch_window_ms": -1}])
def test_impossible_limits_are_refused(limits):
    with pytest.raises(ValueError):
        ServeSettings(**limits)


def test_the_token_stays_out_of_the_repr():
    assert "s3cret" not in repr(ServeSettings(token="s3cret"))
