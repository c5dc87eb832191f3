"""The reference fixture in tests/fixtures/reference/ states the same facts as shared/reference/ where that exists."""

from __future__ import annotations

import json


def test_the_fixture_keys_are_the_documented_checkpoint_keys(shared_reference, reference_fixture):
    shared = json.loads((shared_reference / "pcnn_reference_keys.json").read_text())
    ours = json.loads((reference_fixture / "state_dict_keys.json").read_text())["keys"]
    assert len(ours) == shared["n_keys"] == 1440
    assert ours == [[r["key"], r["shape"], r["dtype"], r["alias_of"]] for r in shared["keys"]]


def test_the_fixture_expected_outputs_are_the_documented_ones(shared_reference, reference_fixture):
    shared = json.loads((shared_reference / "expected_outputs.json").read_text())
    ours = json.loads((reference_fixture / "expected_outputs.json").read_text())
    assert (ours["out"], ours["heads"], ours["tolerance"]) == (shared["out"], shared["heads"], shared["tolerance"])
