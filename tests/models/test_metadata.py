"""ModelMetadata: one typed record for what config.json says about a model, written and read the same way."""

from __future__ import annotations

import pytest

from pcnn_fer.models.metadata import ModelMetadata


def test_a_round_trip_keeps_known_and_unknown_entries_and_drops_unset_ones():
    data = {"dataset": "ferplus", "metrics": {"test": {"accuracy": 0.85}}, "calibration": {"temperature": 1.5},
            "framing": {"grey": True}, "name": "pcnn_mbv2_ferplus", "input": {"size": 112}}
    metadata = ModelMetadata.from_dict(data)
    assert metadata.dataset == "ferplus" and metadata.temperature == 1.5
    assert metadata.extra == {"name": "pcnn_mbv2_ferplus", "input": {"size": 112}}
    assert metadata.to_dict() == data
    assert ModelMetadata().to_dict() == {} and ModelMetadata().temperature == 1.0


def test_the_earlier_selection_spelling_is_read_as_the_record():
    metadata = ModelMetadata.from_dict({"selection": "val", "selection_metric": "macro_f1"})
    assert metadata.selection == {"rule": "val", "metric": "macro_f1"} and metadata.extra == {}


@pytest.mark.parametrize("data, message", [
    ({"dataset": 3}, "'dataset' must be a string"),
    ({"epoch": "5"}, "'epoch' must be an integer"),
    ({"epoch": True}, "'epoch' must be an integer"),
    ({"framing": []}, "'framing' must be a JSON object"),
    ({"calibration": {"fitted_on": "val"}}, "calibration.temperature must be a positive number, got None"),
    ({"calibration": {"temperature": -1.0}}, "calibration.temperature must be a positive number"),
    ({"metrics": {"test": 0.8}}, "metrics.test must be an object of figures"),
])
def test_a_wrongly_shaped_entry_is_refused_in_one_line_naming_it(data, message):
    with pytest.raises(ValueError, match=message):
        ModelMetadata.from_dict(data)

