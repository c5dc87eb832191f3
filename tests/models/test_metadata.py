"""ModelMetadata: one typed record for what config.json says about a model, written and read the same way."""

from __future__ import annotations

import numpy as np
import pytest

from pcnn_fer.models.metadata import ModelMetadata


def test_a_round_trip_keeps_known_and_unknown_entries_and_drops_unset_ones():
    data = {"dataset": "ferplus", "metrics": {"test": {"accuracy": 0.85}}, "calibration": {"temperature": 1.5},
            "framing": {"template": {"points": [[0.3, 0.4], [0.7, 0.4]]}, "grey": True, "working_size": 48},
            "name": "pcnn_mbv2_ferplus", "input": {"size": 112}}
    metadata = ModelMetadata.from_dict(data)
    assert metadata.dataset == "ferplus" and metadata.temperature == 1.5 and metadata.framing.working_size == 48
    assert metadata.extra == {"name": "pcnn_mbv2_ferplus", "input": {"size": 112}}
    assert metadata.to_dict() == data
    assert ModelMetadata().to_dict() == {} and ModelMetadata().temperature == 1.0


def test_the_earlier_selection_spelling_is_read_as_the_record():
    metadata = ModelMetadata.from_dict({"selection": "val", "selection_metric": "macro_f1"})
    assert metadata.selection.to_dict() == {"rule": "val", "metric": "macro_f1"} and metadata.extra == {}


@pytest.mark.parametrize("data, message", [
    ({"dataset": 3}, "model metadata: dataset expects str, got 3"),
    ({"epoch": "5"}, "model metadata: epoch expects int, got '5'"),
    ({"epoch": True}, "model metadata: epoch expects int, got True"),
    ({"framing": []}, "model metadata: framing expects Framing, got \\[\\]"),
    ({"framing": {"template": {}, "grey": 1}}, "model metadata: framing.grey expects bool, got 1"),
    ({"calibration": {"fitted_on": "val"}}, "model metadata: calibration.temperature is missing"),
    ({"calibration": {"temperature": -1.0}}, "model metadata: calibration.temperature is -1.0; allowed: more than 0.0"),
    ({"metrics": {"test": 0.8}}, "model metadata: metrics expects dict, got 0.8"),
])
def test_a_wrongly_shaped_entry_is_refused_in_one_line_naming_it(data, message):
    with pytest.raises(ValueError, match=message):
        ModelMetadata.from_dict(data)



def test_the_prior_correction_offset_divides_the_weighted_prior_out_of_the_calibrated_logits():
    prior = [0.5, 0.3, 0.2]
    metadata = ModelMetadata.from_dict({"calibration": {"temperature": 2.0},
                                        "prior_correction": {"weight": 0.4, "prior": prior, "fitted_on": "val"}})
    assert ModelMetadata.from_dict(metadata.to_dict()) == metadata
    logits = np.array([1.0, -0.5, 2.0])
    for weight in (None, 1.0, 0.2):
        used_weight = weight if weight is not None else 0.4
        offset = np.array(metadata.logit_offset(weight))
        np.testing.assert_allclose((logits + offset) / 2.0, logits / 2.0 - used_weight * np.log(prior))
    assert metadata.logit_offset(0.0) is None  # weight 0: the training prior, untouched
    assert ModelMetadata().logit_offset() is None and ModelMetadata().logit_offset(0.0) is None
    with pytest.raises(ValueError, match="records no training class prior"):
        ModelMetadata().logit_offset(0.5)
    with pytest.raises(ValueError, match="must be 0 or more"):
        metadata.logit_offset(-1.0)


@pytest.mark.parametrize("correction", [{"weight": 0.5, "prior": [0.5, 0.6]}, {"weight": 0.5, "prior": [1.0, 0.0]},
                                        {"weight": -0.1, "prior": [0.5, 0.5]}, {"weight": 0.5, "prior": []}])
def test_a_prior_correction_that_is_no_distribution_or_has_a_negative_weight_is_refused(correction):
    with pytest.raises(ValueError, match="prior_correction"):
        ModelMetadata.from_dict({"prior_correction": correction})
