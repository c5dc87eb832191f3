"""The model route alone: classes and input convention of the loaded model."""

from __future__ import annotations

from pcnn_fer.serve.routes.models import router


def test_models_describes_the_loaded_model(alone, recognizer):
    answer = alone(router, flip_tta=True).get("/v1/models").json()
    assert answer["classes"] == list(recognizer.class_names) and answer["flip_tta_default"] is True
    assert answer["input"]["size"] == recognizer.config.input_size
    assert answer["temperature"] == recognizer.temperature
    assert answer["prior_correction"] == recognizer.prior_correction == 0.0  # its metadata records no prior
